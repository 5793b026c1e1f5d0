"""sms.js and the Jinja macro in real Chromium, on the existing-app test app (its own CSRFProtect and Flask-Babel)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from browser_fixtures import shot
from existing_app import build_app
from werkzeug.serving import make_server

PHONE = "13800138000"


@pytest.fixture
def serve_existing() -> Any:
    servers = []

    def start(**config: Any) -> tuple[str, Any]:
        app, parts = build_app(
            "redis://127.0.0.1:1",  # not used: both caches are in memory here
            SMS_STORAGE_URL="memory://",
            CACHE_TYPE="SimpleCache",
            RATELIMIT_DEFAULT="100/hour",
            SMS_RESEND_INTERVAL=3,
            **config,
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}", parts

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(5)
        server.server_close()


def test_sms_js_sends_the_csrf_header_counts_down_and_shows_messages(serve_existing, page, expect):
    base, parts = serve_existing()
    sent = []
    page.on("request", lambda request: sent.append(request) if request.url.endswith("/sms_captcha/") else None)
    with parts["sms"].record_messages() as outbox:
        page.goto(base + "/login?lang=en")
        message = page.locator("[data-sms-message]")
        page.click("#send-code")
        expect(message).to_have_text("Please enter your phone number.")
        page.fill("#phone", "12345")
        page.click("#send-code")
        expect(message).to_have_text("That is not a valid phone number.")  # the API's own message
        page.fill("#phone", PHONE)
        page.click("#send-code")
        expect(message).to_have_text("Code sent. It is valid for 5 minutes.")
        button = page.locator("#send-code")
        expect(button).to_be_disabled()
        expect(button).to_have_text(re.compile(r"^Resend in [1-3]s$"))
        shot(page, "sms-js-countdown")
        expect(button).to_be_enabled(timeout=4000)
        expect(button).to_have_text("Get code")
    assert len(outbox) == 1  # CSRFProtect let it through: the header carried the token
    assert all(request.headers.get("x-csrftoken") for request in sent)

    page.fill("#code", outbox[0].params["code"])
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/welcome$"))


def test_the_macro_and_sms_js_speak_the_apps_babel_language(serve_existing, page, expect):
    base, _ = serve_existing()
    page.goto(base + "/login?lang=zh_Hant_TW")
    expect(page.locator("label[for=phone]")).to_have_text("手機號碼")
    expect(page.locator("#send-code")).to_have_text("取得驗證碼")
    page.fill("#phone", PHONE)
    page.click("#send-code")
    expect(page.locator("[data-sms-message]")).to_have_text("驗證碼已傳送，5 分鐘內有效。")
    expect(page.locator("#send-code")).to_have_text(re.compile(r"^[1-3] 秒後重新取得$"))


def test_call_me_instead_appears_only_when_the_server_offers_a_call(serve_existing, page, expect):
    base, parts = serve_existing(SMS_VOICE_PROVIDERS=["console"], SMS_VOICE_RESEND_INTERVAL=30)
    with parts["sms"].record_messages() as outbox:
        page.goto(base + "/login?lang=en")
        call = page.locator("[data-sms-channel=voice]")
        expect(call).to_be_hidden()  # no text yet: the server offers no call (SMS_VOICE_AFTER = 1)
        page.fill("#phone", PHONE)
        page.click("#send-code")
        expect(page.locator("[data-sms-message]")).to_have_text("Code sent. It is valid for 5 minutes.")
        expect(call).to_be_visible()
        expect(call).to_be_disabled()
        expect(call).to_have_text(re.compile(r"^Call me in [1-3]s$"))  # voice_after: the text's own resend wait
        expect(call).to_be_enabled(timeout=4000)
        expect(call).to_have_text("Call me instead")
        shot(page, "sms-js-call-me-instead")
        call.click()
        expect(page.locator("[data-sms-message]")).to_have_text("We are calling you. The code is valid for 5 minutes.")
        expect(call).to_have_text(re.compile(r"^Call me in (29|30)s$"))  # the call's own cool-down
    texted, called = outbox
    assert (texted.channel, called.channel) == ("sms", "voice")
    page.fill("#code", called.params["code"])  # the call's code replaced the text's
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/welcome$"))


def test_the_call_button_stays_hidden_without_voice(serve_existing, page, expect):
    base, _ = serve_existing()
    page.goto(base + "/login?lang=en")
    page.fill("#phone", PHONE)
    page.click("#send-code")
    expect(page.locator("[data-sms-message]")).to_have_text("Code sent. It is valid for 5 minutes.")
    expect(page.locator("[data-sms-channel=voice]")).to_be_hidden()  # no voice_after: no call is offered


def test_sms_js_asks_for_the_human_check_and_sends_again_with_it(serve_existing, page, expect):
    """``challenge_required``: sms.js calls FlaskSms.onChallenge, posts again with its answer, and keeps the
    send's nonce in the form (the macro's ``sms_nonce``) for the verify the form posts."""
    base, parts = serve_existing(SMS_CHALLENGE_MODE="always")
    asked: list[dict[str, Any]] = []
    parts["sms"].challenge_verifier(
        lambda challenge, client_ip: asked.append(challenge) or challenge == {"token": "human"}
    )
    bodies = []
    page.on(
        "request",
        lambda request: bodies.append(request.post_data_json) if request.url.endswith("/sms_captcha/") else None,
    )
    with parts["sms"].record_messages() as outbox:
        page.goto(base + "/login?lang=en")
        page.evaluate("window.FlaskSms.onChallenge = function () { return Promise.resolve({token: 'human'}); }")
        page.fill("#phone", PHONE)
        page.click("#send-code")
        expect(page.locator("[data-sms-message]")).to_have_text("Code sent. It is valid for 5 minutes.")
    assert [body.get("challenge") for body in bodies] == [None, {"token": "human"}]  # asked, then answered
    assert asked == [{"token": "human"}] and len(outbox) == 1
    nonce = page.locator("input[name=sms_nonce]").input_value()
    assert nonce and "." in nonce
    page.fill("#code", outbox[0].params["code"])
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/welcome$"))
