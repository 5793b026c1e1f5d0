"""The /sms_captcha/ routes and the Python API behind them."""

from __future__ import annotations

import threading

import pytest
from flask import Flask, jsonify, request
from flask_caching import Cache

from flask_sms import (
    ConfigError,
    SendRefused,
    SmsExtension,
    code_sent,
    code_verified,
    verification_failed,
)

PHONE = "13800138000"
E164 = "+8613800138000"


def send(client, phone=PHONE, **extra):
    return client.post("/sms_captcha/", json={"phone": phone, **extra})


def verify(client, code, phone=PHONE, **extra):
    return client.post("/sms_captcha/verify", json={"phone": phone, "code": code, **extra})


def sent_code(app, client, phone=PHONE, **extra):
    return sent_code_and_nonce(app, client, phone, **extra)[0]


def sent_code_and_nonce(app, client, phone=PHONE, **extra):
    """The code texted and the send answer's nonce (a verify that echoes it is the code's owner's)."""
    with app.extensions["sms"].record_messages() as outbox:
        response = send(client, phone, **extra)
    assert response.status_code == 200, response.get_json()
    (message,) = outbox
    return message.params["code"], response.get_json()["nonce"]


# -- the round trip ---------------------------------------------------------------------------
CODE_FROM_VENDOR = {
    "aliyun": lambda received: received.params["code"],
    "tencent": lambda received: received.params[0],
    "ronglian": lambda received: received.params[0],
    "ihuyi": lambda received: received.params.split(":")[1][:6],
}


@pytest.mark.parametrize("vendor", ["aliyun", "tencent", "ronglian", "ihuyi"])
def test_round_trip_through_each_vendor(flow_app, fake, vendor):
    app = flow_app([vendor], SMS_SUPPRESS_SEND=False)
    client = app.test_client()

    response = send(client)
    assert response.status_code == 200
    body = response.get_json()
    nonce = body.pop("nonce")
    assert isinstance(nonce, str)  # echoed by the verify request: this client asked for the code
    assert body == {"ok": True, "expires_in": 300, "resend_after": 60}
    (received,) = fake.received(vendor)
    code = CODE_FROM_VENDOR[vendor](received)
    assert len(code) == 6 and code.isdigit()
    assert code not in response.get_data(as_text=True)
    if vendor in ("tencent", "ronglian"):
        assert received.params[1] == "5"  # minutes

    assert verify(client, code, nonce=nonce).get_json()["ok"] is True
    again = verify(client, code, nonce=nonce)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_code"  # single use


def test_form_bodies_work_like_json(flow_app):
    app = flow_app()
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        response = client.post("/sms_captcha/", data={"phone": PHONE, "purpose": "captcha"})
    assert response.status_code == 200
    code = outbox[0].params["code"]
    response = client.post("/sms_captcha/verify", data={"phone": "+86 138 0013 8000", "code": code})
    assert response.get_json()["ok"] is True


def test_code_length_and_minutes_follow_config(flow_app):
    app = flow_app(SMS_CODE_LENGTH=8, SMS_CODE_TTL=600)
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        response = send(client)
    assert response.get_json()["expires_in"] == 600
    assert len(outbox[0].params["code"]) == 8 and outbox[0].params["minutes"] == "10"


def test_codes_are_not_predictable(flow_app, clock):
    app = flow_app()
    client = app.test_client()
    codes = set()
    for index in range(30):
        codes.add(sent_code(app, client, phone=f"1390013{index:04d}"))
    assert len(codes) >= 28  # 30 draws from a million; a constant or counter would fail


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"phone": "12345"}, 400, "invalid_phone"),
        ({"phone": "+1 650 253 0000"}, 400, "region_not_allowed"),
        ({"phone": PHONE, "purpose": "notice"}, 400, "invalid_purpose"),
        ({"phone": PHONE, "purpose": 7}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ({"phone": 13800138000}, 400, "invalid_request"),
        ({"phone": ["13800138000"]}, 400, "invalid_request"),
        ([PHONE], 400, "invalid_request"),
        ({"phone": "1" * 300}, 400, "invalid_request"),
        ({"phone": "1" * 9000}, 413, "invalid_request"),  # over the body cap: refused before parsing
    ],
)
def test_send_errors(flow_app, body, status, error):
    app = flow_app(["aliyun"])  # aliyun has a "notice" template, which must stay unreachable
    with app.extensions["sms"].record_messages() as outbox:
        response = app.test_client().post("/sms_captcha/", json=body)
    assert response.status_code == status
    payload = response.get_json()
    assert payload["ok"] is False and payload["error"] == error and payload["message"]
    assert outbox == []


def test_malformed_json_and_wrong_method(flow_app):
    app = flow_app()
    client = app.test_client()
    response = client.post("/sms_captcha/", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    for path in ("/sms_captcha/", "/sms_captcha/verify"):
        response = client.get(path)
        assert response.status_code == 405 and response.headers["Allow"] == "POST"
        assert response.get_json()["ok"] is False


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"phone": PHONE, "code": "000000"}, "invalid_code"),  # no live code: said like a wrong one
        ({"phone": PHONE}, "invalid_request"),
        ({"phone": PHONE, "code": 123456}, "invalid_request"),
        ({"phone": "123", "code": "123456"}, "invalid_phone"),
        ({"phone": PHONE, "code": "123456", "purpose": "nope"}, "invalid_purpose"),
    ],
)
def test_verify_errors(flow_app, body, error):
    response = flow_app().test_client().post("/sms_captcha/verify", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == error


# -- codes: single use, expiry, replacement, attempts -----------------------------------------
def test_wrong_code_then_right_code(flow_app):
    app = flow_app()
    client = app.test_client()
    code = sent_code(app, client)
    wrong = "0" * 6 if code != "0" * 6 else "1" * 6
    response = verify(client, wrong)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_code"
    assert verify(client, code).get_json()["ok"] is True


def test_code_expires_after_ttl(flow_app, clock):
    app = flow_app()
    client = app.test_client()
    code, nonce = sent_code_and_nonce(app, client)
    clock.advance(300)
    assert verify(client, code, nonce=nonce).get_json()["error"] == "code_expired"  # told to its owner
    assert verify(client, code).get_json()["error"] == "invalid_code"  # a stranger learns nothing


def test_sending_again_replaces_the_old_code(flow_app, clock):
    app = flow_app()
    client = app.test_client()
    first = sent_code(app, client)
    clock.advance(61)
    second = sent_code(app, client)
    if first != second:
        assert verify(client, first).get_json()["error"] == "invalid_code"
    assert verify(client, second).get_json()["ok"] is True


def test_a_new_code_gets_a_fresh_attempt_budget(flow_app, clock):
    """The lockout contradicted itself: after 5 wrong codes the page said "request a new one", a new code
    was texted, and the right new code was still refused."""
    app = flow_app()
    client = app.test_client()
    _, nonce = sent_code_and_nonce(app, client)
    for _ in range(4):
        assert verify(client, "99999x", nonce=nonce).get_json()["error"] == "invalid_code"
    locked = verify(client, "99999x", nonce=nonce)
    assert locked.get_json()["error"] == "too_many_attempts"
    assert (
        "new one"
        in client.post(
            "/sms_captcha/verify",
            json={"phone": PHONE, "code": "1", "nonce": nonce},
            headers={"Accept-Language": "en"},
        ).get_json()["message"]
    )
    clock.advance(61)
    code, nonce = sent_code_and_nonce(app, client)  # "request a new one": a new code, really texted...
    for _ in range(4):  # ...gets the whole budget again
        assert verify(client, "99999x", nonce=nonce).get_json()["error"] == "invalid_code"
    assert verify(client, code, nonce=nonce).get_json()["ok"] is True  # and the right new code works


def test_a_refused_send_does_not_reset_the_attempt_budget(flow_app, clock):
    app = flow_app()
    client = app.test_client()
    code = sent_code(app, client)
    for _ in range(5):
        verify(client, "99999x")
    assert send(client).status_code == 429  # still in the cool-down: no text, so no new budget
    assert verify(client, code).get_json()["error"] == "too_many_attempts"


def test_guessing_is_bounded_by_attempts_times_the_daily_send_quota(make_app, clock):
    """README: with the defaults an attacker gets at most 5 x 10 = 50 guesses a day at one phone's codes
    (the code store's own bound; the fraud guard, off here, lowers it further)."""
    app = make_app(
        ["console"], limits_off=("ip", "global", "verify_ip"), guard=False, clock=clock, SMS_SUPPRESS_SEND=True
    )
    client = app.test_client()
    checked = 0  # guesses compared against a live code
    end = clock.now + 86400
    while clock.now < end:
        sent = send(client)  # the attacker asks for the codes itself, so it holds their nonces
        if sent.status_code == 200:
            while True:
                error = verify(client, "99999x", nonce=sent.get_json()["nonce"]).get_json()["error"]
                assert error in ("invalid_code", "too_many_attempts")
                checked += 1
                if error == "too_many_attempts":
                    break
        clock.advance(61)
    assert checked == 50


def test_purposes_are_separate(flow_app):
    app = flow_app(SMS_CAPTCHA_PURPOSES=["captcha", "reset_password"])
    client = app.test_client()
    login_code = sent_code(app, client)
    reset_code = sent_code(app, client, purpose="reset_password")
    if login_code != reset_code:
        assert verify(client, login_code, purpose="reset_password").get_json()["error"] == "invalid_code"
    assert verify(client, reset_code, purpose="reset_password").get_json()["ok"] is True
    assert verify(client, login_code).get_json()["ok"] is True


def test_concurrent_verifies_have_one_winner(flow_app):
    app = flow_app()
    code = sent_code(app, app.test_client())
    barrier = threading.Barrier(16)
    statuses = []

    def attempt():
        client = app.test_client()
        barrier.wait()
        statuses.append(verify(client, code).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 15


def test_only_an_hmac_is_stored(flow_app):
    app = flow_app()
    code = sent_code(app, app.test_client())
    backend = next(iter(app.extensions["cache"].values()))
    stored = repr(backend.items())
    assert code not in stored
    assert "sms:{captcha:+8613800138000}:code" in stored


# -- the cool-down and the limits -------------------------------------------------------------
def test_cooldown_is_true_at_window_edges(flow_app, clock):
    app = flow_app()
    client = app.test_client()
    clock.now = 1_700_000_059.0  # one second before a minute boundary
    assert send(client).status_code == 200
    clock.advance(2)  # a fixed 1/minute window would reset here
    response = send(client)
    assert response.status_code == 429 and response.get_json()["error"] == "rate_limited"
    assert response.headers["Retry-After"] == "58"
    clock.advance(57.5)
    response = send(client)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    clock.advance(0.5)
    assert send(client).status_code == 200


def test_cooldown_is_per_phone_and_purpose(flow_app):
    app = flow_app(SMS_CAPTCHA_PURPOSES=["captcha", "reset_password"])
    client = app.test_client()
    assert send(client).status_code == 200
    assert send(client, purpose="reset_password").status_code == 200
    assert send(client, phone="13900139000").status_code == 200
    assert send(client).status_code == 429


def test_phone_quota_counts_only_successful_sends(flow_app, fake, clock):
    app = flow_app(["aliyun"], SMS_SUPPRESS_SEND=False, SMS_PHONE_LIMITS="3/hour")
    client = app.test_client()
    fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="账户余额不足", times=2)
    for _ in range(2):
        response = send(client)
        assert response.status_code == 502 and response.get_json()["error"] == "send_failed"
        assert "isv.AMOUNT_NOT_ENOUGH" not in response.get_data(as_text=True)
    for _ in range(3):  # the failures burned neither the cool-down nor the quota
        assert send(client).status_code == 200
        clock.advance(61)
    response = send(client)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


def test_failed_sends_count_per_ip(flow_app, fake):
    app = flow_app(["aliyun"], SMS_SUPPRESS_SEND=False, SMS_IP_LIMITS="2/hour")
    client = app.test_client()
    fake.set_mode("aliyun", "http_500", times=1)
    assert send(client).status_code == 502
    assert send(client).status_code == 200
    response = send(client, phone="13900139000")
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_ip_limit_is_per_client_address(flow_app):
    app = flow_app(SMS_IP_LIMITS="1/hour")
    client = app.test_client()
    assert send(client).status_code == 200
    assert send(client, phone="13900139000").status_code == 429
    other = client.post("/sms_captcha/", json={"phone": "13700137000"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_global_ceiling(flow_app):
    app = flow_app(SMS_GLOBAL_LIMITS="2/hour")
    client = app.test_client()
    for index, phone in enumerate(["13800138000", "13900139000", "13700137000"]):
        response = client.post("/sms_captcha/", json={"phone": phone}, environ_base={"REMOTE_ADDR": f"10.0.0.{index}"})
        assert response.status_code == (200 if index < 2 else 429)


def test_verify_ip_limit(flow_app):
    app = flow_app(SMS_VERIFY_IP_LIMITS="3/hour")
    client = app.test_client()
    for _ in range(3):
        assert verify(client, "123456").status_code == 400
    response = verify(client, "123456")
    assert response.status_code == 429 and response.get_json()["error"] == "rate_limited"


def test_default_limits_apply(make_app, clock):
    app = make_app(["console"], clock=clock, SMS_SUPPRESS_SEND=True)
    client = app.test_client()
    statuses = []
    for _ in range(7):
        statuses.append(send(client).status_code)
        clock.advance(61)
    assert statuses == [200] * 5 + [429] * 2  # SMS_PHONE_LIMITS = 5/hour


def test_allowed_regions(flow_app):
    app = flow_app(SMS_ALLOWED_REGIONS=["CN", "HK"])
    client = app.test_client()
    assert send(client, phone="+852 6123 4567").status_code == 200
    assert send(client, phone="+1 650 253 0000").get_json()["error"] == "region_not_allowed"
    app = flow_app(SMS_ALLOWED_REGIONS=["*"])
    assert send(app.test_client(), phone="+1 650 253 0000").status_code == 200


# -- hooks, signals, language, Python API -----------------------------------------------------
def test_before_send_hook_can_refuse(flow_app):
    app = flow_app()
    sms = app.extensions["sms"]
    seen = []

    @sms.before_send
    def slider_passed(phone, purpose, req):
        seen.append((phone, purpose))
        return req.headers.get("X-Slider-Token") == "solved"

    client = app.test_client()
    with sms.record_messages() as outbox:
        refused = send(client)
        accepted = client.post("/sms_captcha/", json={"phone": PHONE}, headers={"X-Slider-Token": "solved"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert accepted.status_code == 200 and len(outbox) == 1
    assert seen == [(E164, "captcha"), (E164, "captcha")]


def test_before_send_hook_can_raise_with_its_own_message(flow_app):
    app = flow_app()

    @app.extensions["sms"].before_send
    def refuse(phone, purpose, req):
        raise SendRefused("请先完成滑块验证")

    response = send(app.test_client())
    assert response.status_code == 403
    assert response.get_json() == {"ok": False, "error": "forbidden", "message": "请先完成滑块验证"}


def test_signals(flow_app):
    app = flow_app()
    events = []

    def on_sent(sender, phone, purpose, **kw):
        events.append(("sent", phone, purpose))

    def on_verified(sender, phone, purpose, **kw):
        events.append(("verified", phone, purpose))

    def on_failed(sender, phone, purpose, reason, **kw):
        events.append(("failed", phone, reason))

    code_sent.connect(on_sent, app)
    code_verified.connect(on_verified, app)
    verification_failed.connect(on_failed, app)
    try:
        client = app.test_client()
        code = sent_code(app, client)
        verify(client, "abcdef")
        verify(client, code)
    finally:
        code_sent.disconnect(on_sent, app)
        code_verified.disconnect(on_verified, app)
        verification_failed.disconnect(on_failed, app)
    assert events == [("sent", E164, "captcha"), ("failed", E164, "invalid_code"), ("verified", E164, "captcha")]


def test_messages_follow_accept_language(flow_app):
    app = flow_app()
    client = app.test_client()
    chinese = client.post("/sms_captcha/", json={"phone": "123"}, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    english = client.post("/sms_captcha/", json={"phone": "123"}, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert chinese.get_json()["message"] == "手机号码格式不正确。"
    assert english.get_json()["message"] == "That is not a valid phone number."
    assert english.get_json()["error"] == chinese.get_json()["error"] == "invalid_phone"
    send(client)
    limited = client.post("/sms_captcha/", json={"phone": PHONE}, headers={"Accept-Language": "en"})
    assert limited.get_json()["message"] == "Too many requests. Please try again in 60 seconds."
    chosen = flow_app(SMS_LANGUAGE="zh-CN").test_client()
    assert chosen.post("/sms_captcha/", json={"phone": "1"}).get_json()["message"] == "手机号码格式不正确。"


def test_login_view_with_the_python_api(flow_app):
    app = flow_app()
    sms = app.extensions["sms"]

    @app.post("/login")
    def login():
        result = sms.verify_code(request.form["phone"], request.form["code"])
        if not result:
            return jsonify(error=result.reason), 400
        return jsonify(user=result.phone)

    client = app.test_client()
    with app.test_request_context(), sms.record_messages() as outbox:
        sent = sms.send_code(PHONE)
    assert (sent.expires_in, sent.resend_after) == (300, 60)
    code = outbox[0].params["code"]
    assert (
        client.post("/login", data={"phone": PHONE, "code": "000000" if code != "000000" else "1"}).status_code == 400
    )
    assert client.post("/login", data={"phone": PHONE, "code": code}).get_json() == {"user": E164}


def test_send_code_refusals_are_http_errors_for_app_views(flow_app):
    app = flow_app()
    sms = app.extensions["sms"]

    @app.post("/register/code")
    def register_code():
        sms.send_code(request.json["phone"])
        return jsonify(ok=True)

    client = app.test_client()
    assert client.post("/register/code", json={"phone": PHONE}).status_code == 200
    again = client.post("/register/code", json={"phone": PHONE})
    assert again.status_code == 429 and again.get_json()["error"] == "rate_limited"


def test_url_prefix(flow_app):
    app = flow_app(SMS_URL_PREFIX="/api/v1")
    client = app.test_client()
    assert client.post("/api/v1/sms_captcha/", json={"phone": PHONE}).status_code == 200
    assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 404


# -- storage configuration --------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Flask-Caching. CACHE_TYPE is set to NullCache")
def test_null_cache_is_refused():
    app = Flask("nullcache")
    app.testing = True
    app.secret_key = "test-secret-key-for-flask-sms"
    with pytest.raises(ConfigError, match="NullCache"):
        SmsExtension(app, cache=Cache(config={"CACHE_TYPE": "NullCache"})).check(app)


def test_apps_own_cache_and_limiter(clock):
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    app = Flask("own")
    app.testing = True
    app.secret_key = "test-secret-key-for-flask-sms"
    app.config.update(SMS_IP_LIMITS="1/hour")
    cache = Cache(app, config={"CACHE_TYPE": "SimpleCache"})
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")
    sms = SmsExtension(app, cache=cache, limiter=limiter)
    sms.clock = clock
    client = app.test_client()
    assert send(client).status_code == 200
    assert any("sms:{captcha:+8613800138000}:code" in key for key in cache.cache._cache)
    assert send(client, phone="13900139000").status_code == 429  # counted in the app's limiter


def test_memory_storage_warns_once_per_process_on_first_use(caplog, fake, monkeypatch):
    from conftest import vendor_config

    from flask_sms import reporting

    monkeypatch.setattr(reporting, "_said", set())
    apps = []
    for name in ("prod", "prod2"):
        app = Flask(name)
        app.config.update(SECRET_KEY="a-long-random-test-key", SMS_PROVIDERS=["aliyun"], SMS_SUPPRESS_SEND=True)
        app.config.update(vendor_config(fake.url, fake.host))
        with caplog.at_level("WARNING", logger="flask_sms"):
            SmsExtension(app)
        apps.append(app)
    assert "memory://" not in caplog.text  # not at startup: `flask routes` and friends stay quiet
    with caplog.at_level("WARNING", logger="flask_sms"):
        for app in apps:
            for phone in ("13800138000", "13900139000"):
                assert send(app.test_client(), phone=phone).status_code == 200
    warnings = [r for r in caplog.records if "memory://" in r.getMessage()]
    assert len(warnings) == 1 and "workers" in warnings[0].getMessage()


def test_config_errors_for_the_flow():
    app = Flask("bad")
    app.debug = True
    app.config.update(
        SMS_CODE_LENGTH=3,
        SMS_CODE_TTL=3600,
        SMS_PHONE_LIMITS="lots",
        SMS_ALLOWED_REGIONS=["Mars"],
        SMS_STORAGE_URL="mongodb://x",
        SMS_DEFAULT_PURPOSE="login",
    )
    with pytest.raises(ConfigError) as caught:
        SmsExtension(app).check(app)
    text = str(caught.value)
    for key in [
        "SECRET_KEY",
        "SMS_CODE_LENGTH",
        "SMS_CODE_TTL",
        "SMS_PHONE_LIMITS",
        "SMS_ALLOWED_REGIONS",
        "SMS_STORAGE_URL",
        "SMS_DEFAULT_PURPOSE",
    ]:
        assert key in text


def test_captcha_purpose_needs_a_template(make_app):
    with pytest.raises(ConfigError, match="'reset_password' has no template"):
        make_app(["aliyun"], SMS_CAPTCHA_PURPOSES=["captcha", "reset_password"])


def test_adds_no_limits_to_the_apps_routes_and_ignores_the_apps_ratelimit_settings(flow_app):
    app = flow_app(RATELIMIT_DEFAULT="1/hour", RATELIMIT_ENABLED=False, SMS_IP_LIMITS="1/hour")

    @app.get("/ping")
    def ping():
        return "pong"

    # no after-request hook, and before-request ones of our own only (one tells a Flask-Limiter set up later to
    # leave our routes alone; one registers the Flask-Security sender, unless an earlier app in this process did)
    hooks = app.before_request_funcs[None]
    assert 1 <= len(hooks) <= 2 and all(hook.__module__.startswith("flask_sms.") for hook in hooks)
    assert not any(app.after_request_funcs.values())
    client = app.test_client()
    assert [client.get("/ping").status_code for _ in range(3)] == [200, 200, 200]  # RATELIMIT_DEFAULT is not ours
    assert send(client).status_code == 200
    assert send(client, phone="13900139000").status_code == 429  # SMS_IP_LIMITS is
