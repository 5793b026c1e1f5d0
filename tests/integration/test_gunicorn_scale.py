"""Scale-out: gunicorn with 4 workers and a real Redis, driven over loopback HTTP.

One gunicorn (``scale_app:create_app()``, config from ``FLASK_*`` env vars) and
one ``redis-server`` serve the whole module; texts go to the session's fake
vendor, so ``fake.received("aliyun")`` counts what really left. Every test
uses phone numbers no other test touches.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import need_module
from gunicorn_helpers import SEND, VERIFY, Gunicorn, Reply, Spec, call, fire, gunicorn_env, rss_kb, stop_group
from helpers import RedisServer, free_port, gunicorn_command

TESTS_DIR = Path(__file__).resolve().parents[1]
ROOT = TESTS_DIR.parent
WORKERS = 4

_phones = itertools.count(1)


def next_phone() -> str:
    """A mainland mobile number no other request in this module used (11 digits, as Aliyun gets it)."""
    return f"139{next(_phones):08d}"


# --------------------------------------------------------------------------- HTTP


def texts_to(fake: Any, phone: str) -> list[Any]:
    return [r for r in fake.received("aliyun") if r.phones == [phone]]


def codes_by_phone(fake: Any) -> dict[str, list[str]]:
    codes: dict[str, list[str]] = {}
    for text in fake.received("aliyun"):
        codes.setdefault(text.phones[0], []).append(text.params["code"])
    return codes


# --------------------------------------------------------------------------- processes


@pytest.fixture(scope="module")
def scale_redis(redis_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary, tmp_path_factory.mktemp("scale-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gunicorn_app(
    fake_server: Any, scale_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    need_module("gunicorn")
    workdir = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    pidfile, logfile = workdir / "gunicorn.pid", workdir / "gunicorn.log"
    args = gunicorn_command(port, "--workers", str(WORKERS), "--worker-class", "sync", pidfile=pidfile, logfile=logfile)
    env = gunicorn_env(fake_server.url, fake_server.host, scale_redis.url)
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    app = Gunicorn(port, process, pidfile, logfile)
    try:
        _wait_until_every_worker_answers(app)
        yield app
    finally:
        stop_group(process)


def _wait_until_every_worker_answers(app: Gunicorn) -> None:
    """Four concurrent requests that each hold their worker 0.3 s land on four workers once all are up."""
    deadline = time.monotonic() + 60
    seen: set[int] = set()
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {app.process.returncode}:\n{app.log_tail()}")
        replies = fire(app.port, [("GET", "/_scale/pid", None, None, {"X-Test-Hold": "0.3"})] * WORKERS, WORKERS)
        pids = {reply.pid for reply in replies if reply.status == 200}
        seen |= pids
        if len(pids) == WORKERS and app.pidfile.exists() and sorted(seen) == app.workers():
            return
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not bring up {WORKERS} answering workers (saw {sorted(seen)}):\n{app.log_tail()}")


# --------------------------------------------------------------------------- races across workers


def test_200_concurrent_sends_give_one_text(gunicorn_app: Gunicorn, fake: Any) -> None:
    phone = next_phone()
    replies = fire(gunicorn_app.port, [("POST", SEND, {"phone": phone})] * 200, threads=50)

    statuses = Counter(reply.status for reply in replies)
    assert statuses == {200: 1, 429: 199}, (statuses, [r.error for r in replies if r.status == 0][:3])
    assert {reply.code for reply in replies if reply.status == 429} == {"rate_limited"}
    assert all(int(reply.headers["Retry-After"]) >= 1 for reply in replies if reply.status == 429)
    assert len(texts_to(fake, phone)) == 1
    assert len(fake.received("aliyun")) == 1
    pids = {reply.pid for reply in replies}
    assert pids <= set(gunicorn_app.workers()) and len(pids) >= 2, pids  # the race really was across processes


def test_100_concurrent_verifies_have_one_winner(gunicorn_app: Gunicorn, fake: Any) -> None:
    phone = next_phone()
    assert call(gunicorn_app.port, "POST", SEND, {"phone": phone}).status == 200
    (text,) = texts_to(fake, phone)
    code = text.params["code"]

    replies = fire(gunicorn_app.port, [("POST", VERIFY, {"phone": phone, "code": code})] * 100, threads=50)

    statuses = Counter(reply.status for reply in replies)
    assert statuses == {200: 1, 400: 99}, statuses
    assert [reply.body["ok"] for reply in replies if reply.status == 200] == [True]
    # used up: the others are a stranger's guesses at a phone with no live code (their budget, then no more)
    assert {reply.code for reply in replies if reply.status == 400} <= {"invalid_code", "too_many_attempts"}
    assert len({reply.pid for reply in replies}) >= 2


def test_a_verification_token_redeems_exactly_once_across_workers(gunicorn_app: Gunicorn, fake: Any) -> None:
    """Two steps: the verify route's token, redeemed by an app's own view; 100 concurrent redeems, one phone."""
    phone = next_phone()
    assert call(gunicorn_app.port, "POST", SEND, {"phone": phone}).status == 200
    (text,) = texts_to(fake, phone)
    verified = call(gunicorn_app.port, "POST", VERIFY, {"phone": phone, "code": text.params["code"]})
    assert verified.status == 200 and verified.body["expires_in"] == 600
    token = verified.body["token"]

    replies = fire(gunicorn_app.port, [("POST", "/_scale/redeem", {"token": token})] * 100, threads=50)

    assert Counter(reply.status for reply in replies) == {200: 100}
    assert sorted((reply.body["phone"] for reply in replies), key=str) == [f"+86{phone}"] + [None] * 99
    assert len({reply.pid for reply in replies}) >= 2  # redeemed against each other from several workers


def test_attempt_budget_is_shared_across_workers(gunicorn_app: Gunicorn, fake: Any) -> None:
    """Wrong codes 1-4 each hold their worker 2 s, so each lands on a different worker; 5 kills the code."""
    phone = next_phone()
    sent = call(gunicorn_app.port, "POST", SEND, {"phone": phone})
    assert sent.status == 200 and sent.body is not None
    code = texts_to(fake, phone)[0].params["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    owner = {"phone": phone, "code": wrong, "nonce": sent.body["nonce"]}  # the owner's budget: 5

    replies: list[Reply | None] = [None] * 5

    def attempt(index: int) -> None:
        hold = {"X-Test-Hold": "2"} if index < 4 else {}
        replies[index] = call(gunicorn_app.port, "POST", VERIFY, owner, headers=hold)

    threads = []
    for index in range(5):
        threads.append(threading.Thread(target=attempt, args=(index,), daemon=True))
        threads[-1].start()
        time.sleep(0.25)  # keeps the order; each of the first four finds the workers before it busy
    for thread in threads:
        thread.join(timeout=30)

    assert all(reply is not None and reply.status == 400 for reply in replies), replies
    assert [reply.code for reply in replies] == ["invalid_code"] * 4 + ["too_many_attempts"]  # type: ignore[union-attr]
    pids = [reply.pid for reply in replies]  # type: ignore[union-attr]
    assert len(set(pids[:4])) == 4, pids
    assert set(pids) <= set(gunicorn_app.workers())

    right = call(gunicorn_app.port, "POST", VERIFY, {**owner, "code": code})
    assert (right.status, right.code) == (400, "too_many_attempts")


# --------------------------------------------------------------------------- storage faults


def test_a_send_answered_503_sent_no_text(gunicorn_app: Gunicorn, scale_redis: RedisServer, fake: Any) -> None:
    """README: 503 ``unavailable`` means "nothing is sent". Redis dies while the vendor call is in flight.

    The vendor holds the request 1 s (then accepts it); Redis is killed as soon as the
    request reaches the vendor. The code was stored before the call, so the delivered text
    is reported as sent, never as ``unavailable``.
    """
    port = gunicorn_app.port
    phone = next_phone()
    fake.set_mode("aliyun", "hang", seconds=1.0, times=1)
    replies: list[Reply] = []
    sender = threading.Thread(target=lambda: replies.append(call(port, "POST", SEND, {"phone": phone})), daemon=True)
    sender.start()
    try:
        deadline = time.monotonic() + 10
        while not texts_to(fake, phone) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert texts_to(fake, phone), "the send never reached the vendor"
        scale_redis.stop()
        sender.join(timeout=30)
    finally:
        if scale_redis.process is None:
            scale_redis.start()
    (reply,) = replies
    (text,) = texts_to(fake, phone)
    assert text.reply == "ok"  # the vendor accepted it: the user got a text
    body = dict(reply.body or {})
    body.pop("nonce", None)
    assert (reply.status, body) == (200, {"ok": True, "expires_in": 300, "resend_after": 60}), reply


def test_redis_killed_mid_run_fails_closed_then_recovers(
    gunicorn_app: Gunicorn, scale_redis: RedisServer, fake: Any
) -> None:
    port = gunicorn_app.port
    workers = gunicorn_app.workers()
    before_phone = next_phone()
    assert call(port, "POST", SEND, {"phone": before_phone}).status == 200
    before_code = texts_to(fake, before_phone)[0].params["code"]

    records: list[tuple[str, Reply]] = []
    records_lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        for _ in range(5000):  # bounded; the stop event normally ends it after a few seconds
            if stop.is_set():
                return
            phone = next_phone()
            reply = call(port, "POST", SEND, {"phone": phone}, timeout=20)
            with records_lock:
                records.append((phone, reply))

    threads = [threading.Thread(target=load, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)

    killed_at = time.monotonic()
    scale_redis.stop()  # SIGKILL, then wait: the server is gone from here on
    down_from = time.monotonic()
    time.sleep(1.0)
    verify_down = call(port, "POST", VERIFY, {"phone": before_phone, "code": before_code})
    resend_down = call(port, "POST", SEND, {"phone": next_phone()})
    time.sleep(1.0)

    restart_at = time.monotonic()
    scale_redis.start()  # an empty server on the same port; gunicorn is not touched
    up_from = time.monotonic()
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    texted = Counter(text.phones[0] for text in fake.received("aliyun"))
    statuses = Counter(reply.status for _, reply in records)
    assert set(statuses) <= {200, 503}, (
        statuses,
        [r.error or r.body for _, r in records if r.status not in (200, 503)][:5],
    )

    down = [(phone, reply) for phone, reply in records if reply.started > down_from and reply.ended < restart_at]
    assert down, "no request ran while Redis was down"
    assert all(reply.status == 503 and reply.code == "unavailable" for _, reply in down), Counter(
        r.status for _, r in down
    )
    assert not [phone for phone, _ in down if phone in texted], "a text left while the storage was down"
    assert (resend_down.status, resend_down.code) == (503, "unavailable")
    assert (verify_down.status, verify_down.code) == (503, "unavailable")

    ok = [(phone, reply) for phone, reply in records if reply.status == 200]
    assert all(texted[phone] == 1 for phone, _ in ok)
    # 503 means nothing was sent: the code is stored before the vendor call, so a text that
    # went out is never followed by a storage error (see test_a_send_answered_503_sent_no_text).
    leaked = [reply for phone, reply in records if reply.status == 503 and phone in texted]
    assert leaked == [], leaked

    after = [reply for _, reply in records if reply.started > up_from]
    assert after and all(reply.status == 200 for reply in after), Counter(reply.status for reply in after)
    assert {reply.pid for reply in after} == set(workers), "every worker recovered by itself"
    assert gunicorn_app.workers() == workers, "no worker was restarted"

    phone = next_phone()
    assert call(port, "POST", SEND, {"phone": phone}).status == 200
    fresh = call(port, "POST", VERIFY, {"phone": phone, "code": texts_to(fake, phone)[0].params["code"]})
    assert (fresh.status, fresh.body["ok"]) == (200, True)

    down_latency = [reply.ended - reply.started for _, reply in down]
    print(
        f"\nredis outage: killed {down_from - killed_at:.2f}s, {len(down)} sends while down (all 503, "
        f"max {max(down_latency):.2f}s), {len(leaked)} in-flight 503 whose text had left, "
        f"{len(after)} sends after restart (all 200)"
    )


# --------------------------------------------------------------------------- soak


def _soak_batch(port: int, fake: Any, phones: int) -> list[tuple[Reply, str]]:
    """One round of mixed traffic: races, valid flows and invalid requests; (reply, expectation) pairs."""
    batch = [next_phone() for _ in range(phones)]
    out: list[tuple[Reply, str]] = []

    # 1. three racing sends per phone, and invalid sends
    specs: list[tuple[Spec, str]] = []
    for phone in batch:
        specs += [(("POST", SEND, {"phone": phone}), f"send:{phone}")] * 3
    specs += [
        (("POST", SEND, {"phone": "12345"}), "400:invalid_phone"),
        (("POST", SEND, {"phone": "+14155550123"}), "400:region_not_allowed"),
        (("POST", SEND, {"phone": batch[0], "purpose": "admin"}), "400:invalid_purpose"),
        (("POST", SEND, None, b"{not json"), "400:invalid_request"),
        (("POST", SEND, {"phone": ["13900000000"]}), "400:invalid_request"),
        (("GET", SEND), "405:invalid_request"),
    ] * 2
    replies = fire(port, [spec for spec, _ in specs], threads=16)
    out += zip(replies, [expect for _, expect in specs])
    # the nonce of each phone's one send that went out: its verifies below are the owner's, as sms.js makes them
    nonces = {
        expect.partition(":")[2]: reply.body["nonce"]
        for reply, (_, expect) in zip(replies, specs)
        if expect.startswith("send:") and reply.status == 200 and reply.body
    }

    codes = codes_by_phone(fake)
    # 2. two wrong codes per phone, and invalid verifies
    specs = []
    for phone in batch:
        code = codes.get(phone, ["000000"])[0]
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        owner = {"phone": phone, "code": wrong, "nonce": nonces.get(phone, "")}
        specs += [(("POST", VERIFY, owner), "400:invalid_code")] * 2
    specs += [
        (("POST", VERIFY, {"phone": next_phone(), "code": "123456"}), "400:invalid_code"),  # no live code
        (("POST", VERIFY, {"phone": next_phone(), "code": "１２３４５６"}), "400:invalid_code"),
        (("POST", VERIFY, {"phone": batch[0]}), "400:invalid_request"),
        (("POST", VERIFY, {"phone": "abc", "code": "123456"}), "400:invalid_phone"),
        (("PUT", VERIFY), "405:invalid_request"),
    ] * 2
    replies = fire(port, [spec for spec, _ in specs], threads=16)
    out += zip(replies, [expect for _, expect in specs])

    # 3. three racing verifies of the right code per phone
    specs = []
    for phone in batch:
        code = codes.get(phone, ["000000"])[0]
        owner = {"phone": phone, "code": code, "nonce": nonces.get(phone, "")}
        specs += [(("POST", VERIFY, owner), f"verify:{phone}")] * 3
    replies = fire(port, [spec for spec, _ in specs], threads=16)
    out += zip(replies, [expect for _, expect in specs])
    return out


def _check_soak(results: list[tuple[Reply, str]]) -> list[str]:
    """Problems in a soak's results: fixed expectations, and per phone one text and one accepted code."""
    problems = []
    sends: dict[str, Counter[int]] = {}
    verifies: dict[str, Counter[int]] = {}
    for reply, expect in results:
        kind, _, rest = expect.partition(":")
        if kind == "send":
            sends.setdefault(rest, Counter())[reply.status] += 1
        elif kind == "verify":
            verifies.setdefault(rest, Counter())[reply.status] += 1
        elif f"{reply.status}:{reply.code}" != expect:
            problems.append(f"expected {expect}, got {reply.status} {reply.body or reply.error!r}")
    problems += [f"sends to {p}: {dict(c)}" for p, c in sends.items() if c != {200: 1, 429: 2}]
    problems += [f"verifies of {p}: {dict(c)}" for p, c in verifies.items() if c != {200: 1, 400: 2}]
    return problems


def _soak(port: int, fake: Any, requests: int) -> list[tuple[Reply, str]]:
    results: list[tuple[Reply, str]] = []
    while len(results) < requests:
        results += _soak_batch(port, fake, phones=50)
        fake.reset()  # keeps the fake's record (in this process) small; codes were read already
    return results


def test_soak_zero_5xx_and_flat_worker_memory(
    gunicorn_app: Gunicorn, fake: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    port = gunicorn_app.port
    workers = gunicorn_app.workers()
    assert len(workers) == WORKERS

    warm_started = time.monotonic()
    warmup = _soak(port, fake, 2_000)
    warm_seconds = time.monotonic() - warm_started
    rss_before = {pid: rss_kb(pid) for pid in workers}

    started = time.monotonic()
    results = _soak(port, fake, 20_000)
    seconds = time.monotonic() - started
    rss_after = {pid: rss_kb(pid) for pid in workers}

    every = warmup + results
    by_status = Counter(reply.status for reply, _ in results)
    by_worker = Counter(reply.pid for reply, _ in results)
    lines = [
        (
            f"soak: {len(results)} mixed requests in {seconds:.1f}s ({len(results) / seconds:.0f} req/s), "
            f"after a warm-up of {len(warmup)} in {warm_seconds:.1f}s; gunicorn -w {WORKERS} sync workers, one Redis"
        ),
        f"statuses: {dict(sorted(by_status.items()))}",
        "worker   requests   RSS before   RSS after   growth",
    ]
    for pid in workers:
        growth = rss_after[pid] - rss_before[pid]
        lines.append(
            f"{pid:>6}   {by_worker[pid]:>8}   {rss_before[pid] / 1024:>7.1f} MB  "
            f"{rss_after[pid] / 1024:>7.1f} MB  {growth / 1024:+6.1f} MB"
        )
    report = "\n".join(lines)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "soak.txt").write_text(report + "\n")
    with capsys.disabled():
        print("\n" + report)

    fives = [(reply.status, reply.body) for reply, _ in every if reply.status >= 500 or reply.status == 0]
    assert not fives, fives[:5]
    problems = _check_soak(every)
    assert not problems, problems[:10]
    assert gunicorn_app.workers() == workers, "a worker died or was restarted during the soak"
    assert set(by_worker) == set(workers)
    for pid in workers:
        assert rss_after[pid] - rss_before[pid] < 25 * 1024, f"worker {pid} grew: {report}"
