"""The Celery send task on a real worker and a real Redis broker: exactly one text, whatever Celery redelivers."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import need_module, vendor_config

pytest.importorskip("celery")

TESTS = Path(__file__).resolve().parents[1]
PHONE = "13800138000"


@pytest.fixture
def environment(fake, redis_server, monkeypatch):
    config = {
        "SECRET_KEY": "a-long-enough-secret-key-for-the-test",
        "SMS_PROVIDERS": ["aliyun"],
        "SMS_STORAGE_URL": redis_server.url,
        "SMS_TIMEOUT": 30,
        **vendor_config(fake.url, fake.host),
    }
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    env.update({f"FLASK_{key}": json.dumps(value) for key, value in config.items()})
    env["CELERY_BROKER"] = redis_server.url.rsplit("/", 1)[0] + "/1"
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(TESTS.parent)])
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.delitem(sys.modules, "celery_worker_app", raising=False)  # its broker and app: this test's
    yield env
    # Celery's AsyncResult objects sit in reference cycles, and their __del__ talks to the result backend:
    # collect them while this test's Redis still runs, not in whichever test the collector runs next
    gc.collect()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    need_module("celery")
    command = [sys.executable, "-m", "celery", "-A", "celery_worker_app", "worker", "--pool=solo", "--loglevel=INFO"]
    command += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
    return subprocess.Popen(command, env=env, cwd=TESTS, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)


def test_a_worker_killed_after_the_vendor_took_the_text_sends_nothing_again(environment, fake, tmp_path):
    """The attack: acks_late redelivers the task of a dead worker (celery#7918: a task run twice)."""
    import celery_worker_app

    log = tmp_path / "worker.log"
    fake.set_mode("aliyun", "hang", seconds=60, times=1)  # the vendor takes the text and answers late
    first = start_worker(environment, log)
    try:
        result = celery_worker_app.send_task.delay(PHONE, "notice", {"name": "Li"}, out_id="order-42:shipped")
        wait_for(lambda: fake.received("aliyun"), 60, "the vendor to take the text")
        first.send_signal(signal.SIGKILL)  # right after the vendor accepted it, before any answer
        first.wait(10)
    finally:
        stop(first)
    time.sleep(3.5)  # past the broker's visibility_timeout: the next worker to start takes the message back
    second = start_worker(environment, log)  # the broker delivers the unacknowledged task again
    try:
        received = f"{result.id}] received".encode()
        wait_for(lambda: log.read_bytes().count(received) >= 2, 60, "the task to be delivered again")
        ran = (b"DuplicateSend", f"{result.id}] succeeded".encode())
        wait_for(lambda: any(m in log.read_bytes() for m in ran) or len(fake.received("aliyun")) > 1, 60, "its run")
        time.sleep(0.5)
        assert len(fake.received("aliyun")) == 1, log.read_text(errors="replace")  # exactly one text
        assert result.state in ("PENDING", "RETRY", "STARTED", "FAILURE")  # the first run left no result
    finally:
        stop(second)
    assert len(fake.received("aliyun")) == 1


def test_the_task_run_twice_sends_once_and_both_get_its_result(environment, fake, tmp_path):
    import celery_worker_app

    worker = start_worker(environment, tmp_path / "worker.log")
    try:
        first = celery_worker_app.send_task.delay(PHONE, "notice", {"name": "Li"}, out_id="order-7:shipped")
        second = celery_worker_app.send_task.delay(PHONE, "notice", {"name": "Li"}, out_id="order-7:shipped")
        one, two = first.get(timeout=60), second.get(timeout=60)
    finally:
        stop(worker)
    assert one == two and one["ok"] and one["delivered"] == {"+8613800138000": "aliyun"}
    assert len(fake.received("aliyun")) == 1
    by_hand = celery_worker_app.send_task.apply(
        args=(PHONE, "notice", {"name": "Li"}), kwargs={"out_id": "order-7:shipped"}
    )
    assert by_hand.get() == one and len(fake.received("aliyun")) == 1  # run again in this process: no text


def test_it_retries_only_when_every_attempt_failed(environment, fake):
    import celery_worker_app

    fake.set_mode("aliyun", "business_error", times=1)  # the account's error: failed, the next try may work
    failed_once = celery_worker_app.send_task.apply(args=(PHONE, "notice", {"name": "Li"}), kwargs={"out_id": "a"})
    assert failed_once.get()["ok"] and len(fake.received("aliyun")) == 2  # failed, retried, sent
    fake.reject_number("aliyun", "13900139000", "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    rejected = celery_worker_app.send_task.apply(args=("13900139000", "notice", {"name": "Li"}), kwargs={"out_id": "b"})
    with pytest.raises(Exception, match="MOBILE_NUMBER_ILLEGAL"):
        rejected.get()
    assert rejected.state == "FAILURE" and len(fake.received("aliyun")) == 3  # no retry for a rejected number
    fake.set_mode("aliyun", "garbage", times=1)
    unknown = celery_worker_app.send_task.apply(args=(PHONE, "notice", {"name": "Li"}), kwargs={"out_id": "c"})
    assert unknown.get()["unknown"] and len(fake.received("aliyun")) == 4  # maybe sent: never retried
