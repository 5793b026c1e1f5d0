"""What only one vendor (or a few) does, through its real SDK or documented API against the loopback fake.

What every vendor does alike is tests/sending/test_vendor_matrix.py.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from fake_vendor import unused_port
from helpers import config_problems
from vendor_config import CLOSED

from flask_sms import SendError, send_sms
from flask_sms.providers import provider_class

PARAMS = {"code": "483920", "minutes": 5}


def test_ihuyi_cannot_reach_abroad_so_the_next_provider_does(make_app, fake):
    app = make_app(["ihuyi", "tencent"])
    with app.app_context():
        result = send_sms(["+85261234567", "13800138000"], "captcha", PARAMS)
    assert result.delivered == {"+85261234567": "tencent", "+8613800138000": "ihuyi"}
    assert [r.phones for r in fake.received("ihuyi")] == [["13800138000"]]
    assert [r.phones for r in fake.received("tencent")] == [["+85261234567"]]


def test_ihuyi_alone_reports_the_number_it_cannot_reach(make_app, fake):
    app = make_app(["ihuyi"])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("+85261234567", "captcha", PARAMS)
    assert caught.value.result.failed["+85261234567"].code == "unsupported_number"
    assert not fake.received("ihuyi")


def test_huawei_request_level_errors_come_as_http_4xx_and_keep_the_vendor_code(make_app, fake):
    fake.set_mode("huawei", "business_error", code="E000623", message="短信发送量达到限额")
    app = make_app(["huawei"])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.code, attempt.message) == ("E000623", "短信发送量达到限额")


def test_huawei_refuses_single_numbers_inside_an_accepted_request(make_app, fake):
    fake.reject_number("huawei", "+8613900139000", "E200041", "")
    app = make_app(["huawei"])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)
    assert not result.ok
    assert result.delivered == {"+8613800138000": "huawei"}
    assert (result.failed["+8613900139000"].code, result.failed["+8613900139000"].message) == (
        "E200041",
        "同一短信内容接收号码重复",
    )


def test_volcengine_gateway_errors_keep_their_code_at_any_http_status(make_app, fake):
    fake.set_mode("volcengine", "business_error", code="InternalError", message="Service has some internal Error.")
    app = make_app(["volcengine"])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.code, attempt.message) == ("InternalError", "Service has some internal Error.")
    assert len(fake.received("volcengine")) == 1


@pytest.mark.parametrize(
    ("vendor", "code", "message"),
    [("baidu", "4641", "命中全局黑名单"), ("yunpian", "17", "24小时内同一手机号发送次数超过限制")],
)
def test_per_number_codes_in_an_accepted_batch_refuse_only_that_number(make_app, fake, vendor, code, message):
    fake.reject_number(vendor, "13900139000", code, message)
    app = make_app([vendor])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)
    assert result.delivered == {"+8613800138000": vendor}
    refused = result.failed["+8613900139000"]
    assert (refused.code, refused.message) == (code, message)
    assert provider_class(vendor).classify(refused.code) == "rejected"
    assert len(fake.received(vendor)) == 1


def test_baidu_sdk_debug_log_never_shows_the_code_or_the_signing_key(make_app, fake, caplog):
    """bce-python-sdk logs the whole request body and its derived signing key at DEBUG."""
    caplog.set_level(logging.DEBUG)
    app = make_app(["baidu"])
    with app.app_context():
        send_sms("13800138000", "captcha", PARAMS)
        fake.set_mode("baidu", "http_500")
        with pytest.raises(SendError):
            send_sms("13800138000", "captcha", PARAMS)
    seen = caplog.text + "".join(f"{r.args!r}" for r in caplog.records)
    assert "483920" not in seen
    assert "sign_key" not in seen and "bce-auth-v1" not in seen
    assert [r for r in caplog.records if r.name.startswith("baidubce") and r.levelno <= logging.DEBUG] == []


def test_yunpian_sends_mainland_numbers_in_one_batch_and_each_number_abroad_alone(make_app, fake):
    app = make_app(["yunpian"], SMS_YUNPIAN_SEND_UID=True)
    phones = ["13800138000", "13900139000", "+1 650-253-0000", "+852 6123 4567"]
    with app.app_context():
        result = send_sms(phones, "captcha", PARAMS, out_id="order-7")
    assert result.ok and len(result.delivered) == 4
    sent = sorted((r.raw["mobile"], r.raw.get("uid"), r.params) for r in fake.received("yunpian"))
    abroad = "【Yunpian】Your verification code is 483920, valid for 5 minutes."  # the international template
    assert sent == [
        ("+16502530000", "order-7", abroad),
        ("+85261234567", "order-7", abroad),
        ("13800138000,13900139000", "order-7", "【云片测试】您的验证码是483920，5分钟内有效。"),
    ]


def test_a_content_template_missing_a_value_sends_nothing(make_app, fake):
    from flask_sms import MissingParameter

    app = make_app(["yunpian"])
    with app.app_context(), pytest.raises(MissingParameter):
        send_sms("13800138000", "captcha", {"code": "483920"})
    assert fake.received("yunpian") == [] and fake.rejected == []


@pytest.mark.parametrize(("vendor", "field"), [("baidu", "signatureId"), ("qiniu", "signature_id")])
def test_a_templates_sign_is_the_purposes_own_signature_id(make_app, fake, vendor, field):
    from vendor_config import TEMPLATES

    templates = {**TEMPLATES[vendor], "notice": {**TEMPLATES[vendor]["notice"], "sign": "sms-sign-Mall0002"}}
    app = make_app([vendor], **{f"SMS_{vendor.upper()}_TEMPLATES": templates})
    with app.app_context():
        send_sms("13800138000", "notice", {"name": "张三"})
        send_sms("13800138000", "captcha", PARAMS)
    notice, captcha = fake.received(vendor)
    assert notice.raw[field] == "sms-sign-Mall0002"
    assert captcha.raw.get(field) == app.config.get(f"SMS_{vendor.upper()}_SIGNATURE_ID")


# -- sign name per purpose -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vendor", "field"),
    [("aliyun", "SignName"), ("tencent", "SignName"), ("huawei", "signature"), ("volcengine", "Sign")],
)
def test_a_templates_sign_overrides_the_providers_sign_name_for_that_purpose(make_app, fake, vendor, field):
    from vendor_config import TEMPLATES

    templates = dict(TEMPLATES[vendor])
    own = templates["notice"] if isinstance(templates["notice"], dict) else {"id": templates["notice"]}
    templates["notice"] = {**own, "sign": "某某商城"}
    app = make_app([vendor], **{f"SMS_{vendor.upper()}_TEMPLATES": templates})
    with app.app_context():
        send_sms("13800138000", "notice", {"name": "张三"})
        send_sms("13800138000", "captcha", PARAMS)
    notice, captcha = fake.received(vendor)
    assert notice.raw[field] == "某某商城"
    assert captcha.raw.get(field, "") == app.config.get(f"SMS_{vendor.upper()}_SIGN_NAME", "")
    assert captcha.raw.get(field, "") != "某某商城"


def test_a_sign_on_a_vendor_without_a_sign_per_request_is_a_config_problem():
    from flask import Flask

    from flask_sms import SmsExtension

    def problems(templates: Any) -> list[str]:
        app = Flask("sign_check")
        app.config.update(
            SECRET_KEY="test-secret-key-for-flask-sms",
            SMS_PROVIDERS=["ronglian"],
            SMS_RONGLIAN_ACCOUNT_SID="sid0",
            SMS_RONGLIAN_AUTH_TOKEN="token0",
            SMS_RONGLIAN_APP_ID="app0",
            SMS_RONGLIAN_TEMPLATES=templates,
        )
        return config_problems(SmsExtension(app), app)

    assert problems({"captcha": {"id": "1", "sign": "某某商城"}, "notice": {"id": "2", "sign": ""}}) == [
        "SMS_RONGLIAN_TEMPLATES['notice']['sign'] must be a non-empty sign name"
    ]
    assert problems({"captcha": {"id": "1", "sign": "某某商城"}}) == [
        "SMS_RONGLIAN_TEMPLATES['captcha'] has a 'sign', but ronglian takes no sign name per request"
    ]


# -- through the public route ------------------------------------------------------------------------------------
def _fail(fake: Any, vendor: str, fault: str) -> dict[str, Any]:
    if fault == "connection_refused":
        return CLOSED[vendor](unused_port())
    if fault == "hang":
        fake.set_mode(vendor, "hang", seconds=4)
    else:
        fake.set_mode(vendor, fault)
    return {}


@pytest.mark.parametrize(("first", "second"), [("huawei", "volcengine"), ("volcengine", "huawei")])
@pytest.mark.parametrize("fault", ["http_500", "hang", "garbage", "connection_refused", "business_error"])
def test_a_fault_on_huawei_or_volcengine_fails_over_to_the_other_through_the_route(
    make_app, fake, first, second, fault
):
    # a hang or an unreadable 200 may have sent the text: those fail over only when asked to
    maybe_sent = fault in ("hang", "garbage")
    app = make_app([first, second], SMS_TIMEOUT=1, SMS_FAILOVER_ON_TIMEOUT=maybe_sent, **_fail(fake, first, fault))
    client = app.test_client()
    started = time.monotonic()
    response = client.post("/sms_captcha/", json={"phone": "13800138000"})
    assert response.status_code == 200, response.get_json()
    assert time.monotonic() - started < 2.5
    (text,) = fake.received(second)
    assert text.phones == ["+8613800138000"]
    assert len(fake.received(first)) == (0 if fault == "connection_refused" else 1)
    code = text.params[0] if isinstance(text.params, list) else text.params["code"]
    verified = client.post("/sms_captcha/verify", json={"phone": "13800138000", "code": code}).get_json()
    assert verified["ok"] is True


def test_huawei_and_volcengine_both_failing_answer_502_without_their_words(make_app, fake):
    fake.set_mode("huawei", "business_error")
    fake.set_mode("volcengine", "business_error")
    app = make_app(["huawei", "volcengine"], SMS_TIMEOUT=1)
    response = app.test_client().post("/sms_captcha/", json={"phone": "13800138000"})
    assert response.status_code == 502 and response.get_json()["error"] == "send_failed"
    raw = response.get_data(as_text=True)
    words = ["E000623", "短信发送量", "RE:0010", "欠费", "huawei", "volcengine"]
    assert [word for word in words if word in raw] == []
