"""Flask-BabelPlus (FlaskBB): flask_sms answers in the user's language, and phone login works end to end."""

from __future__ import annotations

import pytest

pytest.importorskip("flask_babelplus")

import babelplus_app
from integration_helpers import inbox

PHONE = "13800138000"


def test_answers_in_the_users_language_and_signs_in():
    app = babelplus_app.create_app(TESTING=True, SMS_DEV_INBOX=True, SMS_SUPPRESS_SEND=False)
    client = app.test_client()
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    bad = client.post("/sms_captcha/", json={"phone": "12"}, headers=english_browser)
    assert bad.get_json()["message"] == "手机号码格式不正确。"  # the forum's zh_CN, not the browser's English
    client.post("/settings/language", data={"language": "zh_TW"})
    assert client.post("/sms_captcha/", json={"phone": "12"}).get_json()["message"] == "手機號碼格式不正確。"
    assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 200
    code = inbox(client)[0]["code"]
    wrong = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": "000000" if code != "000000" else "1"})
    assert wrong.get_json()["message"] == "驗證碼不正確。"
    token = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["token"]
    assert client.post("/login", data={"token": token}).get_json() == {"ok": True, "user": "+8613800138000"}
