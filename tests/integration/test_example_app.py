"""The bundled demo app (example_app/), through Flask's test client."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from vendor_config import IHUYI, TEMPLATES

from flask_sms import StorageUnavailable
from flask_sms.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[2]
PHONE = "13800138000"
E164 = "+8613800138000"
SHOWN = "+86 138 0013 8000"
INBOX = "/sms_dev/inbox"  # flask_sms's dev inbox
PAGE_IDS = ("phone", "send-code", "code", "login", "message", "inbox", "login-form", "lang-switch")


@pytest.fixture
def example(example_app_module):
    return example_app_module


@pytest.fixture
def make(example):
    """The demo as ``flask --app example_app run --debug`` builds it (debug mode: flask_sms's dev inbox is on)."""

    def factory(**config):
        return example.create_app({"DEBUG": True, **config})

    return factory


def csrf_from(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def send_code(client, phone=PHONE, **headers):
    """Ask for a code as the page does; keep the answer's nonce, as sms.js keeps it in the form's ``sms_nonce``."""
    response = client.post("/sms_captcha/", json={"phone": phone}, headers=headers)
    if response.status_code == 200:
        client.sms_nonce = response.get_json().get("nonce")  # none for a vendor-checked code
    return response


def inbox_code(client) -> str:
    return client.get(INBOX).get_json()["messages"][0]["code"]


def login(client, code, phone=PHONE, token=None, lang=None):
    page = client.get("/" + (f"?lang={lang}" if lang else "")).get_data(as_text=True)
    data = {"phone": phone, "code": code, "csrf_token": csrf_from(page) if token is None else token}
    if getattr(client, "sms_nonce", None):
        data["sms_nonce"] = client.sms_nonce
    if token is False:
        del data["csrf_token"]
    return client.post("/login", data=data)


def failed_login(client, code, **kwargs) -> str:
    """A sign-in that fails answers a redirect (post/redirect/get); the page it leads to says why, once."""
    response = login(client, code, **kwargs)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    message = re.search(r'<div id="message" class="message error"[^>]*>([^<]*)</div>', page)
    assert message, "no error message on the page after a failed sign-in"
    return page


def signed_in_as(client) -> str | None:
    match = re.search(r'id="signed-in-phone">([^<]+)<', client.get("/").get_data(as_text=True))
    return match.group(1) if match else None


# -- defaults ---------------------------------------------------------------------------------
def test_defaults_run_without_a_vendor_account(make, caplog):
    caplog.set_level(logging.INFO, logger="flask_sms")
    app = make()
    assert app.config["SMS_PROVIDERS"] == ["console"]
    assert app.config["SMS_STORAGE_URL"] == "memory://"
    assert app.config["SECRET_KEY"] and app.debug and not app.testing  # flask run --debug

    startup = [r.getMessage() for r in caplog.records if r.name == "flask_sms"]
    assert "flask_sms: providers console; storage memory://" in startup

    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for element in PAGE_IDS:
        assert f'id="{element}"' in html, element
    assert '<html lang="zh-CN">' in html and "获取验证码" in html and "登录" in html
    assert "http://" not in html and "https://" not in html  # no CDN: works offline
    for asset in ("/static/app.js", "/static/style.css"):
        assert asset in html
        with client.get(asset) as response:
            assert response.status_code == 200

    response = send_code(client)
    # the console "calls" too: the answer offers "call me instead" once the text's resend wait is over
    expected = {"ok": True, "expires_in": 300, "resend_after": 60, "voice_after": 60, "nonce": ""}
    assert {**response.get_json(), "nonce": ""} == expected
    code = inbox_code(client)
    texts = [r.getMessage() for r in caplog.records if r.name == "flask_sms"]
    assert f"SMS to {E164} [captcha] code={code} minutes=5" in texts  # shown in the terminal


def test_call_me_instead_on_the_console(make, caplog):
    """The example app offers a call on the console provider, which logs the call as it logs a text."""
    caplog.set_level(logging.INFO, logger="flask_sms")
    app = make(SMS_RESEND_INTERVAL=1)
    client = app.test_client()
    assert 'data-sms-channel="voice" hidden' in client.get("/?lang=en").get_data(as_text=True)  # hidden until offered
    assert send_code(client).get_json()["voice_after"] == 1
    called = client.post("/sms_captcha/", json={"phone": PHONE, "channel": "voice"})
    assert called.status_code == 200 and called.get_json()["channel"] == "voice"
    (call, text) = client.get(INBOX).get_json()["messages"][:2]  # newest first
    assert (call["channel"], text["channel"]) == ("voice", "sms")
    assert f"Call to {E164} [captcha] code={call['code']} minutes=5" in caplog.text
    assert "Call: your code is" in client.get("/?lang=en").get_data(as_text=True)
    login(client, call["code"])
    assert signed_in_as(client) == SHOWN  # the call's code replaced the text's


def test_real_vendors_get_no_console_calls(make):
    app = make(
        SMS_PROVIDERS=["aliyun"],
        SMS_ALIYUN_ACCESS_KEY_ID="k",
        SMS_ALIYUN_ACCESS_KEY_SECRET="s",
        SMS_ALIYUN_SIGN_NAME="n",
        SMS_ALIYUN_TEMPLATES={"captcha": "SMS_1"},
    )
    assert app.extensions["sms"].check(app).voice is None


def test_flask_cli_loads_it_and_logs_providers_and_storage_first(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "example_app", "routes"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert INBOX in result.stdout and "/sms_captcha/" in result.stdout and "/login" in result.stdout
    log = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert any("flask_sms: providers console; storage memory://" in line for line in log[:2]), log


def test_each_app_gets_its_own_dev_secret_key(make):
    assert make().config["SECRET_KEY"] != make().config["SECRET_KEY"]
    assert make(SECRET_KEY="a-fixed-secret-key-value").config["SECRET_KEY"] == "a-fixed-secret-key-value"


def test_flask_sms_info_logs_reach_the_terminal(example, monkeypatch):
    logger = logging.getLogger("flask_sms")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    example.show_sms_logs()
    assert logger.level == logging.INFO
    (handler,) = logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    example.show_sms_logs()
    assert len(logger.handlers) == 1  # no duplicate lines when create_app runs twice


# -- the dev inbox ----------------------------------------------------------------------------
def test_dev_inbox_shows_recent_texts(make):
    app = make()
    client = app.test_client()
    assert client.get(INBOX).get_json()["messages"] == []
    assert send_code(client).status_code == 200
    (message,) = client.get(INBOX).get_json()["messages"]
    assert message["phone"] == E164 and message["purpose"] == "captcha"
    code = message["code"]
    assert len(code) == 6 and code.isdigit() and message["params"]["minutes"] == "5"
    html = client.get("/").get_data(as_text=True)
    assert f'<strong class="inbox-code">{code}</strong>' in html
    assert "您的验证码是" in html


def test_without_debug_mode_there_is_no_inbox(example):
    app = example.create_app()  # flask --app example_app run, without --debug
    client = app.test_client()
    assert send_code(client).status_code == 200
    assert client.get(INBOX).status_code == 404
    html = client.get("/").get_data(as_text=True)
    assert 'id="inbox"' not in html and "data-inbox-url" not in html


def test_dev_inbox_keeps_apps_apart(make):
    first, second = make(), make()
    send_code(first.test_client())
    assert len(first.test_client().get(INBOX).get_json()["messages"]) == 1
    assert second.test_client().get(INBOX).get_json()["messages"] == []


def test_real_vendor_keys_send_real_texts_and_hide_the_inbox(example, monkeypatch, fake):
    monkeypatch.setenv("FLASK_SMS_PROVIDERS", '["ihuyi"]')
    monkeypatch.setenv("FLASK_SMS_IHUYI_ACCOUNT", IHUYI.account)
    monkeypatch.setenv("FLASK_SMS_IHUYI_API_KEY", IHUYI.api_key)
    monkeypatch.setenv("FLASK_SMS_IHUYI_TEMPLATES", json.dumps({"captcha": TEMPLATES["ihuyi"]["captcha"]}))
    monkeypatch.setenv("FLASK_SMS_IHUYI_URL", f"{fake.url}/webservice/sms.php?method=Submit")
    app = example.create_app({"DEBUG": True})
    assert app.config["SMS_PROVIDERS"] == ["ihuyi"]
    client = app.test_client()

    assert client.get(INBOX).status_code == 404  # debug mode, but no console provider
    html = client.get("/").get_data(as_text=True)
    assert 'id="inbox"' not in html and "data-inbox-url" not in html

    assert send_code(client).status_code == 200
    (received,) = fake.received("ihuyi")
    code = received.params.split(":")[1][:6]
    assert login(client, code).status_code == 303
    assert signed_in_as(client) == SHOWN


# -- signing in -------------------------------------------------------------------------------
def test_login_with_the_right_code_signs_in(make):
    app = make()
    client = app.test_client()
    send_code(client)
    code = inbox_code(client)
    page = client.get("/").get_data(as_text=True)
    token = csrf_from(page)

    response = client.post("/login", data={"phone": "138 0013 8000", "code": code, "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert session["phone"] == E164
    page = client.get("/").get_data(as_text=True)
    assert signed_in_as(client) == SHOWN and "登录成功" in page
    assert 'id="login-form"' not in page
    assert csrf_from(page) != token  # a fresh token once signed in

    # single use: the same code cannot sign in again
    with client.session_transaction() as session:
        del session["phone"]
    assert "验证码不正确" in failed_login(client, code)  # used up: said like a wrong code


def test_logout_needs_the_token_too(make):
    client = make().test_client()
    send_code(client)
    assert login(client, inbox_code(client)).status_code == 303
    assert client.post("/logout").status_code == 303
    assert signed_in_as(client) == SHOWN
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert signed_in_as(client) is None


@pytest.mark.parametrize("token", [False, "", "forged-token"])
def test_csrf_refuses_a_login_without_the_token(make, token):
    client = make().test_client()
    send_code(client)
    code = inbox_code(client)
    assert "页面已过期" in failed_login(client, code, token=token)
    assert signed_in_as(client) is None
    # the refused post did not touch the code: the real form still works
    assert login(client, code).status_code == 303


def test_csrf_token_is_per_session(make):
    app = make()
    mine, theirs = app.test_client(), app.test_client()
    send_code(mine)
    code = inbox_code(mine)
    their_token = csrf_from(theirs.get("/").get_data(as_text=True))
    mine.get("/")
    assert "页面已过期" in failed_login(mine, code, token=their_token)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_login_errors_say_what_went_wrong(make):
    client = make(SMS_MAX_ATTEMPTS=2).test_client()
    assert "手机号码格式不正确。" in failed_login(client, "123456", phone="12345")
    assert "请输入验证码。" in failed_login(client, "")
    # nothing was sent to this number: said like a wrong code, so nobody learns who is signing in
    assert "验证码不正确。" in failed_login(client, "123456")

    send_code(client)
    code = inbox_code(client)
    page = failed_login(client, wrong(code))
    assert "验证码不正确。" in page
    assert f'value="{PHONE}"' in page  # the number stays in the field
    assert "验证码错误次数过多，请重新获取。" in failed_login(client, wrong(code))
    assert "验证码错误次数过多" in failed_login(client, code)


def test_a_message_is_shown_once_so_a_reload_posts_nothing(make):
    """The attack: reloading the page after a wrong code posted the form again (one more attempt)."""
    app = make()
    client = app.test_client()
    send_code(client)
    code = inbox_code(client)
    attempts = []

    def count(sender, **extra):
        attempts.append(extra["reason"])

    from flask_sms import verification_failed

    with verification_failed.connected_to(count, app):
        response = login(client, wrong(code))
        assert response.status_code == 303  # the browser follows with a GET: a reload repeats the GET
        assert "验证码不正确。" in client.get(response.headers["Location"]).get_data(as_text=True)
        reloaded = client.get("/").get_data(as_text=True)
    assert attempts == ["invalid_code"]
    assert "验证码不正确。" not in reloaded  # said once
    assert login(client, code).status_code == 303 and signed_in_as(client) == SHOWN


def test_signing_in_with_a_verification_token(make):
    app = make()
    client = app.test_client()
    send_code(client)
    verified = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": inbox_code(client)}).get_json()
    assert verified["ok"] is True and verified["expires_in"] == 600
    page = client.get("/").get_data(as_text=True)
    form = {"phone": "", "code": "", "token": verified["token"], "csrf_token": csrf_from(page)}
    assert client.post("/login", data=form).status_code == 303
    assert signed_in_as(client) == SHOWN  # the token's phone, not a form field
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    form["csrf_token"] = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/login", data=form).status_code == 303  # the same token again...
    page = client.get("/").get_data(as_text=True)
    assert "验证码已失效" in page and 'id="signed-in"' not in page  # ...signs nobody in


def test_login_errors_follow_the_page_language(make):
    client = make().test_client()
    send_code(client)
    page = failed_login(client, wrong(inbox_code(client)), lang="en")
    assert '<html lang="en">' in page and "The code is incorrect." in page


def test_login_attempts_are_rate_limited(make):
    client = make(SMS_VERIFY_IP_LIMITS="2/hour").test_client()
    send_code(client)
    code = inbox_code(client)
    for _ in range(2):
        failed_login(client, wrong(code))
    page = failed_login(client, code)
    seconds = int(re.search(r"操作过于频繁，请 (\d+) 秒后再试。", page).group(1))
    assert 0 < seconds <= 3600


def test_login_when_storage_is_down(make, monkeypatch):
    app = make()
    client = app.test_client()

    def down(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(app.extensions["sms"]._state(app).codes, "verify_code", down)
    assert "服务暂时不可用，请稍后再试。" in failed_login(client, "123456")


# -- language ---------------------------------------------------------------------------------
def test_language_switch_is_remembered(make):
    client = make().test_client()
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Get code" in html and 'href="/?lang=zh-CN"' in html
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    assert "获取验证码" in client.get("/?lang=zh-CN").get_data(as_text=True)


def test_api_messages_follow_accept_language(make):
    client = make().test_client()
    assert send_code(client, "12345", **{"Accept-Language": "en"}).get_json()["message"] == (
        "That is not a valid phone number."
    )
    assert send_code(client, "12345", **{"Accept-Language": "zh-CN"}).get_json()["message"] == "手机号码格式不正确。"


def test_every_error_code_has_a_text(example):
    from example_app.i18n import SCRIPT_KEYS, TEXTS

    for language, table in TEXTS.items():
        assert set(MESSAGES[language]) <= set(table), language
        assert set(SCRIPT_KEYS) <= set(table)
    assert set(TEXTS["zh-CN"]) == set(TEXTS["en"])


# -- config -----------------------------------------------------------------------------------
def test_config_from_the_environment(example, monkeypatch):
    monkeypatch.setenv("FLASK_SMS_CODE_LENGTH", "8")
    monkeypatch.setenv("FLASK_SMS_RESEND_INTERVAL", "30")
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("FLASK_DEBUG", "1")  # flask run --debug sets it
    app = example.create_app()
    assert app.debug and app.config["SMS_CODE_LENGTH"] == 8 and app.config["SECRET_KEY"] == "from-the-environment"
    client = app.test_client()
    assert 'maxlength="8"' in client.get("/").get_data(as_text=True)
    assert send_code(client).get_json()["resend_after"] == 30
    code = inbox_code(client)
    assert len(code) == 8
    assert login(client, code).status_code == 303


def test_env_file_is_read_and_the_environment_wins(example, monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(
        "# demo settings\n"
        "FLASK_SMS_CODE_LENGTH=7\n"
        "export FLASK_SMS_CODE_TTL=120  # two minutes\n"
        "FLASK_SECRET_KEY='from the dotenv file'  # quoted, then a comment\n"
        "FLASK_DEMO_NOTE=a#b\n"
        'FLASK_SMS_PROVIDERS="[\\"console\\"]"\n'
        "NOT_FLASK=ignored\n"
        "\n"
        "junk line\n",
        encoding="utf-8",
    )
    app = example.create_app()  # reads ./.env by default
    assert app.config["SMS_CODE_LENGTH"] == 7 and app.config["SMS_CODE_TTL"] == 120
    assert app.config["SECRET_KEY"] == "from the dotenv file" and app.config["SMS_PROVIDERS"] == ["console"]
    assert "NOT_FLASK" not in app.config
    assert app.config["DEMO_NOTE"] == "a#b"

    monkeypatch.setenv("FLASK_SMS_CODE_LENGTH", "8")
    app = example.create_app()
    assert app.config["SMS_CODE_LENGTH"] == 8 and app.config["SMS_CODE_TTL"] == 120

    app = example.create_app({"SMS_CODE_LENGTH": 9})  # explicit config wins over both
    assert app.config["SMS_CODE_LENGTH"] == 9

    assert example.create_app(env_file=None).config["SMS_CODE_TTL"] == 300
    assert example.create_app(env_file=tmp_path / "missing.env").config["SMS_CODE_TTL"] == 300


def test_nested_keys_like_from_prefixed_env(example):
    config: dict = {}
    example.apply_prefixed(config, {"FLASK_SMS_ALIYUN_TEMPLATES__captcha": "SMS_1", "FLASK_X": "[1, 2]", "Y": "1"})
    assert config == {"SMS_ALIYUN_TEMPLATES": {"captcha": "SMS_1"}, "X": [1, 2]}


def test_a_broken_sms_config_answers_503_with_a_readable_page(example, monkeypatch, caplog):
    """As flask_sms does: the app starts, its pages and routes answer 503 and say what to run, never a traceback."""
    monkeypatch.setenv("FLASK_SMS_PROVIDERS", '["aliyun"]')  # no keys
    app = example.create_app()
    assert any("sms check" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 503 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "flask --app example_app sms check" in text and "Traceback" not in text
    assert "SMS_ALIYUN_ACCESS_KEY_ID" not in text  # the problems name the server's keys: listed in debug only
    assert send_code(client).status_code == 503 and send_code(client).get_json()["error"] == "unavailable"

    debug = example.create_app({"DEBUG": True}).test_client().get("/")
    assert debug.status_code == 503 and "SMS_ALIYUN_ACCESS_KEY_ID" in debug.get_data(as_text=True)


def test_sms_check_lists_a_broken_configs_problems_without_a_traceback(tmp_path):
    """The path example_app/README.md sends people down to send real texts."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLASK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["FLASK_SMS_PROVIDERS"] = '["aliyun"]'
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "example_app", "sms", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "SMS_ALIYUN_ACCESS_KEY_ID" in result.stdout + result.stderr


@pytest.mark.parametrize("entry", ["huawei", "volcengine", "baidu", "qiniu", "yunpian", "netease", "aliyun:backup"])
def test_any_vendor_or_account_through_flask_sms_variables(example, monkeypatch, fake, entry):
    """Every key of every vendor (and of a second account) can come from ``FLASK_SMS_*`` variables."""
    from conftest import vendor_config

    vendor = entry.split(":")[0]
    monkeypatch.setenv("FLASK_SMS_PROVIDERS", json.dumps([entry]))
    prefix = f"SMS_{vendor.upper()}_"
    own = f"SMS_{entry.replace(':', '_').upper()}_"  # SMS_ALIYUN_BACKUP_ for "aliyun:backup"
    for key, value in vendor_config(fake.url, fake.host).items():
        if key.startswith(prefix):
            variable = "FLASK_" + own + key[len(prefix) :]
            monkeypatch.setenv(variable, value if isinstance(value, str) else json.dumps(value))
    app = example.create_app()
    client = app.test_client()
    assert send_code(client).status_code == 200
    (received,) = fake.received(vendor)
    code = json.dumps(received.params, ensure_ascii=False)
    digits = re.search(r"\d{6}", code).group(0)
    assert login(client, digits).status_code == 303
    assert signed_in_as(client) == SHOWN


def test_runs_on_vendor_checked_codes_through_flask_sms_variables(example, monkeypatch, fake, caplog):
    """FLASK_SMS_CODE_BACKEND=aliyun_pnvs: no provider, sign or template of the developer's own (Aliyun's
    system ones), outside debug mode; the page, the routes and the sign-in work as with any vendor."""
    from conftest import vendor_config

    monkeypatch.setenv("FLASK_SECRET_KEY", "an-individual-developers-secret-key")
    monkeypatch.setenv("FLASK_SMS_CODE_BACKEND", "aliyun_pnvs")
    for key, value in vendor_config(fake.url, fake.host).items():
        if key.startswith("SMS_ALIYUN_") and not key.startswith(("SMS_ALIYUN_VOICE_", "SMS_ALIYUN_TEMPLATES")):
            monkeypatch.setenv("FLASK_" + key, value if isinstance(value, str) else json.dumps(value))
    with caplog.at_level(logging.INFO, "flask_sms"):
        app = example.create_app()
    assert "flask_sms: providers none (codes made and checked by aliyun_pnvs); storage memory://" in caplog.text
    assert app.config["SMS_PROVIDERS"] == [] and not app.config["SMS_VOICE_PROVIDERS"]
    client = app.test_client()
    assert client.get(INBOX).status_code == 404
    answer = send_code(client)
    assert answer.status_code == 200 and "voice_after" not in answer.get_json()
    (received,) = fake.received("aliyun_pnvs")
    assert received.raw["Action"] == "SendSmsVerifyCode" and received.sign_name == "速通互联验证码"
    code = fake.plugin("aliyun_pnvs").code_of(PHONE)
    assert "invalid_code" in failed_login(client, "000000" if code != "000000" else "111111")
    assert login(client, code).status_code == 303
    assert signed_in_as(client) == SHOWN


def test_dev_inbox_shows_each_texts_delivery_status(make):
    from flask_sms import DeliveryReport

    app = make()
    client = app.test_client()
    assert send_code(client).status_code == 200
    (message,) = client.get(INBOX).get_json()["messages"]
    assert (message["status"], message["status_code"]) == ("delivered", "DELIVRD")  # the console reports at once
    assert 'data-status="delivered"' in client.get("/").get_data(as_text=True)
    # a later report (a vendor's push, say) replaces it
    book = app.extensions["sms"]._states[app].receipts._book  # what a vendor's push reaches
    report = DeliveryReport("console", E164, "late", message["out_id"], "failed", "UNDELIV", "", None, None)
    book.accept(app, [report])
    (message,) = client.get(INBOX).get_json()["messages"]
    assert (message["status"], message["status_code"]) == ("failed", "UNDELIV")


def test_a_human_check_when_one_is_asked_for(make):
    """The demo's local stand-in for a captcha vendor: asked for (here on every send), solved once, then used up."""
    client = make(SMS_CHALLENGE_MODE="always").test_client()
    asked = send_code(client)
    assert asked.status_code == 428 and asked.get_json()["error"] == "challenge_required"
    token = client.post("/demo/human-check").get_json()["token"]
    sent = client.post("/sms_captcha/", json={"phone": PHONE, "challenge": {"token": token}})
    assert sent.status_code == 200, sent.get_json()
    reused = client.post("/sms_captcha/", json={"phone": "13900139000", "challenge": {"token": token}})
    assert reused.status_code == 400 and reused.get_json()["error"] == "challenge_failed"
    page = client.get("/").get_data(as_text=True)
    texts = json.loads(re.search(r'<script id="texts" type="application/json">(.*?)</script>', page).group(1))
    assert "人机验证" in texts["human_check"]  # the page's script says what is asked, in the page's language
