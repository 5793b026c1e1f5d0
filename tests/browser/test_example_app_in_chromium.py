"""The demo app in a real browser: Playwright for Python driving Chromium, headless.

The app runs on a werkzeug server in a thread (127.0.0.1, port 0). Every
state is screenshotted into test-artifacts/. Skips without Chromium or
playwright, fails instead under SMS_REQUIRE_ALL=1 (as in CI).
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import parse_qsl

import pytest
from browser_fixtures import ARTIFACTS, shot
from werkzeug.serving import make_server

from flask_sms.dev_inbox import inbox_for

PHONE = "13800138000"
SHOWN = "+86 138 0013 8000"


@pytest.fixture
def serve(example_app_module: Any) -> Any:
    """Start the demo app (plus config overrides) on 127.0.0.1; returns its base URL."""
    create_app = example_app_module.create_app

    servers = []

    def start(**config: Any) -> str:
        app = create_app({"SECRET_KEY": "browser-test-secret", "DEBUG": True, **config}, env_file=None)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="example-app", daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(5)
        server.server_close()


def request_code(page: Any, phone: str = PHONE) -> None:
    # sms.js binds its buttons on DOMContentLoaded: right after a navigation (the language switch) a click
    # can land before that, on a button that does nothing yet
    page.wait_for_function(
        "() => { const root = document.querySelector('[data-sms]'); return !!(root && root.__flaskSms); }"
    )
    page.fill("#phone", phone)
    page.click("#send-code")


def code_from_inbox(page: Any, expect: Any) -> str:
    code = page.locator("#inbox-list .inbox-code").first
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    return code.inner_text()


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- the tests --------------------------------------------------------------------------------
def test_full_flow_signs_in_with_the_code_from_the_dev_inbox(serve, page, expect):
    base = serve()
    page.goto(base + "/")
    expect(page.locator("#inbox-empty")).to_be_visible()
    expect(page.locator("#message")).to_be_hidden()
    shot(page, "01-start")

    request_code(page)
    expect(page.locator("#message")).to_have_text("验证码已发送，5 分钟内有效。")
    expect(page.locator("#inbox-list .inbox-phone").first).to_have_text("+8613800138000")
    code = code_from_inbox(page, expect)
    expect(page.locator("#code")).to_be_focused()
    shot(page, "02-code-sent")

    page.fill("#code", code)
    with page.expect_request(lambda request: request.url == base + "/login") as posted:
        page.click("#login")
    form = dict(parse_qsl(posted.value.post_data or ""))
    assert form["token"] and not form.get("code")  # the page's script verified the code: the token signs in
    expect(page.locator("#signed-in-phone")).to_have_text(SHOWN)
    assert page.url == base + "/"
    expect(page.locator("#login-form")).to_have_count(0)
    shot(page, "03-signed-in")

    page.click("#logout")
    expect(page.locator("#login-form")).to_be_visible()


def test_countdown_disables_the_button_until_it_reaches_zero(serve, page, expect):
    base = serve(SMS_RESEND_INTERVAL=3)
    page.goto(base + "/")
    request_code(page)
    button = page.locator("#send-code")
    expect(button).to_be_disabled()
    expect(button).to_have_text(re.compile(r"^[1-3] 秒后重新获取$"))
    shot(page, "04-countdown")
    # polled every 50 ms in the page: the 1-second window is too short for a backing-off poll under load
    page.wait_for_function("document.querySelector('#send-code').textContent === '1 秒后重新获取'", polling=50)
    expect(button).to_be_disabled()
    expect(button).to_be_enabled(timeout=3000)
    expect(button).to_have_text("获取验证码")

    request_code(page)  # the cool-down is over: a second code goes out
    expect(page.locator("#inbox-list .inbox-item")).to_have_count(2)


def test_wrong_code_shows_the_error(serve, page, expect):
    base = serve()
    page.goto(base + "/")
    request_code(page)
    code = code_from_inbox(page, expect)
    page.fill("#code", wrong(code))
    page.click("#login")
    expect(page.locator("#message")).to_have_text("验证码不正确。")
    expect(page.locator("#message")).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#phone")).to_have_value(PHONE)
    expect(page.locator("#send-code")).to_be_disabled()  # the countdown goes on: the page did not reload
    expect(page.locator("#signed-in")).to_have_count(0)
    shot(page, "05-wrong-code")

    page.fill("#code", code)
    page.click("#login")
    expect(page.locator("#signed-in-phone")).to_have_text(SHOWN)


def test_invalid_number_shows_its_message(serve, page, expect):
    base = serve()
    page.goto(base + "/")
    page.click("#send-code")
    expect(page.locator("#message")).to_have_text("请输入手机号。")

    request_code(page, "12345")
    expect(page.locator("#message")).to_have_text("手机号码格式不正确。")
    expect(page.locator("#send-code")).to_be_enabled()
    expect(page.locator("#send-code")).to_have_text("获取验证码")
    shot(page, "06-invalid-number")

    page.click("#lang-switch")  # English: the API's message follows the page language
    expect(page.locator("html")).to_have_attribute("lang", "en")
    request_code(page, "12345")
    expect(page.locator("#message")).to_have_text("That is not a valid phone number.")
    shot(page, "07-invalid-number-en")


def test_second_click_during_the_cooldown_shows_the_wait(serve, page, expect):
    base = serve()
    page.goto(base + "/")
    first = page.request.post(base + "/sms_captcha/", data={"phone": PHONE})  # e.g. from another tab
    assert first.ok and first.json()["resend_after"] == 60

    request_code(page)
    message = page.locator("#message")
    expect(message).to_have_text(re.compile(r"^操作过于频繁，请 \d+ 秒后再试。$"))
    seconds = int(re.search(r"\d+", message.inner_text()).group())
    assert 55 <= seconds <= 60
    button = page.locator("#send-code")
    expect(button).to_be_disabled()
    expect(button).to_have_text(re.compile(r"^\d+ 秒后重新获取$"))
    assert int(re.search(r"\d+", button.inner_text()).group()) <= seconds
    expect(page.locator("#inbox-list .inbox-item")).to_have_count(1)  # no second text
    shot(page, "08-rate-limited")


def test_send_failure_shows_its_message_and_there_is_no_inbox(serve, page, expect):
    base = serve(
        SMS_PROVIDERS=["ihuyi"],
        SMS_IHUYI_ACCOUNT="C12345678",
        SMS_IHUYI_API_KEY="not-a-real-key",
        SMS_IHUYI_TEMPLATES={"captcha": "您的验证码是：{code}。"},
        SMS_IHUYI_URL="http://127.0.0.1:9/webservice/sms.php?method=Submit",  # nothing listens there
        SMS_TIMEOUT=1,
    )
    page.goto(base + "/")
    expect(page.locator("#inbox")).to_have_count(0)
    request_code(page)
    expect(page.locator("#message")).to_have_text("短信发送失败，请稍后再试。")
    expect(page.locator("#send-code")).to_be_enabled()
    shot(page, "09-send-failed")


# -- post/redirect/get: a reload never posts a code again ----------------------------------------
@pytest.fixture
def attempts() -> Any:
    """Every failed verification (the signal), in the app the test serves."""
    from flask_sms import verification_failed

    seen: list[str] = []

    def record(sender: Any, reason: str, **extra: Any) -> None:
        seen.append(reason)

    verification_failed.connect(record)
    yield seen
    verification_failed.disconnect(record)


def test_reloading_after_a_wrong_code_posts_nothing(serve, page, expect, attempts):
    """The attack: reloading after a wrong code re-posted the login form (one more attempt)."""
    base = serve()
    page.goto(base + "/")
    request_code(page)
    code = code_from_inbox(page, expect)
    page.fill("#code", wrong(code))
    page.click("#login")
    expect(page.locator("#message")).to_have_text("验证码不正确。")
    page.reload()
    page.wait_for_load_state()
    assert attempts == ["invalid_code"]
    page.fill("#phone", PHONE)
    page.fill("#code", code)
    page.click("#login")
    expect(page.locator("#signed-in-phone")).to_have_text(SHOWN)


def test_without_javascript_a_failed_sign_in_redirects_so_a_reload_posts_nothing(serve, browser, expect, attempts):
    base = serve()
    context = browser.new_context(java_script_enabled=False, viewport={"width": 960, "height": 600}, locale="zh-CN")
    try:
        page = context.new_page()
        assert context.request.post(base + "/sms_captcha/", data={"phone": PHONE}).ok
        page.goto(base + "/")
        code = page.locator("#inbox-list .inbox-code").first.inner_text()
        page.fill("#phone", PHONE)
        page.fill("#code", wrong(code))
        with page.expect_navigation() as landed:
            page.click("#login")
        response = landed.value
        assert response.request.method == "GET" and response.request.redirected_from.method == "POST"
        expect(page.locator("#message")).to_have_text("验证码不正确。")
        page.reload()
        expect(page.locator("#message")).to_be_hidden()  # said once; the reload was a plain GET
        assert attempts == ["invalid_code"]
        page.fill("#phone", PHONE)
        page.fill("#code", code)
        page.click("#login")
        expect(page.locator("#signed-in-phone")).to_have_text(SHOWN)
    finally:
        context.close()


# -- a phone's screen: 390 px wide ---------------------------------------------------------------------
OVERFLOW = """() => {
  const found = [];
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth > width) found.push("the page scrolls sideways");
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length || getComputedStyle(el).visibility === "hidden") continue;
    const box = el.getBoundingClientRect();
    const name = el.id ? "#" + el.id : el.tagName.toLowerCase() + "." + el.className;
    if (box.left < -0.5 || box.right > width + 0.5) found.push(name + " leaves the screen");
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) found.push(name + " cuts its text");
    if (el.placeholder) {
      const style = getComputedStyle(el);
      const context = document.createElement("canvas").getContext("2d");
      context.font = style.font;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (context.measureText(el.placeholder).width > room + 0.5) found.push(name + " cuts its placeholder");
    }
  }
  return found;
}"""


def phone_width(page: Any) -> float:
    return page.locator("#phone").bounding_box()["width"]


@pytest.mark.parametrize(
    ("lang", "sending", "counting"), [("zh-CN", "发送中…", "秒后重新获取"), ("en", "Sending…", "Resend in")]
)
def test_nothing_is_cut_off_at_390_px_and_the_phone_field_keeps_its_width(
    serve, browser, expect, lang, sending, counting
):
    """The attack: the English placeholder was cut off at 390 px, and the phone field shrank while counting down."""
    base = serve()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=lang)
    try:
        page = context.new_page()
        page.goto(f"{base}/?lang={lang}")
        assert page.evaluate(OVERFLOW) == [], lang
        idle = phone_width(page)
        held: list[Any] = []
        page.route("**/sms_captcha/", lambda route: held.append(route))  # hold the reply: "sending" stays up
        page.fill("#phone", PHONE)
        page.click("#send-code")
        expect(page.locator("#send-code")).to_have_text(sending)
        assert phone_width(page) == idle and page.evaluate(OVERFLOW) == []
        held[0].continue_()
        expect(page.locator("#send-code")).to_contain_text(counting)
        expect(page.locator("#inbox-list .inbox-item")).to_have_count(1)
        assert phone_width(page) == idle, "the phone field changed width while the button counts down"
        assert page.evaluate(OVERFLOW) == [], lang
        when = page.locator("#inbox-list time").first
        expect(when).to_have_text(re.compile(r"^\d{2}:\d{2}:\d{2} UTC[+-]\d{2}:\d{2}$"))  # whose clock: said
        assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$", when.get_attribute("datetime"))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"example-10-390px-{lang}.png"), full_page=True)
    finally:
        context.close()


def test_the_inbox_shows_each_texts_delivery_status_and_updates_it_live(example_app_module, page, expect):
    from flask_sms import DeliveryReport

    app = example_app_module.create_app({"SECRET_KEY": "browser-test-secret", "DEBUG": True}, env_file=None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="example-app-receipts", daemon=True)
    thread.start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        request_code(page)
        status = page.locator("#inbox-list .inbox-status").first
        expect(status).to_have_text("已送达")  # the console provider reports at once
        expect(status).to_have_attribute("data-status", "delivered")
        with app.app_context():
            (entry,) = inbox_for(app).entries()
        # a later report for the same send: the open page shows it within one poll, no reload
        report = DeliveryReport("console", "+8613800138000", "x", entry["out_id"], "failed", "UNDELIV", "", None, None)
        app.extensions["sms"]._states[app].receipts._book.accept(app, [report])
        expect(status).to_have_attribute("data-status", "failed", timeout=8000)
        expect(status).to_have_text("未送达")
        expect(status).to_have_attribute("title", "UNDELIV")
        shot(page, "10-delivery-status")
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
