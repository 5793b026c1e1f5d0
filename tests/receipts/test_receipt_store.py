"""The receipt route's marks and counters (``flask_sms.receipt_store``): one contract, every backend.

Marks: a report is claimed while its handlers run, done once they all returned, released when one
raised; counters count in fixed windows of the caller's clock. On Redis both ways a claim can go:
``SET NX GET`` (Redis 7.0+) and, for older servers, ``SET NX`` then ``GET``.
"""

from __future__ import annotations

import pytest
from cachelib import SimpleCache

from flask_sms.memory import MemoryCache
from flask_sms.receipt_store import (
    BUSY,
    CLAIM_SECONDS,
    CLAIMED,
    DONE,
    CacheReceiptStore,
    ReceiptBounds,
    ReceiptStore,
    RedisReceiptStore,
)

NOW = 1_700_000_000.0


@pytest.fixture(params=["memory", "cachelib", "redis", "redis-before-7"])
def pair(request: pytest.FixtureRequest) -> tuple[ReceiptStore, ReceiptStore]:
    """Two workers' stores on one storage."""
    if request.param in ("memory", "cachelib"):
        cache = MemoryCache() if request.param == "memory" else SimpleCache(threshold=1000)
        one = CacheReceiptStore(cache)
        return one, one  # memory:// is one process: its workers are its threads
    import redis

    server = request.getfixturevalue("redis_server")
    stores = (
        RedisReceiptStore(redis.Redis(port=server.port), "r:"),
        RedisReceiptStore(redis.Redis(port=server.port), "r:"),
    )
    for store in stores:
        store.set_get = request.param == "redis"
    return stores


def test_a_claim_is_busy_for_others_until_done_then_done_for_everyone(pair):
    one, other = pair
    assert one.claim(["a", "b"], NOW) == [CLAIMED, CLAIMED]
    assert other.claim(["a", "c"], NOW + 1) == [BUSY, CLAIMED]
    one.finish(["a"], NOW + 2, NOW + 600)
    assert other.claim(["a"], NOW + 3) == [DONE] and one.claim(["a"], NOW + 3) == [DONE]


def test_a_released_claim_can_be_claimed_again(pair):
    one, other = pair
    assert one.claim(["a"], NOW) == [CLAIMED]
    one.release(["a"])
    assert other.claim(["a"], NOW + 1) == [CLAIMED]


@pytest.mark.parametrize("cache", [MemoryCache, lambda: SimpleCache(threshold=1000)], ids=["memory", "cachelib"])
def test_a_claim_lapses_by_itself_on_the_callers_clock(cache):
    store = CacheReceiptStore(cache())  # (on Redis the claim's TTL ends it: the next test)
    assert store.claim(["a"], NOW) == [CLAIMED]
    assert store.claim(["a"], NOW + CLAIM_SECONDS - 1) == [BUSY]
    assert store.claim(["a"], NOW + CLAIM_SECONDS + 1) == [CLAIMED]


def test_redis_claims_expire_after_the_claim_time(redis_server):
    import redis

    client = redis.Redis(port=redis_server.port)
    store = RedisReceiptStore(client, "r:")
    store.claim(["a"], NOW)
    assert 0 < client.ttl("r:a") <= CLAIM_SECONDS + 5
    store.finish(["a"], NOW, NOW + 3600)
    assert CLAIM_SECONDS + 5 < client.ttl("r:a") <= 3600 + 5


def test_counters_count_in_fixed_windows_and_finish_counts_too(pair):
    one, other = pair
    assert one.count([("n", 3, 60), ("m", 0, 60)], NOW) == [(3, 0), (0, 0)]
    assert other.count([("n", 2, 60)], NOW + 1) == [(5, 0)]
    start = NOW - NOW % 60
    assert one.count([("n", 1, 60)], start + 60) == [(1, 5)]  # the next window, the previous one beside it
    one.finish([], start + 60, start + 600, [("n", 4, 60)])
    assert other.count([("n", 0, 60)], start + 61) == [(5, 5)]


def test_bounds_admit_a_push_and_say_when_the_stored_bytes_reached_their_bound(pair):
    from limits import parse_many

    one, _ = pair
    bounds = ReceiptBounds(one, parse_many("2/minute"), 1000, 3600)
    first, second, third = (bounds.admit("203.0.113.9", NOW + n) for n in range(3))
    assert (first.wait, second.wait) == (0, 0) and 0 < third.wait <= 60 and not third.limited
    assert not first.full
    one.finish([], NOW, NOW + 3600, bounds.stored(1000))
    assert bounds.admit("198.51.100.1", NOW + 61).full
    assert all(bounds.wrong_token("198.51.100.7", NOW) is (n >= 10) for n in range(12))
    assert bounds.admit("198.51.100.7", NOW).limited and not bounds.admit("198.51.100.8", NOW).limited
