"""The fraud guard's rules one at a time (tests/flow/test_guard_campaigns.py plays whole campaigns)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from campaign import HUMAN, simulation_app
from flask import Flask
from helpers import FakeClock, config_problems

from flask_sms import ChallengeRequired, FraudSuspected, SmsExtension, fraud_suspected
from flask_sms.guard import network_of, prefix_of
from flask_sms.phones import parse_phone

PUBLIC = "45.76.10.7"


@pytest.fixture
def guarded(make_app: Any, clock: FakeClock) -> Any:
    """An app under the default limits and guard, with a local human check that passes ``HUMAN``."""

    def factory(storage: str = "memory://", **config: Any) -> Flask:
        return simulation_app(make_app, storage, clock=clock, **config)

    return factory


def send(app: Flask, phone: str, address: str = PUBLIC, challenge: Any = None) -> Any:
    with app.app_context():
        sms = app.extensions["sms"]
        try:
            return sms.send_code(phone, client_ip=address, challenge=challenge)
        except (ChallengeRequired, FraudSuspected) as exc:
            return exc


def test_dimensions():
    mainland = parse_phone("13800138000", "CN")
    assert prefix_of(mainland, "+8613800138000") == "+861380013"  # 号段 + H码
    abroad = parse_phone("+14155552671", "CN")
    assert prefix_of(abroad, "+14155552671") == "+1415555"  # E.164 without its last 4 digits
    assert network_of("45.76.10.7") == "45.76.10.0/24"
    assert network_of("2001:470:abcd:12::1") == "2001:470:abcd::/48"
    assert network_of("::ffff:45.76.10.7") == "45.76.10.0/24"
    for internal in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "::1", "fe80::1", "unknown", None):
        assert network_of(internal) is None  # a proxy or internal traffic: not a network to judge


def test_velocity_challenges_the_prefix_not_the_app(guarded):
    app = guarded()
    first = [send(app, f"138001300{index:02d}", f"45.76.{index}.7") for index in range(8)]
    challenged = [isinstance(outcome, ChallengeRequired) for outcome in first]
    assert challenged == [False] * 4 + [True] * 4  # the prefix's fifth code in a minute, none verified
    assert not isinstance(send(app, "13912345678", "58.20.1.9"), Exception)  # another prefix: unaffected
    passed = send(app, "13800130099", "45.76.99.7", challenge=HUMAN)
    assert not isinstance(passed, Exception)  # a person passes the check and gets the code
    decisions = app.extensions["sms"].guard_status(app)
    assert [(d.dimension, d.value, d.action, d.reason) for d in decisions] == [
        ("prefix", "+861380013", "challenge", "velocity")
    ]
    assert decisions[0].counts["attempts"] >= 5


def test_a_challenged_prefix_that_keeps_failing_is_blocked_then_blocked_twice_as_long(guarded, clock):
    app = guarded()
    for index in range(30):
        send(app, f"138001300{index:02d}", f"45.76.{index}.7")
    (decision,) = app.extensions["sms"].guard_status(app)
    assert decision.action == "block" and decision.until - clock.now == pytest.approx(12 * 3600, abs=60)
    blocked = send(app, "13800130077", "45.76.77.7", challenge=HUMAN)
    assert isinstance(blocked, FraudSuspected) and blocked.retry_after > 11 * 3600  # a block: no check lifts it
    clock.advance(12 * 3600 + 1)
    for index in range(30):
        send(app, f"138001301{index:02d}", f"45.77.{index}.7")
    (again,) = app.extensions["sms"].guard_status(app)
    assert again.action == "block" and again.until - clock.now == pytest.approx(24 * 3600, abs=120)


def test_safe_numbers_are_never_challenged_nor_counted(guarded):
    safe = [f"+86138001300{index:02d}" for index in range(10)]
    app = guarded(SMS_SAFE_NUMBERS=safe)
    for index, phone in enumerate(safe):
        assert not isinstance(send(app, phone, f"45.76.{index}.7"), Exception)
    assert app.extensions["sms"].guard_status(app) == []


def test_mvno_ranges_and_new_regions_start_higher(guarded):
    app = guarded(SMS_ALLOWED_REGIONS=["CN", "JP"], SMS_CONSOLE_INTL_TEMPLATES=None)
    refused = [isinstance(send(app, f"170001300{i:02d}", f"45.76.{i}.7"), ChallengeRequired) for i in range(6)]
    assert refused.index(True) == 2  # an MVNO range: challenged on half the evidence (the 3rd, not the 5th)
    assert isinstance(send(app, "+819012345678", "58.20.1.9"), ChallengeRequired)  # never texted Japan
    assert not isinstance(send(app, "+819012345678", "58.20.1.9", challenge=HUMAN), Exception)


def test_guard_status_and_the_command_line(guarded):
    app = guarded()
    for index in range(8):
        send(app, f"138001300{index:02d}", f"45.76.{index}.7")
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["sms", "guard"])
    assert listed.exit_code == 0, listed.output
    assert "prefix     +861380013  challenge" in listed.output and "velocity" in listed.output
    released = runner.invoke(args=["sms", "guard", "--release", "+861380013"])
    assert "1 decision(s) lifted" in released.output
    assert app.extensions["sms"].guard_status(app) == []
    assert not isinstance(send(app, "13800130050", "45.76.50.7"), Exception)
    assert "nothing is challenged or blocked" in runner.invoke(args=["sms", "guard"]).output


def test_a_decision_is_announced_once_across_workers(guarded, redis_server, clock):
    """Two apps on one Redis are two workers: 16 threads send at once; each decision is signalled once."""
    workers = [guarded(redis_server.url) for _ in range(2)]
    heard: list[tuple[str, str, str]] = []
    barrier = threading.Barrier(16)

    def record(sender: Flask, dimension: str, value: str, action: str, until: float) -> None:
        heard.append((dimension, value, action))

    def one(index: int) -> None:
        app = workers[index % 2]
        barrier.wait()
        send(app, f"138001300{index:02d}", f"45.76.{index}.7")

    with fraud_suspected.connected_to(record):
        threads = [threading.Thread(target=one, args=(index,)) for index in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert heard.count(("prefix", "+861380013", "challenge")) == 1
    keys = redis.Redis.from_url(redis_server.url).keys("*{guard}*")
    assert keys and all(redis.Redis.from_url(redis_server.url).ttl(key) > 0 for key in keys)  # nothing lives forever


def test_a_guard_storage_fault_never_refuses_a_send(make_app, redis_binary, tmp_path, clock):
    """Fail open: a Redis that refuses the guard's keys (an ACL without them), the codes' keys allowed."""
    from helpers import RedisServer

    server = RedisServer(redis_binary, tmp_path / "acl").start()
    try:
        admin = redis.Redis.from_url(server.url)
        admin.execute_command(
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">app-password",
            "~flask_sms:sms:{captcha:*",
            "~*LIMITER*",  # the limits library's counters, whatever its version's prefix
            "+@all",
            "-@dangerous",
            "+info",
        )
        url = f"redis://app:app-password@127.0.0.1:{server.port}/0"
        app = simulation_app(make_app, url, clock=clock)
        sent = [send(app, f"138001300{index:02d}", f"45.76.{index}.7") for index in range(12)]
        assert not any(isinstance(outcome, Exception) for outcome in sent)  # the guard could not count: allowed
        assert admin.keys("*{captcha:+8613800130011}*")  # the flow's own state was kept as ever
    finally:
        server.stop()


def test_an_external_code_goes_through_the_guard(guarded):
    app = guarded(SMS_CAPTCHA_PURPOSES=["captcha"])
    with app.app_context():
        sms = app.extensions["sms"]
        outcomes = []
        for index in range(8):
            try:
                sms.send_external_code(
                    f"138001300{index:02d}", "123456", purpose="captcha", client_ip=f"45.76.{index}.7"
                )
                outcomes.append("sent")
            except ChallengeRequired:
                outcomes.append("challenge")
    assert outcomes[:4] == ["sent"] * 4 and outcomes[4:] == ["challenge"] * 4  # velocity, as for its own codes


def test_monitor_refuses_nothing(guarded):
    app = guarded(SMS_FRAUD_GUARD="monitor")
    heard = []
    with fraud_suspected.connected_to(lambda sender, **extra: heard.append(extra["action"])):
        sent = [send(app, f"138001300{index:02d}", f"45.76.{index}.7") for index in range(30)]
    assert not any(isinstance(outcome, Exception) for outcome in sent)
    assert heard == ["challenge", "block"]


def test_the_guard_off(guarded):
    app = guarded(SMS_FRAUD_GUARD=None)
    sent = [send(app, f"138001300{index:02d}", f"45.76.{index}.7") for index in range(30)]
    assert not any(isinstance(outcome, Exception) for outcome in sent)
    assert app.extensions["sms"].guard_status(app) == []


def test_config_problems():
    app = Flask("bad_guard")
    app.config.update(
        SECRET_KEY="x" * 32, SMS_PROVIDERS=["console"], SMS_FRAUD_GUARD="paranoid", SMS_SAFE_NUMBERS=["13800138000"]
    )
    problems = config_problems(SmsExtension(app), app)
    assert any(p.startswith("SMS_FRAUD_GUARD must be 'standard', 'strict', 'monitor' or None") for p in problems)
    assert any("SMS_SAFE_NUMBERS has '13800138000', which is not an E.164 number" in p for p in problems)


def test_each_channel_is_judged_on_its_own(guarded):
    """Calls (SMS_VOICE_PROVIDERS) cost and are abused apart from texts: their values are their own."""
    app = guarded(SMS_VOICE_PROVIDERS=["console"], SMS_VOICE_AFTER=0)
    with app.app_context():
        sms = app.extensions["sms"]
        called = []
        for index in range(8):
            try:
                sms.send_code(f"138001300{index:02d}", client_ip=f"45.76.{index}.7", channel="voice")
                called.append("called")
            except ChallengeRequired:
                called.append("challenge")
    assert called == ["called"] * 4 + ["challenge"] * 4
    assert [(d.dimension, d.value) for d in sms.guard_status(app)] == [("prefix", "voice:+861380013")]
    assert not isinstance(send(app, "13800130050", "45.77.1.7"), Exception)  # texts to the prefix: unaffected


def test_each_decision_is_counted_in_the_metrics(guarded):
    from prometheus_client import REGISTRY

    def challenges() -> float:
        return REGISTRY.get_sample_value("flask_sms_fraud_decisions_total", {"action": "challenge"}) or 0.0

    before = challenges()
    app = guarded()
    for index in range(8):
        send(app, f"138001300{index:02d}", f"45.76.{index}.7")
    assert challenges() == before + 1
