"""SMS_TEST_NUMBERS: no text ever reaches a vendor, the fixed code verifies, the flow's limits still hold.

Everything runs through the real vendor SDKs against the loopback fake: a test number
must never show up there, whatever the providers.
"""

from __future__ import annotations

import pytest
from flask import Flask

from flask_sms import ConfigError, SmsExtension, send_sms

TEST_PHONE = "+8613800000000"
FIXED = "246810"
REAL_PHONE = "13900139000"


@pytest.fixture
def reviewer_app(make_app, clock):
    """Aliyun and Tencent pointed at the fake, sends not suppressed: any leak would reach the fake."""

    def factory(**config):
        options = {"limits_off": ("ip", "verify_ip"), "clock": clock, "SMS_TEST_NUMBERS": {TEST_PHONE: FIXED}}
        return make_app(["aliyun", "tencent"], **{**options, **config})

    return factory


def send(client, phone=TEST_PHONE, **extra):
    return client.post("/sms_captcha/", json={"phone": phone, **extra})


def verify(client, code, phone=TEST_PHONE):
    return client.post("/sms_captcha/verify", json={"phone": phone, "code": code})


def test_the_fixed_code_verifies_and_no_vendor_is_asked(reviewer_app, fake):
    app = reviewer_app()
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        response = send(client)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ok"] is True
    assert fake.accepted == [] and fake.rejected == []  # nothing left this process
    assert [message.params["code"] for message in outbox] == [FIXED]
    passed = verify(client, FIXED)
    assert passed.status_code == 200 and passed.get_json()["token"]
    again = verify(client, FIXED)  # single use, like any code (no live code: said like a wrong one)
    assert again.get_json()["error"] == "invalid_code"


def test_the_fixed_code_needs_a_send_first(reviewer_app):
    client = reviewer_app().test_client()
    assert verify(client, FIXED).get_json()["error"] == "invalid_code"


def test_the_cool_down_applies(reviewer_app, clock):
    client = reviewer_app().test_client()
    assert send(client).status_code == 200
    refused = send(client)
    assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"
    clock.advance(61)
    assert send(client).status_code == 200


def test_the_attempt_cap_applies(reviewer_app):
    client = reviewer_app(SMS_MAX_ATTEMPTS=3).test_client()
    nonce = send(client).get_json()["nonce"]  # the reviewer's app keeps it, as sms.js does

    def owner(code):
        return client.post("/sms_captcha/verify", json={"phone": TEST_PHONE, "code": code, "nonce": nonce})

    assert owner("000000").get_json()["error"] == "invalid_code"
    assert owner("000001").get_json()["error"] == "invalid_code"
    assert owner("000002").get_json()["error"] == "too_many_attempts"
    assert owner(FIXED).get_json()["error"] == "too_many_attempts"  # locked like any code


def test_the_quota_applies(reviewer_app, clock):
    client = reviewer_app(SMS_PHONE_LIMITS="2/hour").test_client()
    for _ in range(2):
        assert send(client).status_code == 200
        clock.advance(61)
    assert send(client).status_code == 429


def test_other_numbers_still_get_a_random_code_from_a_vendor(reviewer_app, fake):
    app = reviewer_app()
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        assert send(client, REAL_PHONE).status_code == 200
    (received,) = fake.received("aliyun")
    assert received.phones == ["13900139000"]
    assert received.params["code"] == outbox[0].params["code"]  # the code the flow made, on the wire


def test_send_sms_holds_back_test_numbers_in_a_bulk_send(reviewer_app, fake):
    app = reviewer_app()
    with app.app_context():
        result = send_sms([TEST_PHONE, REAL_PHONE], "notice", {"name": "王"})
    assert result.ok
    assert result.delivered == {TEST_PHONE: "test_number", "+8613900139000": "aliyun"}
    assert [r.phones for r in fake.received("aliyun")] == [["13900139000"]]


def test_send_sms_to_test_numbers_only_calls_nobody(reviewer_app, fake):
    app = reviewer_app()
    with app.app_context():
        result = send_sms(TEST_PHONE, "notice", {"name": "王"})
    assert result.ok and result.provider == "test_number"
    assert result.attempts == [] and fake.accepted == []


@pytest.mark.parametrize(
    ("numbers", "fragment"),
    [
        ({TEST_PHONE: "1234"}, "must be a code of 6 to 10 digits"),
        ({TEST_PHONE: "24681O"}, "must be a code of 6 to 10 digits"),
        ({TEST_PHONE: 246810}, "must be a code of 6 to 10 digits"),
        ({"13800000000": FIXED}, "not a valid number in E.164 form"),
        ({"+86123": FIXED}, "not a valid number in E.164 form"),
        ("+8613800000000", "must map E.164 numbers to fixed codes"),
    ],
)
def test_bad_test_numbers_are_config_problems(make_app, numbers, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make_app(["console"], SMS_TEST_NUMBERS=numbers)


def test_a_fixed_code_must_fit_the_code_box(make_app):
    with pytest.raises(ConfigError, match="has 8 digits, but SMS_CODE_LENGTH is 6"):
        make_app(["console"], SMS_TEST_NUMBERS={TEST_PHONE: "24681012"})
    app = make_app(["console"], SMS_TEST_NUMBERS={TEST_PHONE: "24681012"}, SMS_CODE_LENGTH=8)
    assert app.extensions["sms"].check(app).test_numbers == {TEST_PHONE: "24681012"}


def test_test_numbers_from_the_environment_are_read_as_json():
    app = Flask("env")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", TESTING=True)
    app.config["SMS_TEST_NUMBERS"] = '{"+86 138 0000 0000": "246810"}'  # as from_prefixed_env leaves it
    sms = SmsExtension(app)
    assert sms.check(app).test_numbers == {TEST_PHONE: FIXED}


def test_flask_sms_check_warns_outside_debug_and_testing(reviewer_app):
    app = reviewer_app()
    result = app.test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 0, result.output
    assert f"warning: SMS_TEST_NUMBERS lists {TEST_PHONE} outside debug and testing" in result.output
    app.testing = True
    quiet = app.test_cli_runner().invoke(args=["sms", "check"])
    assert quiet.exit_code == 0 and "warning" not in quiet.output
