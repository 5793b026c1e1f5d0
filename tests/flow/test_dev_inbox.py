"""The dev inbox (``SMS_DEV_INBOX``, ``GET {prefix}/sms_dev/inbox``): codes on a page in development, never elsewhere."""

from __future__ import annotations

import pytest
from flask import Flask
from helpers import config_problems

from flask_sms import SmsExtension
from flask_sms.dev_inbox import MAX_ENTRIES, inbox_for

SECRET = "a-long-enough-secret-key-for-the-test"
INBOX = "/sms_dev/inbox"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def debug_app(**config) -> Flask:
    app = Flask("inbox_app")
    app.debug = True
    app.config.update(SECRET_KEY=SECRET, SMS_IP_LIMITS="", SMS_PHONE_LIMITS="", SMS_RESEND_INTERVAL=1, **config)
    SmsExtension(app)
    return app


def test_on_by_default_in_debug_with_the_console_provider_newest_first():
    app = debug_app()
    client = app.test_client()
    assert client.get(INBOX).get_json() == {"ok": True, "messages": []}
    for phone in ("13800138000", "13900139000"):
        assert client.post("/sms_captcha/", json={"phone": phone}).status_code == 200
    response = client.get(INBOX)
    assert response.headers["Cache-Control"] == "no-store" and response.mimetype == "application/json"
    newest, oldest = response.get_json()["messages"]
    assert (newest["phone"], oldest["phone"]) == ("+8613900139000", "+8613800138000")
    assert newest["code"].isdigit() and len(newest["code"]) == 6 and newest["channel"] == "sms"
    assert newest["purpose"] == "captcha" and newest["status"] == "delivered"  # the console reports at once
    verified = client.post("/sms_captcha/verify", json={"phone": "13900139000", "code": newest["code"]})
    assert verified.get_json()["ok"] is True  # the code shown is the code sent


def test_a_browser_gets_a_small_page_with_the_codes():
    app = debug_app()
    client = app.test_client()
    client.post("/sms_captcha/", json={"phone": "13800138000"})
    code = client.get(INBOX).get_json()["messages"][0]["code"]
    page = client.get(INBOX, headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert f'<div class="code">{code}</div>' in html and "+8613800138000" in html
    assert client.get(INBOX, headers={"Accept": "*/*"}).mimetype == "application/json"


def test_it_keeps_the_last_fifty_texts():
    app = debug_app()
    with app.app_context():
        for number in range(MAX_ENTRIES + 5):
            app.extensions["sms"].send(f"1380013{number:04d}", "notice", {"n": str(number)})
    messages = app.test_client().get(INBOX).get_json()["messages"]
    assert len(messages) == MAX_ENTRIES
    assert messages[0]["params"] == {"n": str(MAX_ENTRIES + 4)} and messages[0]["code"] == ""


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"DEBUG": False, "TESTING": True}, id="testing, not turned on"),
        pytest.param({"DEBUG": True, "SMS_DEV_INBOX": False}, id="debug, turned off"),
        pytest.param({"DEBUG": True, "SMS_PROVIDERS": ["aliyun"]}, id="debug, real vendor"),
        pytest.param({"DEBUG": True, "SECRET_KEY": None}, id="debug, config problem"),
    ],
)
def test_otherwise_it_is_a_404_that_never_shows_a_code(config):
    app = Flask("no_inbox")
    app.config.update(SECRET_KEY=SECRET, SMS_PROVIDERS=["console"], SMS_SUPPRESS_SEND=False)
    app.config.update(config)
    SmsExtension(app)
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        client.post("/sms_captcha/", json={"phone": "13800138000"})
    response = client.get(INBOX)
    assert response.status_code == 404 and inbox_for(app) is None
    for message in outbox:
        assert message.params["code"] not in response.get_data(as_text=True)


def test_outside_debug_and_testing_turning_it_on_is_a_config_problem():
    app = Flask("production")
    app.config.update(SECRET_KEY=SECRET, SMS_PROVIDERS=["console"], SMS_DEV_INBOX=True)
    sms = SmsExtension(app)
    (problem,) = config_problems(sms, app)
    assert problem.startswith("SMS_DEV_INBOX is on outside debug and testing")
    assert app.test_client().get(INBOX).status_code == 404


def test_tests_may_turn_it_on_and_a_suppressed_send_is_not_in_it():
    app = Flask("tested")
    app.testing = True
    app.config.update(SECRET_KEY=SECRET, SMS_DEV_INBOX=True)  # SMS_SUPPRESS_SEND defaults to on under testing
    SmsExtension(app)
    client = app.test_client()
    assert client.post("/sms_captcha/", json={"phone": "13800138000"}).status_code == 200
    assert client.get(INBOX).get_json()["messages"] == []  # no console provider took it
    other = Flask("tested_sending")
    other.testing = True
    other.config.update(SECRET_KEY=SECRET, SMS_DEV_INBOX=True, SMS_SUPPRESS_SEND=False)
    SmsExtension(other)
    other.test_client().post("/sms_captcha/", json={"phone": "13800138000"})
    assert len(other.test_client().get(INBOX).get_json()["messages"]) == 1
    assert client.get(INBOX).get_json()["messages"] == []  # each app its own inbox


def test_it_follows_the_url_prefix():
    app = debug_app(SMS_URL_PREFIX="/api")
    client = app.test_client()
    client.post("/api/sms_captcha/", json={"phone": "13800138000"})
    assert len(client.get("/api" + INBOX).get_json()["messages"]) == 1
    assert client.get(INBOX).status_code == 404


def test_console_calls_are_in_it_too():
    app = debug_app(SMS_VOICE_PROVIDERS=["console"], SMS_VOICE_AFTER=0)
    client = app.test_client()
    assert client.post("/sms_captcha/", json={"phone": "13800138000"}).status_code == 200
    assert client.post("/sms_captcha/", json={"phone": "13800138000", "channel": "voice"}).status_code == 200
    call, text = client.get(INBOX).get_json()["messages"]
    assert (call["channel"], text["channel"]) == ("voice", "sms") and call["provider"] == "console"
    assert client.post("/sms_captcha/verify", json={"phone": "13800138000", "code": call["code"]}).get_json()["ok"]
    assert 'data-channel="voice"' in client.get(INBOX, headers={"Accept": BROWSER}).get_data(as_text=True)
