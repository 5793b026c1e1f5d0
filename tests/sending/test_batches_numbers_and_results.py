"""Failover, batching, numbers, parameters and the result, through the real SDKs."""

from __future__ import annotations

import pytest

from flask_sms import InvalidPhoneNumber, MissingParameter, SendError, SmsError, UnknownPurpose, send_sms, sms_sent

PARAMS = {"code": "483920", "minutes": 5}


def test_failover_follows_configured_order(make_app, fake):
    fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="账户余额不足")
    fake.set_mode("tencent", "http_500")
    app = make_app(["aliyun", "tencent", "ronglian", "ihuyi"])
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)

    assert result.ok and result.provider == "ronglian"
    assert [(a.provider, a.ok, a.code) for a in result.attempts] == [
        ("aliyun", False, "isv.AMOUNT_NOT_ENOUGH"),
        ("tencent", False, "ServerNetworkError"),
        ("ronglian", True, "OK"),
    ]
    assert len(fake.received("ronglian")) == 1
    assert fake.received("ihuyi") == []


def test_send_error_lists_every_vendor_in_order(make_app, fake):
    fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="账户余额不足")
    fake.set_mode(
        "tencent", "business_error", code="FailedOperation.InsufficientBalanceInSmsPackage", message="余量不足"
    )
    fake.set_mode("ronglian", "http_500")
    app = make_app(["aliyun", "tencent", "ronglian"])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)

    error = caught.value
    assert [(a.provider, a.code) for a in error.attempts] == [
        ("aliyun", "isv.AMOUNT_NOT_ENOUGH"),
        ("tencent", "FailedOperation.InsufficientBalanceInSmsPackage"),
        ("ronglian", "http_500"),
    ]
    assert str(error).startswith(
        "aliyun: isv.AMOUNT_NOT_ENOUGH 账户余额不足; "
        "tencent: FailedOperation.InsufficientBalanceInSmsPackage 余量不足; ronglian: http_500"
    )


def test_per_number_refusal_fails_over_only_that_number(make_app, fake):
    fake.reject_number("tencent", "+8613900139000", "LimitExceeded.AppDailyLimit", "业务短信日下发条数超过设定的上限")
    app = make_app(["tencent", "aliyun"])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)

    assert result.ok
    assert result.delivered == {"+8613800138000": "tencent", "+8613900139000": "aliyun"}
    assert [r.phones for r in fake.received("aliyun")] == [["13900139000"]]
    refusal = next(a for a in result.attempts if not a.ok)
    assert (refusal.code, refusal.phones, refusal.outcome) == (
        "LimitExceeded.AppDailyLimit",
        ("+8613900139000",),
        "failed",
    )


def test_a_number_refused_for_good_is_not_failed_over(make_app, fake):
    """The vendor's own per-number cap: another vendor would defeat it."""
    fake.reject_number(
        "tencent", "+8613900139000", "LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发短信条数超过设定的上限"
    )
    app = make_app(["tencent", "aliyun"])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)

    assert not result.ok and result.delivered == {"+8613800138000": "tencent"}
    assert fake.received("aliyun") == []
    refusal = result.failed["+8613900139000"]
    assert (refusal.provider, refusal.code, refusal.outcome) == (
        "tencent",
        "LimitExceeded.PhoneNumberDailyLimit",
        "rejected",
    )


def test_number_refused_by_the_last_provider_is_reported_in_failed(make_app, fake):
    fake.reject_number("tencent", "+8613900139000", "InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误")
    app = make_app(["tencent"])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)
    assert not result.ok and result.provider == "tencent"
    assert set(result.failed) == {"+8613900139000"}
    assert result.failed["+8613900139000"].code == "InvalidParameterValue.IncorrectPhoneNumber"


def _numbers(count: int) -> list[str]:
    return [f"+86139{index:08d}" for index in range(count)]


@pytest.mark.parametrize(
    ("vendor", "count", "sizes"),
    [
        ("aliyun", 2500, [1000, 1000, 500]),
        ("tencent", 450, [200, 200, 50]),
        ("ronglian", 450, [200, 200, 50]),
        ("ihuyi", 3, [1, 1, 1]),
    ],
)
def test_batches_are_split_at_each_vendors_maximum(make_app, fake, vendor, count, sizes):
    app = make_app([vendor])
    with app.app_context():
        result = send_sms(_numbers(count), "captcha", PARAMS)
    assert result.ok and len(result.delivered) == count
    assert sorted(len(r.phones) for r in fake.received(vendor)) == sorted(sizes)


def test_a_failed_chunk_fails_over_while_the_others_stay(make_app, fake):
    numbers = _numbers(250)
    fake.reject_number("tencent", numbers[210], "LimitExceeded.AppDailyLimit", "业务短信日下发条数超过设定的上限")
    app = make_app(["tencent", "aliyun"])
    with app.app_context():
        result = send_sms(numbers, "captcha", PARAMS)
    assert result.ok
    assert result.delivered[numbers[210]] == "aliyun"
    assert sum(1 for provider in result.delivered.values() if provider == "tencent") == 249


@pytest.mark.parametrize("same", ["+86 138-0013-8000", "8613800138000", "13800138000", "0086 138 0013 8000"])
def test_ways_of_writing_one_number_are_one_number(make_app, fake, same):
    app = make_app(["aliyun"])
    with app.app_context():
        result = send_sms([same, "13800138000"], "captcha", PARAMS)
    assert list(result.delivered) == ["+8613800138000"]
    assert fake.received("aliyun")[0].phones == ["13800138000"]


@pytest.mark.parametrize("bad", ["12345", "", "not a number", "+86 100", None, 3.14, ["13800138000", "1"], []])
def test_invalid_number_raises_before_any_vendor_is_called(make_app, fake, bad):
    app = make_app(["aliyun", "tencent"])
    with app.app_context(), pytest.raises(InvalidPhoneNumber):
        send_sms(bad, "captcha", PARAMS)
    assert fake.accepted == [] and fake.rejected == []


def test_invalid_number_is_an_sms_error():
    assert issubclass(InvalidPhoneNumber, SmsError)


def test_default_region_reads_local_numbers(make_app, fake):
    app = make_app(["tencent"], SMS_DEFAULT_REGION="HK")
    with app.app_context():
        result = send_sms("6123 4567", "captcha", PARAMS)
    assert list(result.delivered) == ["+85261234567"]


def test_missing_parameter_is_clear_and_sends_nothing(make_app, fake):
    app = make_app(["aliyun", "tencent"])
    with app.app_context(), pytest.raises(MissingParameter) as caught:
        send_sms("13800138000", "captcha", {"code": "1234"})
    assert "minutes" in str(caught.value) and "tencent" in str(caught.value)
    assert not isinstance(caught.value, KeyError)
    assert fake.accepted == []


def test_ihuyi_missing_field_is_a_missing_parameter(make_app, fake):
    app = make_app(["ihuyi"])
    with app.app_context(), pytest.raises(MissingParameter, match="'code'"):
        send_sms("13800138000", "captcha", {"minutes": 5})


def test_template_params_pick_and_order_what_is_sent(make_app, fake):
    app = make_app(["aliyun"])
    with app.app_context():
        send_sms("13800138000", "notice", {"name": "张三", "extra": "not sent"})
    assert fake.received("aliyun")[0].params == {"name": "张三"}
    assert fake.received("aliyun")[0].template == "SMS_200"


def test_unknown_purpose(make_app, fake):
    app = make_app(["aliyun"])
    with app.app_context(), pytest.raises(UnknownPurpose):
        send_sms("13800138000", "marketing", PARAMS)


def test_providers_without_the_purpose_are_skipped(make_app, fake):
    app = make_app(["aliyun", "tencent"], SMS_ALIYUN_TEMPLATES={"other": "SMS_9"})
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)
    assert result.provider == "tencent" and fake.received("aliyun") == []


def test_sms_sent_signal_and_extension_method(make_app, fake):
    app = make_app(["tencent"])
    seen = []

    def listener(sender, message, result, **extra):
        seen.append((sender, message.phones, message.purpose, result.provider))

    sms_sent.connect(listener)
    try:
        with app.app_context():
            app.extensions["sms"].send("13800138000", "captcha", PARAMS)
    finally:
        sms_sent.disconnect(listener)
    assert seen == [(app, ("+8613800138000",), "captcha", "tencent")]


def test_suppress_send_records_and_sends_nothing(make_app, fake):
    app = make_app(["aliyun"], SMS_SUPPRESS_SEND=True)
    sms = app.extensions["sms"]
    with app.app_context(), sms.record_messages() as outbox:
        result = send_sms(["13800138000", "+85261234567"], "captcha", PARAMS)
    assert result.ok and result.suppressed
    assert [(m.phones, m.purpose, m.params) for m in outbox] == [
        (("+8613800138000", "+85261234567"), "captcha", {"code": "483920", "minutes": "5"})
    ]
    assert fake.accepted == []


def test_suppress_send_still_checks_numbers_and_params(make_app, fake):
    app = make_app(["tencent"], SMS_SUPPRESS_SEND=True)
    with app.app_context():
        with pytest.raises(InvalidPhoneNumber):
            send_sms("123", "captcha", PARAMS)
        with pytest.raises(MissingParameter):
            send_sms("13800138000", "captcha", {})


def test_testing_app_defaults_to_suppressed_console():
    from flask import Flask

    from flask_sms import SmsExtension

    app = Flask("t")
    app.testing = True
    app.secret_key = "test-secret-key-for-flask-sms"
    sms = SmsExtension(app)
    assert app.config["SMS_PROVIDERS"] == ["console"] and app.config["SMS_SUPPRESS_SEND"] is True
    with app.app_context(), sms.record_messages() as outbox:
        send_sms("13800138000", "welcome", {"name": "x"})
    assert outbox[0].purpose == "welcome"


@pytest.mark.parametrize("vendor", ["aliyun", "tencent", "ronglian", "ihuyi"])
def test_clients_are_built_once_and_connections_kept_alive(make_app, fake, vendor):
    app = make_app([vendor])
    (provider,) = app.extensions["sms"]._state(app).sender.providers
    client = getattr(provider, "client", None) or provider.session
    with app.app_context():
        for _ in range(3):
            send_sms("13800138000", "captcha", PARAMS)
    assert (getattr(provider, "client", None) or provider.session) is client
    received = fake.received(vendor)
    assert len(received) == 3
    assert len({r.client_port for r in received}) == 1, "each send opened a new connection"


def test_result_lists_each_accepted_text_with_the_callers_out_id(make_app, fake):
    fake.reject_number("tencent", "+8613900139000", "FailedOperation.PhoneNumberInBlacklist", "黑名单")
    app = make_app(["tencent"])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS, out_id="order-42")

    assert result.out_id == "order-42"
    assert [(m.phone, m.provider, m.out_id) for m in result.messages] == [("+8613800138000", "tencent", "order-42")]
    assert result.messages[0].message_id


def test_a_send_without_out_id_gets_its_own(make_app, fake):
    app = make_app(["aliyun"])
    with app.app_context():
        first = send_sms("13800138000", "captcha", PARAMS)
        second = send_sms("13800138000", "captcha", PARAMS)

    assert first.out_id and second.out_id and first.out_id != second.out_id
    assert [m.out_id for m in first.messages] == [first.out_id]


@pytest.mark.parametrize("bad", ["", "x" * 65, "订单", "a\nb", 42])
def test_a_bad_out_id_is_refused_before_any_vendor_is_called(make_app, fake, bad):
    app = make_app(["aliyun"])
    with app.app_context(), pytest.raises(SmsError, match="out_id"):
        send_sms("13800138000", "captcha", PARAMS, out_id=bad)
    assert fake.received("aliyun") == []
