"""A Bootstrap-themed app: the macro keeps the form's labels and takes its classes; login works end to end."""

from __future__ import annotations

import re

import bootstrap_app
from integration_helpers import inbox

PHONE = "13800138000"


def test_the_themed_page_and_a_login_through_it():
    app = bootstrap_app.create_app(TESTING=True, SMS_DEV_INBOX=True, SMS_SUPPRESS_SEND=False)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert '<label class="form-label" for="phone">手机号</label>' in page
    assert '<label class="form-label" for="code">短信验证码</label>' in page
    assert 'class="form-control" data-sms-phone' in page and 'placeholder="请输入手机号"' in page
    assert 'class="sms-send btn btn-outline-secondary" data-sms-send' in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    sent = client.post("/sms_captcha/", json={"phone": PHONE}, headers={"X-CSRFToken": token})  # what sms.js sends
    assert sent.status_code == 200
    assert client.post("/sms_captcha/", json={"phone": "13900139000"}).get_json()["error"] == "csrf_failed"
    code = inbox(client)[0]["code"]
    signed_in = client.post("/login", data={"phone": PHONE, "code": code, "csrf_token": token})
    assert signed_in.status_code == 302
    assert client.get("/").get_data(as_text=True) == "Signed in as 13800138000"
