"""Failover by outcome, the circuit breaker, the weighted strategy and international numbers.

Through the real SDKs against the loopback fake vendor. The breaker runs on the
extension's clock, which these tests move by hand; the shared breaker is shown
on a real Redis, in one process (two apps) and under gunicorn with 4 workers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import need_module
from gunicorn_helpers import SEND, fire
from helpers import FakeClock
from vendor_config import INTL_TEMPLATES, TEMPLATES

from flask_sms import ConfigError, SendError, provider_down, provider_up, send_sms

PARAMS = {"code": "123456", "minutes": 5}
OPEN = {"failures": 3, "window": 60, "cooldown": 30}
_numbers = iter(range(1, 10**6))


def phone() -> str:
    return f"136{next(_numbers):08d}"


class Heard:
    """``provider_down`` / ``provider_up``, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def down(self, sender: Any, provider: str, **extra: Any) -> None:
        self.events.append(("down", provider))

    def up(self, sender: Any, provider: str, **extra: Any) -> None:
        self.events.append(("up", provider))


@pytest.fixture
def heard() -> Iterator[Heard]:
    listener = Heard()
    with provider_down.connected_to(listener.down), provider_up.connected_to(listener.up):
        yield listener


def clocked(app: Any, clock: FakeClock | None = None) -> FakeClock:
    clock = clock or FakeClock()
    app.extensions["sms"].clock = clock
    return clock


def send(app: Any, number: str | None = None) -> Any:
    with app.app_context():
        return send_sms(number or phone(), "captcha", PARAMS)


# -- the breaker, in one process --------------------------------------------------------------------
def test_the_breaker_opens_after_failures_and_skips_the_provider_without_a_call(make_app, fake, heard):
    fake.set_mode("aliyun", "http_500")
    app = make_app(["aliyun", "tencent"], SMS_CIRCUIT_BREAKER=OPEN)
    clocked(app)

    for _ in range(3):
        assert send(app).provider == "tencent"
    assert len(fake.received("aliyun")) == 3
    assert heard.events == [("down", "aliyun")]

    result = send(app)
    assert len(fake.received("aliyun")) == 3  # skipped: no call
    skipped, delivered = result.attempts
    assert (skipped.provider, skipped.ok, skipped.code, skipped.outcome) == ("aliyun", False, "circuit_open", "failed")
    assert delivered.provider == "tencent" and delivered.ok
    assert heard.events == [("down", "aliyun")]  # said once


def test_after_the_cooldown_one_probe_closes_it_or_opens_it_again(make_app, fake, heard):
    fake.set_mode("aliyun", "http_500")
    app = make_app(["aliyun", "tencent"], SMS_CIRCUIT_BREAKER=OPEN)
    clock = clocked(app)
    for _ in range(3):
        send(app)
    clock.advance(29)
    send(app)
    assert len(fake.received("aliyun")) == 3  # still open

    clock.advance(2)  # the cool-down is over: one probe, which fails
    assert send(app).provider == "tencent"
    assert len(fake.received("aliyun")) == 4
    send(app)
    assert len(fake.received("aliyun")) == 4  # open again at once, for another cool-down

    fake.set_mode("aliyun", "ok")
    clock.advance(31)
    assert send(app).provider == "aliyun"  # the probe answers: closed
    assert send(app).provider == "aliyun"
    assert heard.events == [("down", "aliyun"), ("up", "aliyun")]


def test_a_hanging_provider_is_skipped_once_the_breaker_opens(make_app, fake):
    """The hang is ``unknown``: it does not fail over, but it counts, so the breaker stops the waiting."""
    fake.set_mode("aliyun", "hang", seconds=5)
    app = make_app(["aliyun", "tencent"], SMS_TIMEOUT=0.5, SMS_CIRCUIT_BREAKER={**OPEN, "failures": 2})
    clocked(app)
    first, second = send(app), send(app)
    assert first.unknown and second.unknown and fake.received("tencent") == []

    started = time.monotonic()
    result = send(app)
    assert result.provider == "tencent" and time.monotonic() - started < 0.4
    assert len(fake.received("aliyun")) == 2


def test_when_every_provider_is_open_the_earliest_opened_is_tried(make_app, fake, heard):
    fake.set_mode("aliyun", "http_500")
    fake.set_mode("tencent", "http_500")
    app = make_app(["aliyun", "tencent"], SMS_CIRCUIT_BREAKER={**OPEN, "failures": 1})
    clock = clocked(app)
    with pytest.raises(SendError):
        send(app)  # aliyun opens, then tencent, a second later
    assert heard.events == [("down", "aliyun"), ("down", "tencent")]
    clock.advance(1)

    fake.set_mode("aliyun", "ok")
    result = send(app)  # both open: the breaker alone never refuses a send
    assert result.provider == "aliyun"
    assert [(a.provider, a.code) for a in result.attempts] == [
        ("aliyun", "circuit_open"),
        ("tencent", "circuit_open"),
        ("aliyun", "OK"),
    ]
    assert heard.events[-1] == ("up", "aliyun")


def test_rejected_numbers_do_not_count_against_the_vendor(make_app, fake):
    # outside phone()'s 136 range, so the next send (a fresh number) is not the blacklisted one
    fake.reject_number("tencent", "+8613500000001", "FailedOperation.PhoneNumberInBlacklist", "黑名单")
    app = make_app(["tencent", "aliyun"], SMS_CIRCUIT_BREAKER={**OPEN, "failures": 1})
    clocked(app)
    with pytest.raises(SendError):
        send(app, "13500000001")
    assert send(app).provider == "tencent"  # still closed


def test_none_turns_the_breaker_off(make_app, fake):
    fake.set_mode("aliyun", "http_500")
    app = make_app(["aliyun", "tencent"], SMS_CIRCUIT_BREAKER=None)
    clocked(app)
    for _ in range(8):
        send(app)
    assert len(fake.received("aliyun")) == 8


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"failures": 5}, "SMS_CIRCUIT_BREAKER must be None or a mapping"),
        ({"failures": 0, "window": 60, "cooldown": 30}, "['failures'] must be a number from 1"),
        ("on", "SMS_CIRCUIT_BREAKER must be None or a mapping"),
    ],
)
def test_a_bad_breaker_is_a_config_problem(make_app, value, problem):
    with pytest.raises(ConfigError) as caught:
        make_app(["aliyun"], SMS_CIRCUIT_BREAKER=value)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


# -- shared through Redis -----------------------------------------------------------------------------
def test_the_breaker_is_shared_through_redis_without_a_read_per_send(make_app, fake, redis_server):
    import redis

    fake.set_mode("aliyun", "http_500")
    config = {"SMS_STORAGE_URL": redis_server.url, "SMS_CIRCUIT_BREAKER": OPEN}
    one, two = make_app(["aliyun", "tencent"], **config), make_app(["aliyun", "tencent"], **config)
    clock = clocked(one)
    clocked(two, clock)
    assert send(two).provider == "tencent"  # two's view: nothing open
    for _ in range(3):
        send(one)
    # the count is shared too: two's failure and one's first two open it; one's third skips it
    assert len(fake.received("aliyun")) == 3

    client = redis.Redis.from_url(redis_server.url)
    before = client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
    clock.advance(1.1)  # two refreshes its view at most once a second
    for _ in range(5):
        assert send(two).provider == "tencent"
    assert len(fake.received("aliyun")) == 3  # two skips it too
    after = client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
    assert after - before == 1  # one read for five sends


# -- gunicorn: 4 workers, one Redis -------------------------------------------------------------------
def test_the_breaker_opened_in_one_worker_is_skipped_by_every_worker(gunicorn_workers, fake):
    need_module("gunicorn")
    fake.set_mode("aliyun", "http_500")
    app = gunicorn_workers(
        "--workers",
        "4",
        "--worker-class",
        "sync",
        SMS_PROVIDERS=["aliyun", "tencent"],
        SMS_CIRCUIT_BREAKER={"failures": 3, "window": 60, "cooldown": 120},
    )
    opening = [fire(app.port, [("POST", SEND, {"phone": phone()})], threads=1)[0] for _ in range(3)]
    assert [r.status for r in opening] == [200] * 3
    assert len(fake.received("aliyun")) == 3
    time.sleep(1.2)  # every worker's view is at most a second old

    # each request holds its worker for a moment, so the 24 spread over all 4 processes
    hold = {"X-Test-Hold": "0.2"}
    replies = fire(app.port, [("POST", SEND, {"phone": phone()}, None, hold) for _ in range(24)], threads=8)
    assert Counter(r.status for r in replies) == {200: 24}
    assert len({r.pid for r in replies}) == 4
    assert len(fake.received("aliyun")) == 3  # no worker called it again
    assert len(fake.received("tencent")) == 27


# -- the weighted strategy ----------------------------------------------------------------------------
def test_weighted_draws_the_first_provider_by_weight(make_app, fake):
    app = make_app(["aliyun", "tencent"], SMS_STRATEGY="weighted", SMS_WEIGHTS={"aliyun": 1, "tencent": 3})
    firsts = Counter(send(app).provider for _ in range(200))
    # 150 expected for tencent; 120-180 is five standard deviations either side
    assert 120 <= firsts["tencent"] <= 180, firsts


def test_weighted_then_the_rest_in_order(make_app, fake):
    fake.set_mode("tencent", "http_500")
    app = make_app(
        ["aliyun", "tencent", "ronglian"],
        SMS_STRATEGY="weighted",
        SMS_WEIGHTS={"tencent": 1},
        SMS_CIRCUIT_BREAKER=None,
    )
    result = send(app)
    assert [(a.provider, a.ok) for a in result.attempts] == [("tencent", False), ("aliyun", True)]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"SMS_STRATEGY": "weighted"}, "SMS_STRATEGY 'weighted' needs SMS_WEIGHTS"),
        ({"SMS_STRATEGY": "weighted", "SMS_WEIGHTS": {"huawei": 5}}, "SMS_WEIGHTS names 'huawei'"),
        ({"SMS_STRATEGY": "random"}, "SMS_STRATEGY must be 'order' or 'weighted'"),
        ({"SMS_WEIGHTS": {"aliyun": -1}}, "SMS_WEIGHTS must map provider names to whole numbers"),
    ],
)
def test_a_bad_strategy_is_a_config_problem(make_app, config, problem):
    with pytest.raises(ConfigError) as caught:
        make_app(["aliyun", "tencent"], **config)
    assert any(problem in line for line in caught.value.problems), caught.value.problems


# -- international numbers ----------------------------------------------------------------------------
def test_mainland_and_international_numbers_go_in_separate_requests_with_their_templates(make_app, fake):
    app = make_app(["tencent"])
    with app.app_context():
        result = send_sms(["13800138000", "+85261234567", "13900139000"], "captcha", PARAMS)
    assert result.ok
    # the two requests go out concurrently: compare them as a set, never by arrival order
    requests = sorted((r.template, sorted(r.phones)) for r in fake.received("tencent"))
    assert requests == [
        (TEMPLATES["tencent"]["captcha"]["id"], ["+8613800138000", "+8613900139000"]),
        (INTL_TEMPLATES["tencent"]["captcha"]["id"], ["+85261234567"]),
    ]


def test_a_provider_without_an_international_template_passes_those_numbers_on(make_app, fake):
    app = make_app(["aliyun", "tencent"], SMS_ALIYUN_INTL_TEMPLATES=None)
    with app.app_context():
        result = send_sms(["13800138000", "+85261234567"], "captcha", PARAMS)
    assert result.delivered == {"+8613800138000": "aliyun", "+85261234567": "tencent"}
    assert [r.phones for r in fake.received("aliyun")] == [["13800138000"]]  # aliyun never saw the other


def test_no_international_template_anywhere_fails_only_those_numbers(make_app, fake):
    app = make_app(["aliyun", "tencent"], SMS_ALIYUN_INTL_TEMPLATES=None, SMS_TENCENT_INTL_TEMPLATES=None)
    with app.app_context():
        mixed = send_sms(["13800138000", "+85261234567"], "captcha", PARAMS)
        assert mixed.delivered == {"+8613800138000": "aliyun"}
        assert mixed.failed["+85261234567"].code == "no_template"
        with pytest.raises(SendError):
            send_sms("+85261234567", "captcha", PARAMS)
    assert fake.received("tencent") == []


# -- rejected: final for the number ------------------------------------------------------------------
BLACKLIST = ("FailedOperation.PhoneNumberInBlacklist", "手机号在免打扰名单库中，通常是用户退订导致的。")


@pytest.mark.parametrize(
    ("language", "text"),
    [("zh-CN", "无法向该手机号发送短信。"), ("en", "Text messages cannot be sent to this phone number.")],
)
def test_a_rejected_number_answers_400_and_is_not_failed_over(make_app, fake, caplog, language, text):
    fake.reject_number("tencent", "+8613800138000", *BLACKLIST)
    app = make_app(["tencent", "aliyun"])
    client = app.test_client()

    response = client.post("/sms_captcha/", json={"phone": "13800138000"}, headers={"Accept-Language": language})

    assert response.status_code == 400
    assert response.get_json() == {"ok": False, "error": "phone_rejected", "message": text}
    assert fake.received("aliyun") == []  # an opted-out user is not texted through another vendor
    assert "FailedOperation.PhoneNumberInBlacklist" in caplog.text  # the vendor's code goes to the log
    again = client.post("/sms_captcha/", json={"phone": "13800138000"})
    assert again.status_code == 429  # the cool-down stays: asking again cannot succeed


def test_send_sms_raises_phone_rejected_with_the_vendors_words(make_app, fake):
    from flask_sms import PhoneRejected

    fake.reject_number("tencent", "+8613800138000", *BLACKLIST)
    app = make_app(["tencent", "aliyun"])
    with app.app_context(), pytest.raises(PhoneRejected) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    assert isinstance(caught.value, SendError)
    (attempt,) = caught.value.attempts
    assert (attempt.provider, attempt.code, attempt.outcome) == ("tencent", BLACKLIST[0], "rejected")
    assert caught.value.result is not None and caught.value.result.failed["+8613800138000"] is attempt


def test_codes_abroad_with_no_international_template_are_a_config_problem(make_app):
    with pytest.raises(ConfigError) as caught:
        make_app(
            ["aliyun", "tencent"],
            SMS_ALLOWED_REGIONS=["CN", "HK"],
            SMS_ALIYUN_INTL_TEMPLATES=None,
            SMS_TENCENT_INTL_TEMPLATES=None,
        )
    assert any("SMS_<PROVIDER>_INTL_TEMPLATES" in line and "'captcha'" in line for line in caught.value.problems)
    # one provider that can text them is enough: Tencent's international template, or a vendor that
    # uses its mainland templates abroad (Ronglian)
    make_app(["aliyun", "tencent"], SMS_ALLOWED_REGIONS=["CN", "HK"], SMS_ALIYUN_INTL_TEMPLATES=None)
    make_app(["aliyun", "ronglian"], SMS_ALLOWED_REGIONS=["*"], SMS_ALIYUN_INTL_TEMPLATES=None)
    make_app(["aliyun"], SMS_ALIYUN_INTL_TEMPLATES=None)  # mainland only (the default): nothing to check
