"""``sms.send_external_code``: a code another library made goes out under every limit of the flow, unstored."""

from __future__ import annotations

import pytest
from flask import Flask
from helpers import FakeClock

from flask_sms import RateLimited, SendError, SendRefused, SmsExtension, UnknownPurpose
from flask_sms.flow import normalise_code

SECRET = "a-long-enough-secret-key-for-the-test"
PHONE = "13800138000"


def make(**config) -> tuple[Flask, SmsExtension]:
    app = Flask("external")
    app.testing = True
    app.config.update(SECRET_KEY=SECRET, SMS_SUPPRESS_SEND=False, **config)
    sms = SmsExtension(app)
    sms.clock = FakeClock()
    return app, sms


def test_the_code_goes_out_as_given_and_is_not_stored():
    app, sms = make()
    with app.test_request_context(), sms.record_messages() as outbox:
        sent = sms.send_external_code(PHONE, "4821", purpose="login")  # not in SMS_CAPTCHA_PURPOSES
    assert (sent.phone, sent.purpose, sent.expires_in, sent.resend_after) == ("+8613800138000", "login", 0, 60)
    assert outbox[0].params == {"code": "4821", "minutes": "5"}
    with app.test_request_context():
        assert not sms.verify_code(PHONE, "4821", "captcha")  # flask_sms neither keeps nor checks it
    assert app.test_client().post("/sms_captcha/", json={"phone": PHONE, "purpose": "login"}).status_code == 400


def test_the_ip_limit_counts_each_attempt():
    app, sms = make(SMS_IP_LIMITS="2/hour")
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        sms.send_external_code(PHONE, "1111", purpose="login")
        with pytest.raises(RateLimited):
            sms.send_external_code(PHONE, "2222", purpose="login")  # the cool-down; the attempt counts
        with pytest.raises(RateLimited):
            sms.send_external_code("13900139000", "3333", purpose="login")  # the IP's 2 an hour
        sms.send_external_code("13900139000", "3333", purpose="login", client_ip="198.51.100.1")


def test_the_cool_down_phone_quota_and_global_limits_apply():
    app, sms = make(SMS_PHONE_LIMITS="2/hour", SMS_GLOBAL_LIMITS="3/hour", SMS_IP_LIMITS="")
    with app.test_request_context(), sms.record_messages() as outbox:
        sms.send_external_code(PHONE, "1111", purpose="login")
        with pytest.raises(RateLimited) as cool_down:
            sms.send_external_code(PHONE, "2222", purpose="login")
        assert cool_down.value.retry_after == 60 and cool_down.value.code == 429
        sms.clock.advance(61)
        sms.send_external_code(PHONE, "3333", purpose="login")
        sms.clock.advance(61)
        with pytest.raises(RateLimited):  # the phone quota: 2 an hour
            sms.send_external_code(PHONE, "4444", purpose="login")
        sms.send_external_code("13900139000", "5555", purpose="login")
        with pytest.raises(RateLimited):  # the app-wide ceiling: 3 an hour
            sms.send_external_code("13700137000", "6666", purpose="login")
    assert [message.params["code"] for message in outbox] == ["1111", "3333", "5555"]


def test_before_send_hooks_and_refusals_of_the_number():
    app, sms = make()
    refused = []

    @sms.before_send
    def no_login_texts_at_night(phone, purpose, request):
        refused.append((phone, purpose))
        return False

    with app.test_request_context(), pytest.raises(SendRefused):
        sms.send_external_code(PHONE, "1234", purpose="login")
    assert refused == [("+8613800138000", "login")]
    with app.test_request_context(), pytest.raises(ValueError):
        sms.send_external_code(PHONE, "", purpose="login")


def test_a_purpose_no_provider_can_send_is_refused(make_app):
    app = make_app(["aliyun"])
    sms = app.extensions["sms"]
    with app.test_request_context(), pytest.raises(UnknownPurpose):
        sms.send_external_code(PHONE, "1234", purpose="login")  # no Aliyun template for it
    with app.test_request_context():
        sms.send_external_code("13900139000", "1234", purpose="captcha")  # the cool-down of the failed one is back


def test_a_failed_send_gives_the_cool_down_back_and_keeps_flask_sms_codes(make_app, fake):
    app = make_app(["aliyun"], clock=FakeClock(), SMS_CAPTCHA_PURPOSES=["captcha"])
    sms = app.extensions["sms"]
    client = app.test_client()
    assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 200
    own_code = fake.received("aliyun")[-1].params["code"]
    sms.clock.advance(61)
    fake.set_mode("aliyun", "http_500", times=1)
    with app.test_request_context(), pytest.raises(SendError):
        sms.send_external_code(PHONE, "9999", purpose="captcha")
    with app.test_request_context():
        assert sms.verify_code(PHONE, normalise_code(own_code))  # the undo dropped no code of flask_sms's
