"""Each vendor's real SDK (or Ihuyi's form API) against the loopback fake vendor."""

from __future__ import annotations

import time

import pytest
from fake_vendor import unused_port

from flask_sms import SendError, send_sms

VENDORS = ["aliyun", "tencent", "ronglian", "ihuyi"]
PARAMS = {"code": "483920", "minutes": 5}


@pytest.mark.parametrize("vendor", VENDORS)
def test_success_reaches_vendor_in_its_own_format(make_app, fake, vendor):
    app = make_app([vendor])
    with app.app_context():
        result = send_sms("+86 138-0013-8000", "captcha", PARAMS)

    assert result.ok and result.provider == vendor
    assert result.delivered == {"+8613800138000": vendor}
    assert result.message_ids and all(result.message_ids)
    (received,) = fake.received(vendor)
    expected_phone = "+8613800138000" if vendor == "tencent" else "13800138000"
    assert received.phones == [expected_phone]
    expected_params = {
        "aliyun": {"code": "483920", "minutes": "5"},
        "tencent": ["483920", "5"],
        "ronglian": ["483920", "5"],
        "ihuyi": "您的验证码是:483920。请不要把验证码泄露给其他人。",
    }[vendor]
    assert received.params == expected_params
    if vendor in ("aliyun", "tencent"):
        assert received.sign_name in ("阿里云短信测试", "腾讯云测试")
    assert not fake.rejected


BUSINESS_ERRORS = {
    "aliyun": ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
    "tencent": ("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足"),
    "ronglian": ("160038", "短信验证码发送过频繁"),
    "ihuyi": ("4080", "同一手机号码同一秒钟之内发送频率不能超过1条"),
}


@pytest.mark.parametrize("vendor", VENDORS)
def test_business_error_in_http_200_keeps_vendor_code_and_message(make_app, fake, vendor):
    code, message = BUSINESS_ERRORS[vendor]
    fake.set_mode(vendor, "business_error", code=code, message=message)
    app = make_app([vendor])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)

    (attempt,) = caught.value.attempts
    assert (attempt.provider, attempt.code, attempt.message) == (vendor, code, message)
    assert str(caught.value) == f"{vendor}: {code} {message}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_http_500_fails(make_app, fake, vendor):
    fake.set_mode(vendor, "http_500")
    app = make_app([vendor])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    expected = "ServerNetworkError" if vendor == "tencent" else "http_500"
    assert attempt.code == expected
    # one request only: nothing retried a send that may already have gone out
    assert len(fake.received(vendor)) == 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_timeout_is_bounded_by_sms_timeout_and_unknown(make_app, fake, vendor):
    fake.set_mode(vendor, "hang", seconds=20)
    app = make_app([vendor], SMS_TIMEOUT=1)
    started = time.monotonic()
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)  # no SendError: the text may be on its way
    elapsed = time.monotonic() - started
    (attempt,) = result.attempts
    assert (attempt.code, attempt.outcome) == ("timeout", "unknown")
    assert not result.ok and result.unknown == {"+8613800138000": attempt} and not result.failed
    assert elapsed < 3, f"{vendor} took {elapsed:.1f}s with SMS_TIMEOUT=1"
    assert len(fake.received(vendor)) == 1  # not retried


@pytest.mark.parametrize("vendor", VENDORS)
def test_garbage_reply_is_unknown(make_app, fake, vendor):
    fake.set_mode(vendor, "garbage")
    app = make_app([vendor])
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)
    # a 200 that cannot be read: the vendor took the request, so the text may be out
    (attempt,) = result.attempts
    assert (attempt.code, attempt.outcome) == ("bad_reply", "unknown")
    assert result.unknown == {"+8613800138000": attempt}


@pytest.mark.parametrize("vendor", VENDORS)
def test_connection_refused_fails(make_app, fake, vendor):
    port = unused_port()
    closed = {
        "aliyun": {"SMS_ALIYUN_ENDPOINT": f"127.0.0.1:{port}"},
        "tencent": {"SMS_TENCENT_ENDPOINT": f"127.0.0.1:{port}"},
        "ronglian": {"SMS_RONGLIAN_BASE_URL": f"http://127.0.0.1:{port}"},
        "ihuyi": {"SMS_IHUYI_URL": f"http://127.0.0.1:{port}/webservice/sms.php?method=Submit"},
    }[vendor]
    app = make_app([vendor], **closed)
    started = time.monotonic()
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert attempt.code == "connection_error"
    assert time.monotonic() - started < 2


def test_wrong_secret_is_the_vendors_auth_error(make_app, fake):
    app = make_app(
        ["aliyun", "tencent"], SMS_ALIYUN_ACCESS_KEY_SECRET="wrong-secret", SMS_TENCENT_SECRET_KEY="wrong-key"
    )
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    aliyun, tencent = caught.value.attempts
    # the SDK turns SignatureDoesNotMatch into InvalidAccessKeySecret when it can tell
    assert aliyun.code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret")
    assert tencent.code == "AuthFailure.SignatureFailure"
    assert [vendor for vendor, _ in fake.rejected] == ["aliyun", "tencent"]


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [("aliyun", "16502530000"), ("tencent", "+16502530000"), ("ronglian", "0016502530000")],
)
def test_international_numbers_are_written_as_each_vendor_documents(make_app, fake, vendor, expected):
    app = make_app([vendor])
    with app.app_context():
        result = send_sms("+1 650-253-0000", "captcha", PARAMS)
    assert result.delivered == {"+16502530000": vendor}
    assert fake.received(vendor)[0].phones == [expected]


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
