"""Cross-site refusal in real Chromium: an attacking page on a second origin posts to the routes.

The victim app runs on 127.0.0.1; the attacker's page is served by a second HTTP
server on 127.0.0.2 (another origin and another site, as the browser sees it). The
page does what the security review did: auto-submitted form and multipart posts
to ``/sms_captcha/``, no-cors ``fetch`` posts, and wrong codes to
``/sms_captcha/verify`` to lock the victim's code. Chromium sends its own
``Origin`` and ``Sec-Fetch-Site`` headers; nothing here sets them by hand.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from browser_fixtures import CHROMIUM_ARGS, need_playwright
from conftest import need_binary
from flask import Flask, request
from werkzeug.serving import make_server

from flask_sms import SmsExtension, sms_sent, verification_failed

PHONE = "13800138000"  # the victim: has a live code the attacker tries to lock
TARGET = "13500135000"  # the number the attacker tries to text (no cool-down running)
ATTACKER_HOST = "127.0.0.2"


class Victim:
    """The app under attack, on a werkzeug server in a thread; it records what reached it."""

    def __init__(self) -> None:
        self.app = Flask("victim")
        self.app.config.update(
            SECRET_KEY="cross-site-browser-test-key",
            SMS_PROVIDERS=["console"],
            SMS_SUPPRESS_SEND=True,
            SMS_IP_LIMITS="",
            SMS_VERIFY_IP_LIMITS="",
        )
        self.sms = SmsExtension(self.app)
        self.texts: list[Any] = []
        self.failures: list[str] = []
        self.seen: list[tuple[str, int, str | None, str | None]] = []
        sms_sent.connect(self._text, self.app)
        verification_failed.connect(self._failure, self.app)

        @self.app.after_request
        def record(response: Any) -> Any:
            headers = request.headers
            if request.path.startswith("/sms_captcha/"):
                self.seen.append(
                    (request.path, response.status_code, headers.get("Origin"), headers.get("Sec-Fetch-Site"))
                )
            return response

        @self.app.get("/own-page")
        def own_page() -> str:
            """A page of the app itself: a plain form post and a fetch, same origin."""
            return """<!doctype html><html><body>
            <form id="own-form" method="post" action="/sms_captcha/" target="own-frame">
              <input name="phone" value="13900139000"><button id="own-submit">go</button>
            </form>
            <iframe name="own-frame" id="own-frame"></iframe>
            <script>
              window.ownFetch = () => fetch("/sms_captcha/", {
                method: "POST", headers: {"Content-Type": "application/json"},
                body: JSON.stringify({phone: "13700137000"})
              }).then(r => r.status);
            </script></body></html>"""

        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _text(self, sender: Any, message: Any, **extra: Any) -> None:
        self.texts.append(message)

    def _failure(self, sender: Any, reason: str, **extra: Any) -> None:
        self.failures.append(reason)

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.seen) >= count, self.seen


def attacking_page(victim: str) -> bytes:
    wrong = [f"{n:06d}" for n in range(6)]
    verify_forms = "".join(
        f"""<form class="auto" method="post" action="{victim}/sms_captcha/verify" target="v{i}">
        <input name="phone" value="{PHONE}"><input name="code" value="{code}"></form>
        <iframe name="v{i}"></iframe>"""
        for i, code in enumerate(wrong)
    )
    return f"""<!doctype html><html><body><h1>Win a prize!</h1>
    <form class="auto" method="post" action="{victim}/sms_captcha/" target="f1">
      <input name="phone" value="{TARGET}"></form><iframe name="f1"></iframe>
    <form class="auto" method="post" action="{victim}/sms_captcha/" enctype="multipart/form-data" target="f2">
      <input name="phone" value="{TARGET.replace("135", "136", 1)}"></form><iframe name="f2"></iframe>
    {verify_forms}
    <script>
      for (const form of document.querySelectorAll("form.auto")) form.submit();
      const body = new URLSearchParams({{phone: "{TARGET.replace("135", "137", 1)}"}});
      fetch("{victim}/sms_captcha/", {{method: "POST", mode: "no-cors", body}});
      const multipart = new FormData(); multipart.append("phone", "{TARGET.replace("135", "139", 1)}");
      fetch("{victim}/sms_captcha/", {{method: "POST", mode: "no-cors", body: multipart}});
      fetch("{victim}/sms_captcha/", {{method: "POST", mode: "no-cors", credentials: "include",
        headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{phone: "{TARGET}"}})}});
    </script></body></html>""".encode()


@pytest.fixture
def victim() -> Iterator[Victim]:
    served = Victim()
    served.thread.start()
    yield served
    served.server.shutdown()
    served.thread.join(5)
    served.server.server_close()


@pytest.fixture
def attacker(victim: Victim) -> Iterator[str]:
    page = attacking_page(victim.url)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        server = http.server.ThreadingHTTPServer((ATTACKER_HOST, 0), Handler)
    except OSError as exc:  # pragma: no cover - every Linux routes 127.0.0.0/8 to loopback
        pytest.fail(f"cannot listen on {ATTACKER_HOST}: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{ATTACKER_HOST}:{server.server_port}/"
    server.shutdown()
    thread.join(5)
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = need_playwright()
    chromium = need_binary("chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_a_page_on_another_origin_can_neither_text_nor_lock_the_victim(victim, attacker, browser):
    with victim.app.test_request_context(), victim.sms.record_messages() as codes:
        victim.sms.send_code(PHONE, client_ip="10.0.0.1")  # the victim's own live code
    (live,) = codes
    victim.texts.clear()

    context = browser.new_context()
    page = context.new_page()
    page.goto(attacker)
    victim.wait_for(2 + 6 + 3)  # 2 forms, 6 verify forms, 3 fetches: all reached the server
    context.close()

    assert {path for path, *_ in victim.seen} == {"/sms_captcha/", "/sms_captcha/verify"}
    assert victim.texts == []  # not one text (on the code before the fix: 4 texts to 4 numbers)
    assert victim.failures == []  # not one attempt counted against the victim's code (before: locked)
    assert {status for _, status, *_ in victim.seen} == {403}, victim.seen
    assert all(origin == attacker.rstrip("/") for _, _, origin, _ in victim.seen), victim.seen
    assert {site for *_, site in victim.seen} == {"cross-site"}  # Chromium's own header
    with victim.app.test_request_context():
        assert victim.sms.verify_code(PHONE, live.params["code"], client_ip="10.0.0.1")  # still good


def test_the_apps_own_pages_and_headerless_clients_still_work(victim, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(victim.url + "/own-page")
    page.click("#own-submit")  # a plain same-origin form post
    victim.wait_for(1)
    assert page.evaluate("window.ownFetch()") == 200  # a same-origin fetch
    context.close()
    statuses = [(status, site) for _, status, _, site in victim.seen]
    assert statuses == [(200, "same-origin"), (200, "same-origin")], victim.seen

    # curl and server-to-server calls send neither Origin nor Sec-Fetch-Site
    plain = urllib.request.Request(
        victim.url + "/sms_captcha/",
        data=json.dumps({"phone": "13600136000"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(plain, timeout=10) as response:
        assert response.status == 200
    assert len(victim.texts) == 3
