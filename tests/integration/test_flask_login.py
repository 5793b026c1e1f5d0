"""Phone login in a Flask-Login app, end to end: send, read the code from the dev inbox, verify, log in."""

from __future__ import annotations

import login_app
from integration_helpers import inbox

PHONE = "13800138000"


def test_phone_login_end_to_end():
    app = login_app.create_app(TESTING=True, SMS_DEV_INBOX=True, SMS_SUPPRESS_SEND=False)
    client = app.test_client()
    assert client.get("/").status_code == 302  # login_required
    page = client.get("/login").get_data(as_text=True)
    assert "data-sms-send" in page and 'name="token"' in page
    assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 200
    code = inbox(client)[0]["code"]
    token = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["token"]
    signed_in = client.post("/login/phone", data={"token": token})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    assert client.get("/").get_data(as_text=True) == "Signed in as +8613800138000"
    other = app.test_client()
    again = other.post("/login/phone", data={"token": token})  # a token redeems once
    assert again.headers["Location"] == "/login" and other.get("/").status_code == 302
