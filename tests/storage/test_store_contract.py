"""One contract for both code stores: the in-process one and the Lua one on a real Redis.

Like Flask-Caching's ``GenericCacheTests``: every test runs against each backend,
so the Python steps and the Lua scripts cannot drift apart.
"""

from __future__ import annotations

import pytest
from cachelib import SimpleCache

from flask_sms.codes import CODE_EXPIRED, INVALID_CODE, TOO_MANY_ATTEMPTS
from flask_sms.memory import MemoryCache
from flask_sms.storage import OK, CacheStore, CodeStore, RedisStore, Storage, keys_for, store_for

NOW = 1_700_000_000.0
KEYS = keys_for("captcha", "+8613800138000")
HOURLY = (KEYS.quota(2, 3600), 2, 3600)
DAILY = (KEYS.quota(3, 86400), 3, 86400)
INTERVAL, TTL, ATTEMPTS = 60.0, 300.0, 3


@pytest.fixture(params=["memory", "cachelib", "redis"])
def store(request: pytest.FixtureRequest) -> CodeStore:
    if request.param == "memory":  # memory://: flask_sms's own backend, with its room check
        return store_for(Storage(MemoryCache()))
    if request.param == "cachelib":  # any other cachelib backend an app passes as cache=
        return CacheStore(SimpleCache(threshold=1000))
    import redis

    server = request.getfixturevalue("redis_server")
    return RedisStore(redis.Redis(port=server.port), "contract:")


def begin(store: CodeStore, now: float = NOW, digest: str = "d1", quotas: tuple = (HOURLY, DAILY)) -> float:
    return store.begin(KEYS, list(quotas), digest, now, INTERVAL, TTL)


def check(store: CodeStore, digest: str, now: float = NOW) -> str:
    return store.check(KEYS.code, KEYS.fails, digest, now, TTL, ATTEMPTS)


# -- begin: cool-down and quotas ------------------------------------------------------------------
def test_begin_stores_the_code_and_takes_the_cooldown(store):
    assert begin(store) == 0.0
    assert begin(store, NOW + 10) == pytest.approx(INTERVAL - 10)
    assert check(store, "d1", NOW + 10) == OK


def test_cooldown_ends_exactly_after_the_interval(store):
    begin(store)
    assert begin(store, NOW + INTERVAL - 0.5) == pytest.approx(0.5)
    assert begin(store, NOW + INTERVAL, digest="d2") == 0.0


def test_a_new_code_replaces_the_old_one(store):
    begin(store, digest="old")
    begin(store, NOW + INTERVAL, digest="new")
    assert check(store, "old", NOW + INTERVAL) == INVALID_CODE
    assert check(store, "new", NOW + INTERVAL) == OK


def test_a_full_quota_refuses_until_its_window_ends(store):
    assert begin(store, NOW) == 0.0
    assert begin(store, NOW + 100) == 0.0
    wait = begin(store, NOW + 200)  # 2/hour is used up; the window began at NOW
    assert wait == pytest.approx(3600 - 200)
    assert begin(store, NOW + 3600) == 0.0  # a new hour; the daily quota still has room


def test_a_refusal_reports_the_longest_wait_not_the_first(store):
    """The attack: a refusal said 31 s (the cool-down) while the daily quota was full for 79,198 s more."""
    daily = (KEYS.quota(1, 86400), 1, 86400)
    assert begin(store, NOW, quotas=(daily,)) == 0.0  # the day's one send; its window ends at NOW + 86400
    later = NOW + 86400 - 79_198
    assert begin(store, later - 29, quotas=()) == 0.0  # a cool-down (no quota counted) ending at later + 31
    assert begin(store, later, quotas=(HOURLY, daily)) == pytest.approx(79_198)  # not the 31 s checked first
    full = (KEYS.quota(0, 3600), 0, 3600)  # a quota with no room, listed before the daily one
    assert begin(store, later, quotas=(full, daily)) == pytest.approx(79_198)


def test_a_refused_begin_changes_nothing(store):
    begin(store, NOW, digest="first")
    begin(store, NOW + 100, digest="second")
    begin(store, NOW + 200, digest="refused")  # quota full
    assert check(store, "second", NOW + 200) == OK


# -- undo -------------------------------------------------------------------------------------------
def test_undo_frees_the_cooldown_drops_the_code_and_gives_the_quota_back(store):
    begin(store, NOW)
    begin(store, NOW + 100)
    store.undo(KEYS, [HOURLY, DAILY], NOW + 101)
    assert check(store, "d1", NOW + 101) == CODE_EXPIRED  # the undone code is gone
    assert begin(store, NOW + 102) == 0.0  # no cool-down, and the hourly quota has room again
    assert begin(store, NOW + 200) > 0  # ...for exactly one send


def test_undo_of_a_send_in_an_old_window_does_not_go_negative(store):
    begin(store, NOW)
    store.undo(KEYS, [HOURLY], NOW + 3601)  # that window is over: nothing to give back
    store.undo(KEYS, [HOURLY], NOW + 3602)
    assert begin(store, NOW + 3603) == 0.0
    assert begin(store, NOW + 3603 + INTERVAL) == 0.0
    assert begin(store, NOW + 3603 + 2 * INTERVAL) > 0


def stored_keys(store: CodeStore) -> list[str]:
    if isinstance(store, RedisStore):
        return sorted(key.decode() for key in store.client.keys(store.prefix + "*"))
    if isinstance(store.cache, MemoryCache):
        return sorted(store.cache.items())
    return sorted(key for key in store.cache._cache)


def test_an_undone_send_leaves_no_keys_behind(store):
    """The attack: each send refused by the app-wide ceiling left its quota counters behind for up to a day."""
    for index in range(20):
        keys = keys_for("captcha", f"+86139{index:08d}")
        quotas = [(keys.quota(5, 3600), 5, 3600), (keys.quota(10, 86400), 10, 86400)]
        assert store.begin(keys, quotas, "d", NOW, INTERVAL, TTL) == 0.0
        store.undo(keys, quotas, NOW)
    assert stored_keys(store) == []


def test_undo_keeps_the_counts_of_delivered_sends(store):
    begin(store, NOW)
    begin(store, NOW + INTERVAL, digest="d2")
    store.undo(KEYS, [HOURLY, DAILY], NOW + INTERVAL)  # the second send was not delivered
    assert begin(store, NOW + 2 * INTERVAL) == 0.0  # the hourly quota (2) has room for one more...
    assert begin(store, NOW + 3 * INTERVAL) == pytest.approx(3600 - 3 * INTERVAL)  # ...and no more


# -- check-and-consume -----------------------------------------------------------------------------
def test_the_right_code_works_once(store):
    begin(store)
    assert check(store, "d1") == OK
    assert check(store, "d1") == CODE_EXPIRED


def test_no_code_and_an_expired_code_are_both_expired(store):
    assert check(store, "d1") == CODE_EXPIRED
    begin(store)
    assert check(store, "d1", NOW + TTL) == CODE_EXPIRED


def test_wrong_codes_lock_the_code_at_the_limit(store):
    begin(store)
    assert check(store, "x") == INVALID_CODE
    assert check(store, "x") == INVALID_CODE
    assert check(store, "x") == TOO_MANY_ATTEMPTS  # the third wrong code is the last
    assert check(store, "d1") == TOO_MANY_ATTEMPTS  # the right code is dead too


def test_the_right_code_after_wrong_ones_leaves_no_key_behind(store):
    """The attempt is counted before the compare (so a full store refuses any code alike); a right
    code drops that count with the code, in the same step."""
    begin(store, quotas=())
    assert check(store, "x") == INVALID_CODE
    assert check(store, "x") == INVALID_CODE
    assert check(store, "d1") == OK
    assert stored_keys(store) == [store_key(store, KEYS.cooldown)]


def store_key(store: CodeStore, key: str) -> str:
    return store.prefix + key if isinstance(store, RedisStore) else key


def test_a_new_code_starts_a_fresh_attempt_budget(store):
    begin(store, quotas=())
    check(store, "x")
    check(store, "x")
    assert check(store, "x") == TOO_MANY_ATTEMPTS
    assert begin(store, NOW + INTERVAL, digest="d2", quotas=()) == 0.0  # a new code, really texted...
    assert check(store, "x", NOW + INTERVAL) == INVALID_CODE  # ...gets its own budget
    assert check(store, "d2", NOW + INTERVAL) == OK  # and the right new code works


def test_a_refused_begin_keeps_the_attempt_count(store):
    begin(store, quotas=())
    check(store, "x")
    check(store, "x")
    assert begin(store, NOW + 1, digest="d2", quotas=()) > 0  # in the cool-down: no new code, no new budget
    assert check(store, "x", NOW + 1) == TOO_MANY_ATTEMPTS


def test_keys_expire_in_the_backend_too(store):
    begin(store)
    check(store, "x")
    if isinstance(store, RedisStore):
        ttls = {key: store.client.ttl(store.prefix + key) for key in (KEYS.code, KEYS.fails, KEYS.cooldown, HOURLY[0])}
        assert all(0 < ttl <= 3600 + 10 for ttl in ttls.values()), ttls
    else:
        assert store.cache.get(KEYS.code) is not None and store.cache.get(KEYS.fails) is not None


# -- single-use ids (verification tokens) -----------------------------------------------------
def test_use_once_is_true_only_the_first_time(store):
    assert store.use_once("sms:token:abc", NOW, NOW + 600) is True
    assert store.use_once("sms:token:abc", NOW + 1, NOW + 600) is False
    assert store.use_once("sms:token:abc", NOW + 599, NOW + 600) is False
    assert store.use_once("sms:token:other", NOW + 1, NOW + 600) is True


def test_use_once_keys_expire_with_the_token(store):
    store.use_once("sms:token:abc", NOW, NOW + 600)
    if isinstance(store, RedisStore):
        assert 600 <= store.client.ttl(store.prefix + "sms:token:abc") <= 610
    else:
        assert store.use_once("sms:token:abc", NOW + 600, NOW + 1200) is True  # past its token's life


def test_use_once_has_one_winner_under_concurrency(store):
    import threading

    barrier = threading.Barrier(16)
    wins = []

    def claim():
        barrier.wait()
        wins.append(store.use_once("sms:token:race", NOW, NOW + 600))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 15 + [True]


def test_use_once_many_marks_each_key_once_in_one_call(store):
    assert store.use_once_many(["r:a", "r:b", "r:a"], NOW, NOW + 600) == [True, True, False]
    assert store.use_once_many(["r:b", "r:c"], NOW + 1, NOW + 600) == [False, True]
    assert store.use_once("r:c", NOW + 2, NOW + 600) is False
    assert store.use_once_many([], NOW, NOW + 600) == []
