"""flask_sms.memory.MemoryCache on its own: the cachelib API, its parts, its sweep, built by Flask-Caching."""

from __future__ import annotations

import errno
from datetime import timedelta

import pytest
from flask import Flask
from helpers import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_sms.memory import BOUNDED, RECEIPTS, SWEEP_BATCH, SWEEP_GRAIN, MemoryCache, MemoryFull


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def cache(clock: FakeClock, capacity: int = 100, **options) -> MemoryCache:
    return MemoryCache(capacity=capacity, clock=clock, **options)


# -- the cachelib API ---------------------------------------------------------------------------------
def test_the_cachelib_api(clock):
    store = cache(clock)
    assert store.get("a") is None and not store.has("a")
    assert store.set("a", (1, "x")) is True and store.get("a") == (1, "x") and store.has("a")
    assert store.add("a", 2) is False and store.add("b", 2) is True
    assert store.get_many("a", "b", "c") == [(1, "x"), 2, None]
    assert store.set_many({"c": 3, "d": 4}, timeout=10) == ["c", "d"]
    assert store.inc("n") == 1 and store.inc("n", 5) == 6 and store.dec("n", 2) == 4
    assert store.delete("a") is True and store.delete("a") is False
    assert store.delete_many("b", "zz") == ["b", "zz"] and store.get("b") is None
    assert store.clear() is True and store.items() == {}


def test_timeouts_follow_the_clock(clock):
    store = cache(clock, default_timeout=300)
    store.set("default", 1)
    store.set("short", 1, timeout=10)
    store.set("delta", 1, timeout=timedelta(minutes=1))
    store.set("never", 1, timeout=0)
    clock.advance(10)
    assert store.get("short") is None and store.get("delta") == 1
    clock.advance(50)
    assert store.get("delta") is None and store.get("default") == 1
    clock.advance(10**7)
    assert store.items() == {"never": 1}


# -- security state: never evicted, refused when full -----------------------------------------------
def test_a_full_security_part_refuses_new_keys_and_keeps_every_live_one(clock):
    store = cache(clock, capacity=10)
    for index in range(10):
        store.set(f"sms:{{captcha:{index}}}:code", index, timeout=300)
    with pytest.raises(MemoryFull) as caught:
        store.set("sms:{captcha:new}:code", "new", timeout=300)
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    assert "memory:// is full" in str(caught.value)
    assert len(store.items()) == 10  # nothing was forgotten to make room
    store.set("sms:{captcha:3}:code", "overwritten", timeout=300)  # no new key: fine when full
    store.delete("sms:{captcha:0}:code")
    store.set("sms:{captcha:new}:code", "new", timeout=300)  # a freed key makes room


def test_expired_keys_make_room_when_the_part_is_full(clock):
    store = cache(clock, capacity=10)
    for index in range(10):
        store.set(f"k{index}", index, timeout=5 if index < 3 else 3600)
    clock.advance(5 + SWEEP_GRAIN)
    for index in range(3):
        store.set(f"new{index}", index, timeout=3600)
    with pytest.raises(MemoryFull):
        store.set("one-too-many", 1, timeout=3600)


def test_room_for_send_keeps_the_reserve(clock):
    store = cache(clock, capacity=10, send_reserve=3)
    for index in range(5):
        store.set(f"k{index}", index, timeout=3600)
    store.room_for_send(["k0", "a", "b"])  # 5 + 2 new + 3 spare = 10
    with pytest.raises(MemoryFull):
        store.room_for_send(["a", "b", "c"])  # 5 + 3 + 3 > 10
    assert store.part_sizes()["security"] == 5  # asking for room writes nothing
    for index in range(5, 10):
        store.set(f"k{index}", index, timeout=3600)  # plain writes may use the reserve


def test_the_default_send_reserve_is_five_percent():
    assert MemoryCache().send_reserve == 5_000 and MemoryCache(capacity=200).send_reserve == 10


# -- bounded parts: their own room, oldest first ----------------------------------------------------------
def test_a_bounded_part_forgets_its_oldest_keys_and_never_touches_security_state(clock):
    store = cache(clock, capacity=5, bounded={"sms:receipt:": 3, "sms:guard:": 2})
    for index in range(5):
        store.set(f"sms:{{captcha:{index}}}:cooldown", index, timeout=60)
    for index in range(10):
        store.set(f"sms:receipt:{index}", index, timeout=86400)
    store.set("sms:guard:a", 1)
    store.set("sms:guard:b", 1)
    store.set("sms:receipt:7", "rewritten")  # a rewrite counts as the newest
    store.set("sms:receipt:10", 10)
    assert sorted(store.items()) == sorted(
        [f"sms:{{captcha:{index}}}:cooldown" for index in range(5)]
        + ["sms:receipt:7", "sms:receipt:9", "sms:receipt:10", "sms:guard:a", "sms:guard:b"]
    )
    assert store.part_sizes() == {"security": 5, "sms:receipt:": 3, "sms:guard:": 2}


def test_receipts_are_a_bounded_part_by_default():
    from flask_sms.memory import GUARD

    assert RECEIPTS in BOUNDED and RECEIPTS.prefix == "sms:receipt:"
    assert GUARD in BOUNDED and GUARD.prefix == "sms:{guard}:"  # the fraud guard's counters, apart too
    assert MemoryCache().part_sizes() == {"security": 0, RECEIPTS.prefix: 0, GUARD.prefix: 0}


# -- the sweep ------------------------------------------------------------------------------------------
def test_each_write_sweeps_a_batch_of_due_keys_and_never_more(clock):
    store = cache(clock, capacity=10_000)
    store.set_many({f"old{index}": index for index in range(1000)}, timeout=5)
    clock.advance(5 + SWEEP_GRAIN)
    store.set("new", 1, timeout=3600)
    assert store.part_sizes()["security"] == 1001 - SWEEP_BATCH
    for _ in range(1000 // SWEEP_BATCH + 1):
        store.set("new", 1, timeout=3600)
    assert store.part_sizes()["security"] == 1


operation = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 9), st.integers(-2, 40)),
    st.tuples(st.just("delete"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("advance"), st.just(0), st.integers(0, 25)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=60))
def test_it_answers_like_a_plain_dict_of_expiring_values(operations):
    """Against a model: whatever is written, deleted and swept, every read answers what a dict with
    expiry times would."""
    clock = FakeClock()
    store = cache(clock, capacity=1000)
    model: dict[str, tuple[float, int]] = {}
    for step, (name, key_index, amount) in enumerate(operations):
        key = f"k{key_index}"
        if name == "set":
            store.set(key, step, timeout=amount)
            model[key] = (0.0 if amount == 0 else clock.now + amount, step)
        elif name == "delete":
            store.delete(key)
            model.pop(key, None)
        else:
            clock.advance(amount)
        live = {k: v for k, (expires, v) in model.items() if not expires or expires > clock.now}
        assert store.items() == live
        assert [store.get(f"k{index}") for index in range(10)] == [live.get(f"k{index}") for index in range(10)]


# -- built by Flask-Caching, by import path -------------------------------------------------------------
def test_flask_caching_builds_it_from_cache_type_and_options(clock):
    from flask_caching import Cache

    app = Flask("own")
    flask_cache = Cache(
        app,
        config={
            "CACHE_TYPE": "flask_sms.memory.MemoryCache",
            "CACHE_DEFAULT_TIMEOUT": 60,
            "CACHE_OPTIONS": {"capacity": 7, "bounded": {"x:": 2}, "clock": clock},
        },
    )
    backend = app.extensions["cache"][flask_cache]
    assert type(backend) is MemoryCache and backend.capacity == 7 and backend.default_timeout == 60
    with app.app_context():
        flask_cache.set("a", 1)
        assert flask_cache.get("a") == 1
    clock.advance(61)
    with app.app_context():
        assert flask_cache.get("a") is None
