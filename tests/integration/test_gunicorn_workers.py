"""The flow under gunicorn's gthread and gevent workers, on a real Redis, with a vendor that answers in 100 ms.

The sends themselves wait on the vendor, so a worker model that overlaps those
waits serves many sends at once. These tests check that the flow stays correct
(one text per cool-down, one winner per code) when requests overlap inside one
worker process, and that they really do overlap. How many sends per second each
model gives is measured by ``python -m bench``, not here.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from typing import Any

import pytest
from conftest import skip_or_fail
from gunicorn_helpers import SEND, VERIFY, fire

VENDOR_DELAY = 0.1
VENDORS = ("aliyun", "tencent", "ronglian", "ihuyi")
_numbers = iter(range(1, 10**6))


def phone() -> str:
    return f"137{next(_numbers):08d}"


def max_overlap(replies: list[Any]) -> int:
    """The most requests in flight at one moment, from each reply's start and end."""
    events = sorted([(r.started, 1) for r in replies] + [(r.ended, -1) for r in replies])
    current = best = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


@pytest.fixture
def slow_vendor(fake: Any) -> Any:
    fake.delay = VENDOR_DELAY  # every vendor answers in 100 ms (the fake fixture resets it afterwards)
    return fake


def test_the_flow_under_gthread(gunicorn_workers: Any, slow_vendor: Any) -> None:
    app = gunicorn_workers("--workers", "2", "--worker-class", "gthread", "--threads", "8")

    # 32 different phones at once: every send goes out, and many are in flight at a time in 2 processes
    phones = [phone() for _ in range(32)]
    replies = fire(app.port, [("POST", SEND, {"phone": p}) for p in phones], threads=32)
    assert Counter(r.status for r in replies) == {200: 32}, [r.body for r in replies if r.status != 200][:3]
    assert sorted(text.phones[0] for text in slow_vendor.received("aliyun")) == sorted(phones)
    assert max_overlap(replies) > 2  # 2 sync workers would allow 2 at a time; threads overlap the vendor waits

    # 100 concurrent sends for one phone, threads sharing processes: still exactly one text
    one = phone()
    replies = fire(app.port, [("POST", SEND, {"phone": one})] * 100, threads=50)
    assert Counter(r.status for r in replies) == {200: 1, 429: 99}
    assert len([t for t in slow_vendor.received("aliyun") if t.phones == [one]]) == 1

    # 50 concurrent verifies of the right code: exactly one winner
    (text,) = [t for t in slow_vendor.received("aliyun") if t.phones == [one]]
    replies = fire(app.port, [("POST", VERIFY, {"phone": one, "code": text.params["code"]})] * 50, threads=50)
    assert Counter(r.status for r in replies) == {200: 1, 400: 49}


@pytest.fixture
def gevent_available() -> None:
    if importlib.util.find_spec("gevent") is None:
        skip_or_fail("gevent is not installed (pip install gevent; the test extra has it)")


@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_sdk_cooperates_with_gevent(
    gunicorn_workers: Any, slow_vendor: Any, gevent_available: None, vendor: str
) -> None:
    """One gevent worker: if the SDK's network calls blocked the process, sends would go one at a time."""
    app = gunicorn_workers(
        "--workers", "1", "--worker-class", "gevent", "--worker-connections", "100", SMS_PROVIDERS=[vendor]
    )
    phones = [phone() for _ in range(16)]
    replies = fire(app.port, [("POST", SEND, {"phone": p}) for p in phones], threads=16)
    assert Counter(r.status for r in replies) == {200: 16}, [r.body for r in replies if r.status != 200][:3]
    assert len(slow_vendor.received(vendor)) == 16
    assert len({r.pid for r in replies}) == 1
    assert max_overlap(replies) >= 8  # one process, many vendor waits at once: the SDK's I/O yields to gevent

    one = phone()
    replies = fire(app.port, [("POST", SEND, {"phone": one})] * 40, threads=40)
    assert Counter(r.status for r in replies) == {200: 1, 429: 39}
