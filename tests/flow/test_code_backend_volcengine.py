"""SMS_CODE_BACKEND = "volcengine": Volcengine's 短信验码 (SendSmsVerifyCode / CheckSmsVerifyCode), signed as SendSms.

Volcengine makes, texts and checks the code; a code is per number and ``Scene`` (the purpose),
so each purpose keeps its own here too. The flow keeps the cool-down, the quotas, the attempt
cap (counted here first) and the token, and never the code.
"""

from __future__ import annotations

from typing import Any

import pytest

from flask_sms import ConfigError

PHONE = "13800138000"
E164 = "+8613800138000"


@pytest.fixture
def volc_app(make_app, clock):
    def factory(**config: Any):
        options = {"limits_off": ("ip", "verify_ip"), "clock": clock, "SMS_CODE_BACKEND": "volcengine"}
        return make_app(["tencent"], **{**options, **config})

    return factory


def volc(fake: Any) -> Any:
    return fake.plugin("volcengine_verify")


def send(client, purpose: str = "captcha") -> Any:
    return client.post("/sms_captcha/", json={"phone": PHONE, "purpose": purpose})


def verify(client, code: str, purpose: str = "captcha") -> Any:
    return client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code, "purpose": purpose})


def test_volcengine_makes_texts_and_checks_the_code(volc_app, fake):
    app = volc_app()
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        answer = send(client)
    assert answer.status_code == 200 and answer.get_json() == {"ok": True, "expires_in": 300, "resend_after": 60}
    (request,) = fake.received("volcengine_verify")
    sent = request.raw
    assert (sent["SmsAccount"], sent["Sign"], sent["TemplateID"]) == ("7a2b1c3d", "火山引擎测试", "ST_otp_5e6f7a8b")
    assert (sent["PhoneNumber"], sent["Scene"]) == (PHONE, "captcha")
    assert (sent["CodeType"], sent["ExpireTime"], sent["TryCount"]) == (6, 300, 5)
    assert fake.received("volcengine") == [] and fake.received("tencent") == []
    assert [message.params for message in outbox] == [{}]
    code = volc(fake).code_of(PHONE)
    passed = verify(client, code)
    assert passed.status_code == 200 and passed.get_json()["token"]
    (check,) = [r for r in fake.received("volcengine_verify") if "Code" in r.raw]
    assert (check.raw["Scene"], check.raw["Code"]) == ("captcha", code)
    assert verify(client, code).get_json()["error"] == "code_expired"  # single use


def test_a_wrong_code_is_invalid_and_the_cap_stops_a_guesser_here(volc_app, fake):
    client = volc_app(SMS_MAX_ATTEMPTS=3).test_client()
    send(client)
    code = volc(fake).code_of(PHONE)
    guesses = [f"{n:06d}" for n in range(10) if f"{n:06d}" != code][:5]
    answers = [verify(client, guess).get_json()["error"] for guess in guesses]
    assert answers == ["invalid_code"] * 3 + ["too_many_attempts"] * 2
    assert volc(fake).checks == 3  # Volcengine was asked about three guesses, never more
    assert fake.received("volcengine_verify")[0].raw["TryCount"] == 3  # its own count ends the code no sooner


def test_a_code_volcengine_calls_expired_is_code_expired(volc_app, fake):
    client = volc_app().test_client()
    send(client)
    code = volc(fake).code_of(PHONE)
    volc(fake).expire()
    answer = verify(client, code)
    assert answer.status_code == 400 and answer.get_json()["error"] == "code_expired"


def test_each_purpose_keeps_its_own_code(volc_app, fake):
    client = volc_app(SMS_CAPTCHA_PURPOSES=["captcha", "reset"]).test_client()
    assert send(client).status_code == 200 and send(client, "reset").status_code == 200
    captcha, reset = volc(fake).code_of(PHONE), volc(fake).code_of(PHONE, "reset")
    assert verify(client, reset).status_code == 400 or captcha == reset  # another Scene's code
    assert verify(client, captcha).status_code == 200
    assert verify(client, reset, "reset").status_code == 200


def test_an_unreachable_check_is_503_never_a_pass(volc_app, fake):
    client = volc_app(SMS_TIMEOUT=0.5).test_client()
    send(client)
    code = volc(fake).code_of(PHONE)
    for mode, kw in (
        ("http_500", {}),
        ("garbage", {}),
        ("business_error", {"code": "RE:0010"}),
        ("hang", {"seconds": 3}),
    ):
        fake.set_mode("volcengine_verify", mode, **kw)
        answer = verify(client, code)
        assert answer.status_code == 503 and answer.get_json()["error"] == "unavailable", mode
    fake.set_mode("volcengine_verify", "ok")
    assert verify(client, code).status_code == 200


def test_no_failover_and_a_bad_number_keeps_the_cool_down(volc_app, fake):
    fake.set_mode("volcengine_verify", "business_error", code="RE:0010")
    client = volc_app().test_client()
    assert send(client).status_code == 502
    assert fake.received("tencent") == [] and fake.received("volcengine") == []
    fake.set_mode("volcengine_verify", "ok")
    fake.reject_number("volcengine_verify", PHONE, "RE:0006", "手机号格式错误")
    assert send(client).get_json()["error"] == "phone_rejected"
    assert send(client).status_code == 429


def test_the_sms_provider_keeps_its_own_breaker(volc_app, fake):
    app = volc_app(SMS_PROVIDERS=["volcengine"])
    sms = app.extensions["sms"]
    backend = sms._states[app].codes._vendor.backend
    assert backend.name == "volcengine_verify"  # results, logs and breaker apart from the texts' "volcengine"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"SMS_CODE_LENGTH": 5}, "volcengine makes codes of 4, 6 or 8 digits"),
        ({"SMS_CODE_TTL": 120}, "volcengine keeps a code 180 to 1800 seconds"),
        ({"SMS_MAX_ATTEMPTS": 11}, "volcengine allows at most 10 tries"),
        ({"SMS_VOLCENGINE_VERIFY_TEMPLATE_ID": None}, "SMS_VOLCENGINE_VERIFY_TEMPLATE_ID is required"),
        ({"SMS_PROVIDERS": ["volcengine:verify"]}, "SMS_VOLCENGINE_VERIFY_* are the vendor's verify keys"),
    ],
)
def test_config_problems(volc_app, config, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("*", r"\*")):
        volc_app(**config)
