"""flask_sms added to an app that already has its own CSRFProtect, Flask-Limiter, Flask-Caching and Flask-Babel.

The app is built the way microblog and FlaskBB are: their extensions set up
first, then ``SmsExtension(app)`` with no glue. Codes come from the console
provider (recorded, nothing leaves the process); Redis is real.
"""

from __future__ import annotations

import logging
import re

import pytest
import redis
from existing_app import LoginForm, build_app
from flask import Flask, jsonify
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError

from flask_sms import SmsExtension

PHONE = "13800138000"
E164 = "+8613800138000"


@pytest.fixture
def existing(redis_server):
    def factory(**config):
        return build_app(redis_server.url.rsplit("/", 1)[0], **config)

    return factory


def page_token(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def send(app, client, phone=PHONE, **headers):
    with app.extensions["sms"].record_messages() as outbox:
        response = client.post("/sms_captcha/", json={"phone": phone}, headers=headers)
    return response, [message.params["code"] for message in outbox]


# -- CSRF -------------------------------------------------------------------------------------------
def test_csrf_refusal_is_a_clear_json_error_and_sends_nothing(existing):
    app, _ = existing()
    client = app.test_client()
    response, sent = send(app, client)
    assert response.status_code == 400 and sent == []
    body = response.get_json()
    assert body["error"] == "csrf_failed"
    assert "security token" in body["message"]


def test_the_csrf_token_in_the_header_passes(existing):
    app, _ = existing()
    client = app.test_client()
    response, sent = send(app, client, **{"X-CSRFToken": page_token(client)})
    assert response.status_code == 200 and len(sent) == 1


def test_csrf_exempt_on_the_public_blueprint(existing):
    app, _ = existing(exempt=True)
    response, sent = send(app, app.test_client())
    assert response.status_code == 200 and len(sent) == 1


# -- the app's limits are not ours, ours are always on -------------------------------------------------
def test_the_apps_default_limit_does_not_touch_our_routes(existing):
    app, _ = existing(exempt=True)
    client = app.test_client()
    assert [client.get("/ping").status_code for _ in range(3)] == [200, 200, 429]  # RATELIMIT_DEFAULT is the app's
    statuses = [send(app, client, phone=f"1380013800{i}")[0].status_code for i in range(5)]
    assert statuses == [200] * 5
    with client.get("/sms_captcha/static/sms.js") as script:
        assert script.status_code == 200


def test_ratelimit_enabled_false_leaves_our_limits_on(existing):
    app, _ = existing(exempt=True, RATELIMIT_ENABLED=False, SMS_IP_LIMITS="2/hour")
    client = app.test_client()
    statuses = [send(app, client, phone=f"1380013800{i}")[0] for i in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].get_json()["error"] == "rate_limited" and int(statuses[2].headers["Retry-After"]) > 0


def test_an_app_limiter_turned_off_and_passed_in_still_counts_our_limits(redis_server):
    app = Flask("passed")
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=["console"],
        SMS_SUPPRESS_SEND=True,
        RATELIMIT_ENABLED=False,
        SMS_IP_LIMITS="1/hour",
    )
    app.config["SMS_STORAGE_URL"] = redis_server.url
    limiter = Limiter(get_remote_address, app=app)
    SmsExtension(app, limiter=limiter)
    client = app.test_client()
    assert [send(app, client, phone=p)[0].status_code for p in (PHONE, "13900139000")] == [200, 429]


def test_every_429_from_our_routes_has_our_code_and_retry_after(existing):
    app, parts = existing(exempt=True)
    parts["limiter"].limit("1/hour")(parts["sms"].blueprint)  # the app puts a limit of its own on our routes
    client = app.test_client()
    assert send(app, client)[0].status_code == 200
    response, sent = send(app, client, phone="13900139000")
    assert response.status_code == 429 and sent == []
    assert response.get_json()["error"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= 3601  # the hour window (limits rounds its reset up)


# -- our cache takes nothing from the app's CACHE_* keys -------------------------------------------------
def test_codes_and_limits_share_one_database_whatever_cache_redis_db_says(existing, redis_server):
    app, parts = existing(exempt=True)
    client = app.test_client()
    assert send(app, client)[0].status_code == 200
    parts["cache"].set("app-key", "app-value")
    client.get("/fragment")  # the app's {% cache %} tag keeps using the app's cache
    base = redis_server.url.rsplit("/", 1)[0]
    db0 = {key.decode() for key in redis.Redis.from_url(f"{base}/0").keys("*")}
    db3 = {key.decode() for key in redis.Redis.from_url(f"{base}/3").keys("*")}
    assert f"flask_sms:sms:{{captcha:{E164}}}:code" in db0  # our codes ...
    assert any("LIMITER/flask_sms/ip/" in key for key in db0)  # ... next to our limits
    assert not any("sms:" in key for key in db3)
    assert "app_app-key" in db3 and any("greeting" in key for key in db3)  # the app's cache is where it was
    ttl = redis.Redis.from_url(f"{base}/0").ttl(f"flask_sms:sms:{{captcha:{E164}}}:code")
    assert ttl > 60  # the app's CACHE_DEFAULT_TIMEOUT = 1 did not reach our code store


def test_cache_without_limiter_warns_loudly_on_first_use(redis_server, caplog, monkeypatch):
    from flask_sms import reporting

    monkeypatch.setattr(reporting, "_said", set())
    app = Flask("half")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"], SMS_SUPPRESS_SEND=True)
    cache = Cache(app, config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url})
    SmsExtension(app, cache=cache)  # SMS_STORAGE_URL left at memory://
    with caplog.at_level(logging.WARNING, logger="flask_sms"):
        assert send(app, app.test_client())[0].status_code == 200
    (warning,) = [r.getMessage() for r in caplog.records if "limiter=" in r.getMessage()]
    assert "SMS_STORAGE_URL" in warning and "per worker process" in warning


def test_a_redis_cache_configured_by_host_and_port_keeps_the_codes_there(redis_server):
    """A ``cache=`` set up with ``CACHE_REDIS_HOST``/``PORT``/``DB`` (no URL): the scripts run on that Redis."""
    app = Flask("by_host")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"], SMS_SUPPRESS_SEND=True)
    config = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_HOST": "127.0.0.1", "CACHE_REDIS_PORT": redis_server.port}
    cache = Cache(app, config={**config, "CACHE_REDIS_DB": 5, "CACHE_KEY_PREFIX": "mine_"})
    SmsExtension(app, cache=cache)
    response, codes = send(app, app.test_client())
    assert response.status_code == 200 and len(codes) == 1
    base = redis_server.url.rsplit("/", 1)[0]
    assert redis.Redis.from_url(f"{base}/5").exists(f"mine_sms:{{captcha:{E164}}}:code")


# -- Flask-Babel ----------------------------------------------------------------------------------------
def test_flask_babel_picks_the_language_of_our_messages(existing):
    app, _ = existing(exempt=True)
    client = app.test_client()
    tw = client.post("/sms_captcha/?lang=zh_Hant_TW", json={"phone": "12"}).get_json()["message"]
    cn = client.post("/sms_captcha/?lang=zh_CN", json={"phone": "12"}).get_json()["message"]
    fr = client.post("/sms_captcha/?lang=fr", json={"phone": "12"}).get_json()["message"]
    assert (tw, cn, fr) == ("手機號碼格式不正確。", "手机号码格式不正确。", "That is not a valid phone number.")


# -- the login helpers ---------------------------------------------------------------------------------
def test_login_with_the_macro_and_verify_form_code(existing):
    app, _ = existing(RATELIMIT_DEFAULT="100/hour")
    client = app.test_client()
    token = page_token(client)
    html = client.get("/login?lang=zh_CN").get_data(as_text=True)
    assert 'data-sms-url="/sms_captcha/"' in html and "获取验证码" in html and "data-sms-phone" in html
    assert 'maxlength="6"' in html
    _, (code,) = send(app, client, **{"X-CSRFToken": token})
    wrong = client.post(
        "/login", data={"csrf_token": token, "phone": PHONE, "code": "000000" if code != "000000" else "1"}
    )
    assert wrong.status_code == 400 and "The code is incorrect." in wrong.get_data(as_text=True)
    right = client.post("/login", data={"csrf_token": token, "phone": PHONE, "code": code})
    assert right.status_code == 302 and right.headers["Location"] == "/welcome"


def test_a_bad_csrf_token_never_uses_up_the_code_even_when_checked_inside_a_validator(redis_server):
    """The wiring mistake the issue names: checking the code in a WTForms validator (runs despite a bad token)."""
    app = Flask("validator")
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=["console"],
        SMS_SUPPRESS_SEND=True,
        SMS_STORAGE_URL=redis_server.url,
    )
    sms = SmsExtension(app)

    class CodeInValidator(FlaskForm):  # FlaskForm's own CSRF, no CSRFProtect
        phone = StringField()
        code = StringField()

        def validate_code(self, field):
            if not sms.codes.verify_form_code(self.phone, field):
                raise ValidationError("wrong code")

    @app.post("/login")
    def login():
        form = CodeInValidator()
        return jsonify(ok=form.validate(), errors=form.errors)

    @app.get("/token")
    def token():
        return CodeInValidator().csrf_token.current_token

    client = app.test_client()
    with sms.record_messages() as outbox, app.test_request_context():
        sms.send_code(PHONE)
    code = outbox[0].params["code"]
    forged = client.post("/login", data={"csrf_token": "forged", "phone": PHONE, "code": code}).get_json()
    assert forged["ok"] is False and "csrf_token" in forged["errors"]
    good = client.post("/login", data={"csrf_token": client.get("/token").data.decode(), "phone": PHONE, "code": code})
    assert good.get_json() == {"ok": True, "errors": {}}  # the forged post did not burn the code


def test_verify_form_code_says_why_in_the_form_errors(existing):
    app, parts = existing(exempt=True)
    sms = parts["sms"]
    with app.test_request_context("/login?lang=zh_Hant_TW", method="POST", data={"phone": PHONE, "code": "123456"}):
        from flask import g

        g.csrf_valid = True  # as CSRFProtect leaves it for a good token
        form = LoginForm(meta={"csrf": False})
        result = sms.codes.verify_form_code(form.phone, form.code)
        assert not result and result.reason == "invalid_code"  # no live code: said like a wrong one
        assert form.code.errors == ["驗證碼不正確。"]
