"""The flow under gunicorn's gthread and gevent workers, on a real Redis, with a vendor that answers in 100 ms.

The sends themselves wait on the vendor, so a worker model that overlaps those
waits serves many sends at once. These tests check that the flow stays correct
(one text per cool-down, one winner per code) when requests overlap inside one
worker process, and that they really do overlap. How many sends per second each
model gives is measured by ``python -m bench``, not here.
"""

from __future__ import annotations

import importlib.util
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import need_module, skip_or_fail
from helpers import RedisServer, free_port, gunicorn_command
from test_scale import SEND, VERIFY, Gunicorn, _gunicorn_env, _stop_group, call, fire

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


@pytest.fixture(scope="module")
def workers_redis(redis_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary, tmp_path_factory.mktemp("workers-redis")).start()
    yield server
    server.stop()


def start_gunicorn(workdir: Any, env: dict[str, str], *worker_args: str) -> Gunicorn:
    need_module("gunicorn")
    port = free_port()
    pidfile, logfile = workdir / "gunicorn.pid", workdir / "gunicorn.log"
    args = gunicorn_command(port, *worker_args, pidfile=pidfile, logfile=logfile)
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    app = Gunicorn(port, process, pidfile, logfile)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{app.log_tail()}")
        if call(port, "GET", "/_scale/pid", timeout=2).status == 200 and pidfile.exists():
            return app
        time.sleep(0.2)
    _stop_group(process)
    pytest.fail(f"gunicorn did not answer:\n{app.log_tail()}")


@pytest.fixture
def serve(fake_server: Any, workers_redis: RedisServer, tmp_path: Any) -> Iterator[Any]:
    started: list[Gunicorn] = []

    def start(*worker_args: str, **config: Any) -> Gunicorn:
        env = _gunicorn_env(fake_server.url, fake_server.host, workers_redis.url)
        for key, value in config.items():
            import json

            env[f"FLASK_{key}"] = json.dumps(value)
        app = start_gunicorn(tmp_path, env, *worker_args)
        started.append(app)
        return app

    yield start
    for app in started:
        _stop_group(app.process)


@pytest.fixture
def slow_vendor(fake: Any) -> Any:
    fake.delay = VENDOR_DELAY  # every vendor answers in 100 ms (the fake fixture resets it afterwards)
    return fake


def test_the_flow_under_gthread(serve: Any, slow_vendor: Any) -> None:
    app = serve("--workers", "2", "--worker-class", "gthread", "--threads", "8")

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
    serve: Any, slow_vendor: Any, gevent_available: None, vendor: str
) -> None:
    """One gevent worker: if the SDK's network calls blocked the process, sends would go one at a time."""
    app = serve("--workers", "1", "--worker-class", "gevent", "--worker-connections", "100", SMS_PROVIDERS=[vendor])
    phones = [phone() for _ in range(16)]
    replies = fire(app.port, [("POST", SEND, {"phone": p}) for p in phones], threads=16)
    assert Counter(r.status for r in replies) == {200: 16}, [r.body for r in replies if r.status != 200][:3]
    assert len(slow_vendor.received(vendor)) == 16
    assert len({r.pid for r in replies}) == 1
    assert max_overlap(replies) >= 8  # one process, many vendor waits at once: the SDK's I/O yields to gevent

    one = phone()
    replies = fire(app.port, [("POST", SEND, {"phone": one})] * 40, threads=40)
    assert Counter(r.status for r in replies) == {200: 1, 429: 39}
