"""Vendor faults through the public route: failover to the next provider, and a bounded 502.

The real SDKs talk to the loopback fake vendor; ``SMS_TIMEOUT`` is 1 s, so a
hanging vendor costs at most about a second per provider.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fake_vendor import unused_port

from flask_sms import sms_sent

PHONE = "13800138000"
E164 = "+8613800138000"
TIMEOUT = 1

# fault -> the code flask_sms records for the failed attempt (README: "When the vendor did not answer ...")
FAULTS = {
    "http_500": "http_500",
    "hang": "timeout",
    "garbage": "bad_reply",
    "connection_refused": "connection_error",
    "business_error": "isv.BUSINESS_LIMIT_CONTROL",
}

# what the vendors' business errors say (fake_vendor's defaults); none of it may reach the client
VENDOR_WORDS = (
    "isv.",
    "BUSINESS_LIMIT_CONTROL",
    "流控",
    "FailedOperation",
    "InsufficientBalance",
    "套餐包",
    "160038",
    "过频繁",
    "4080",
    "同一手机号码",
    "aliyun",
    "tencent",
    "ronglian",
    "ihuyi",
    "timeout",
    "timed out",
    "http_",
    "connection",
    "bad_reply",
)


def _fail(fake: Any, vendor: str, fault: str) -> dict[str, Any]:
    """Make ``vendor`` fail with ``fault``; returns the config overrides it needs."""
    if fault == "connection_refused":
        port = unused_port()
        if vendor in ("aliyun", "tencent"):
            return {f"SMS_{vendor.upper()}_ENDPOINT": f"127.0.0.1:{port}"}
        if vendor == "ronglian":
            return {"SMS_RONGLIAN_BASE_URL": f"http://127.0.0.1:{port}"}
        return {"SMS_IHUYI_URL": f"http://127.0.0.1:{port}/webservice/sms.php?method=Submit"}
    if fault == "hang":
        fake.set_mode(vendor, "hang", seconds=TIMEOUT + 3)
    else:
        fake.set_mode(vendor, fault)
    return {}


class _Results:
    """The ``SendResult`` of every send, through the ``sms_sent`` signal."""

    def __init__(self) -> None:
        self.results: list[Any] = []

    def __call__(self, sender: Any, message: Any, result: Any, **extra: Any) -> None:
        self.results.append(result)


@pytest.fixture
def results() -> Any:
    receiver = _Results()
    sms_sent.connect(receiver)
    yield receiver
    sms_sent.disconnect(receiver)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_on_the_first_provider_still_delivers_through_the_second(make_app, fake, results, fault):
    app = make_app(["aliyun", "tencent"], SMS_TIMEOUT=TIMEOUT, **_fail(fake, "aliyun", fault))
    client = app.test_client()

    started = time.monotonic()
    response = client.post("/sms_captcha/", json={"phone": PHONE})
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"ok": True, "expires_in": 300, "resend_after": 60}
    (text,) = fake.received("tencent")
    assert text.phones == [E164] and text.reply == "ok"
    tried = fake.received("aliyun")
    if fault == "connection_refused":
        assert tried == []
    else:
        assert [r.phones for r in tried] == [[PHONE]]  # aliyun was asked first, and failed
    (result,) = results.results
    assert result.provider == "tencent" and result.delivered == {E164: "tencent"}
    assert [(a.provider, a.ok, a.code) for a in result.attempts] == [
        ("aliyun", False, FAULTS[fault]),
        ("tencent", True, "OK"),
    ]
    assert elapsed < TIMEOUT + 1.5, f"failover took {elapsed:.2f}s"

    # the code that went out through the second vendor is the live one
    code = text.params[0]
    assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["ok"] is True


def _assert_send_failed(response: Any) -> None:
    assert response.status_code == 502
    body = response.get_json()
    assert set(body) == {"ok", "error", "message"}
    assert body["ok"] is False and body["error"] == "send_failed"
    raw = response.get_data(as_text=True)
    leaked = [word for word in VENDOR_WORDS if word.lower() in raw.lower()]
    assert not leaked, (leaked, raw)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_all_providers_hanging_answer_502_within_the_timeout_budget(make_app, fake, language):
    providers = ["aliyun", "tencent", "ronglian"]
    for vendor in providers:
        _fail(fake, vendor, "hang")
    app = make_app(providers, SMS_TIMEOUT=TIMEOUT, SMS_LANGUAGE=language)
    client = app.test_client()

    started = time.monotonic()
    response = client.post("/sms_captcha/", json={"phone": PHONE})
    elapsed = time.monotonic() - started

    _assert_send_failed(response)
    budget = len(providers) * TIMEOUT + 1
    assert elapsed <= budget, f"502 after {elapsed:.2f}s, budget {budget}s"
    assert [len(fake.received(vendor)) for vendor in providers] == [1, 1, 1]  # each tried once, no retries
    print(f"\n502 with {len(providers)} hanging providers, SMS_TIMEOUT={TIMEOUT}: {elapsed:.2f}s (budget {budget}s)")


def test_every_kind_of_fault_at_once_answers_502_within_budget(make_app, fake):
    plan = {"aliyun": "http_500", "tencent": "garbage", "ronglian": "connection_refused", "ihuyi": "hang"}
    overrides: dict[str, Any] = {}
    for vendor, fault in plan.items():
        overrides.update(_fail(fake, vendor, fault))
    app = make_app(list(plan), SMS_TIMEOUT=TIMEOUT, **overrides)

    started = time.monotonic()
    response = app.test_client().post("/sms_captcha/", json={"phone": PHONE})
    elapsed = time.monotonic() - started

    _assert_send_failed(response)
    assert elapsed <= len(plan) * TIMEOUT + 1, f"502 after {elapsed:.2f}s"


def test_business_errors_everywhere_answer_502_without_vendor_codes_and_keep_the_cooldown(make_app, fake):
    providers = ["aliyun", "tencent", "ronglian", "ihuyi"]
    for vendor in providers:
        fake.set_mode(vendor, "business_error")
    app = make_app(providers, SMS_TIMEOUT=TIMEOUT)
    client = app.test_client()

    response = client.post("/sms_captcha/", json={"phone": PHONE})
    _assert_send_failed(response)
    assert "Retry-After" not in response.headers
    assert [len(fake.received(vendor)) for vendor in providers] == [1, 1, 1, 1]
    assert [r.reply.split(":")[0] for vendor in providers for r in fake.received(vendor)] == ["business_error"] * 4

    # a failed send does not burn the cool-down: once a vendor works again, the retry goes out at once
    for vendor in providers:
        fake.set_mode(vendor, "ok")
    retry = client.post("/sms_captcha/", json={"phone": PHONE})
    assert retry.status_code == 200, retry.get_json()
    assert len(fake.received("aliyun")) == 2
