"""Each layer on its own, with no Flask app: providers, the sender, the limits and the code flow.

And the one rule between them: calls go down (views -> extension -> flow ->
sender -> providers -> storage), never back up.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cachelib import SimpleCache
from conftest import vendor_config
from helpers import FakeClock, layer_rank
from limits.storage import MemoryStorage
from werkzeug.exceptions import HTTPException

from flask_sms import RateLimited, SendError, sms_sent
from flask_sms.config import _provider_settings
from flask_sms.errors import ProviderError
from flask_sms.flow import CodeFlow
from flask_sms.options import rate_limits
from flask_sms.phones import parse_phones
from flask_sms.providers import AnyProvider, Template, provider_class
from flask_sms.ratelimits import RateLimits
from flask_sms.sender import Sender
from flask_sms.storage import CacheStore

PHONE = "+8613800138000"


def build_provider(name: str, config: dict[str, Any], timeout: float = 2) -> AnyProvider:
    """A provider from ``SMS_*`` keys, exactly as init_app builds it, but with no app."""
    problems: list[str] = []
    settings = _provider_settings(name, provider_class(name), config, problems)
    assert not problems
    return provider_class(name)(settings, timeout)


# -- providers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", ["aliyun", "tencent", "ronglian", "ihuyi"])
def test_a_provider_sends_with_no_flask_app(fake, vendor):
    provider = build_provider(vendor, vendor_config(fake.url, fake.host))
    (number,) = parse_phones("13800138000", "CN").values()
    template = provider.template_for("captcha")
    assert template is not None
    payload = provider.render("captcha", template, {"code": "123456", "minutes": 5})
    reply = provider.send([provider.format_phone(number)], payload)
    assert len(reply.accepted) == 1
    (received,) = fake.received(vendor)
    assert "123456" in str(received.params)


def test_a_provider_reports_the_vendors_own_error(fake):
    provider = build_provider("aliyun", vendor_config(fake.url, fake.host))
    fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="账户余额不足")
    payload = provider.render("captcha", Template("SMS_1"), {"code": "1"})
    with pytest.raises(ProviderError) as caught:
        provider.send(["13800138000"], payload)
    assert (caught.value.code, caught.value.message) == ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")


# -- the sender -----------------------------------------------------------------------------------
def test_the_sender_fails_over_and_signals_with_any_sender_object(fake):
    config = vendor_config(fake.url, fake.host)
    dead = build_provider("aliyun", {**config, "SMS_ALIYUN_ENDPOINT": "127.0.0.1:9"})
    sender = Sender([dead, build_provider("tencent", config)], default_region="CN", suppress=False, max_concurrency=2)
    owner = object()
    seen = []

    def listen(origin: object, **extra: Any) -> None:
        seen.append((origin, extra["result"].provider))

    with sms_sent.connected_to(listen):
        result = sender.send(owner, ["13800138000", "+86 139 0013 9000"], "captcha", {"code": "1", "minutes": 1})
    assert result.ok and result.provider == "tencent"
    assert [attempt.code for attempt in result.attempts if not attempt.ok] == ["connection_error"]
    assert seen == [(owner, "tencent")]


def test_the_sender_raises_send_error_when_nothing_was_sent(fake):
    config = vendor_config(fake.url, fake.host)
    dead = build_provider("aliyun", {**config, "SMS_ALIYUN_ENDPOINT": "127.0.0.1:9"})
    sender = Sender([dead], default_region="CN", suppress=False, max_concurrency=1)
    with pytest.raises(SendError) as caught:
        sender.send(object(), "13800138000", "captcha", {"code": "1"})
    assert "connection_error" in str(caught.value)
    assert not isinstance(caught.value, HTTPException)  # a domain error: only the flow and the routes speak HTTP


# -- limits on the flow's clock -------------------------------------------------------------------
def test_limit_windows_follow_the_given_clock():
    limits = RateLimits(MemoryStorage())
    hourly = rate_limits("2/hour")
    start = 3600 * 472_222 + 2800.0  # 46 min 40 s into an hour of this clock
    limits.hit(hourly, "ip", "10.0.0.1", now=start)
    limits.hit(hourly, "ip", "10.0.0.1", now=start + 1)
    with pytest.raises(RateLimited) as caught:
        limits.hit(hourly, "ip", "10.0.0.1", now=start + 2)
    assert caught.value.retry_after == 3600 - 2800 - 2  # until the hour of *this* clock ends
    limits.hit(hourly, "ip", "10.0.0.1", now=start + 800)  # the next hour: counted afresh
    limits.hit(hourly, "ip", "10.0.0.2", now=start + 2)  # other clients have their own count


def test_retry_after_is_the_longest_wait_among_the_refusing_limits():
    limits = RateLimits(MemoryStorage())
    both = rate_limits("1/minute;1/day")
    limits.hit(both, "ip", "10.0.0.1", now=86_400 * 20_000)
    with pytest.raises(RateLimited) as caught:
        limits.hit(both, "ip", "10.0.0.1", now=86_400 * 20_000 + 30)
    assert caught.value.retry_after == 86_400 - 30


# -- the code flow, outside any Flask context ------------------------------------------------------
class Owner:
    """What the flow's signals are sent for, when there is no Flask app."""


OWNER = Owner()


@pytest.fixture
def flow(make_app) -> Iterator[CodeFlow]:
    app = make_app(["console"], SMS_SUPPRESS_SEND=True, SMS_IP_LIMITS="1/hour", SMS_VERIFY_IP_LIMITS="2/hour")
    state = app.extensions["sms"]._state(app)
    clock = FakeClock()
    yield CodeFlow(
        OWNER,
        state.settings.captcha,
        state.sender,
        CacheStore(SimpleCache()),
        RateLimits(MemoryStorage()),
        b"a secret key of enough length",
        [],
        clock,
    )


def test_the_flow_runs_with_no_request_and_no_app_context(flow):
    from flask import has_app_context

    assert not has_app_context()
    outbox = []
    with sms_sent.connected_to(lambda origin, message, **extra: outbox.append((origin, message))):
        sent = flow.send_code("13800138000", "captcha", client_ip="10.0.0.1")
    assert sent.phone == PHONE
    origin, message = outbox[0]
    assert origin is OWNER  # the signals' sender is the flow's owner
    assert flow.verify_code("138 0013 8000", message.params["code"], "captcha", client_ip="10.0.0.1")


def test_the_flow_counts_its_own_ip_and_verify_limits(flow):
    flow.send_code("13800138000", "captcha", client_ip="10.0.0.1")
    with pytest.raises(RateLimited):
        flow.send_code("13900139000", "captcha", client_ip="10.0.0.1")
    for _ in range(2):
        assert not flow.verify_code(PHONE, "000000", "captcha", client_ip="10.0.0.9")
    with pytest.raises(RateLimited):
        flow.verify_code(PHONE, "000000", "captcha", client_ip="10.0.0.9")


def test_a_request_trace_never_calls_back_up(make_app, fake):
    app = make_app(["aliyun", "tencent"], SMS_PHONE_LIMITS="", SMS_IP_LIMITS="5/hour")
    client = app.test_client()
    climbs: list[str] = []
    entered: set[int] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event != "call" or frame.f_back is None:
            return
        callee, caller = frame.f_globals.get("__name__", ""), frame.f_back.f_globals.get("__name__", "")
        callee_rank, caller_rank = layer_rank(callee), layer_rank(caller)
        if callee_rank is not None:
            entered.add(callee_rank)
        if callee_rank is not None and caller_rank is not None and callee_rank < caller_rank:
            climbs.append(f"{caller}.{frame.f_back.f_code.co_name} -> {callee}.{frame.f_code.co_name}")

    fake.set_mode("aliyun", "http_500", times=1)  # failover: the sender's loop runs twice
    with app.extensions["sms"].record_messages() as outbox:
        sys.setprofile(profile)
        try:
            sent = client.post("/sms_captcha/", json={"phone": "13800138000"})
            wrong = client.post("/sms_captcha/verify", json={"phone": "13800138000", "code": "000000"})
        finally:
            sys.setprofile(None)
    assert sent.status_code == 200 and wrong.status_code == 400 and outbox
    assert entered == {0, 1, 2, 3, 4, 5}  # the trace saw every layer at work
    assert climbs == []
