"""A broken SMS config never breaks unrelated commands; registering the routes (or not), and where."""

from __future__ import annotations

import logging

import click
import pytest
from flask import Blueprint, Flask
from helpers import config_problems

from flask_sms import ConfigError, SmsExtension, send_sms

PHONE = "13800138000"


def production_app_without_sms_config() -> Flask:
    """flaskr-like: an app of its own, with its own command and views, and no SMS_* keys at all."""
    app = Flask("flaskr")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms")

    @app.cli.command("init-db")
    def init_db() -> None:
        click.echo("Initialized the database.")

    @app.get("/hello")
    def hello() -> str:
        return "Hello, World!"

    return app


def test_a_missing_config_does_not_break_init_app_commands_or_views():
    app = production_app_without_sms_config()
    sms = SmsExtension(app)  # outside debug/testing SMS_PROVIDERS is required: no raise here
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0 and result.output == "Initialized the database.\n"
    assert app.test_client().get("/hello").data == b"Hello, World!"
    assert config_problems(sms, app) == [
        (
            "SMS_PROVIDERS is required outside debug/testing, e.g. ['aliyun', 'tencent'] "
            "(choices: aliyun, tencent, ronglian, ihuyi, huawei, volcengine, baidu, qiniu, yunpian, netease, console)"
        )
    ]


def test_first_use_fails_loudly(caplog, monkeypatch):
    from flask_sms import reporting

    monkeypatch.setattr(reporting, "_said", set())  # said once per process: this test's own process-wide slate
    app = production_app_without_sms_config()
    sms = SmsExtension(app)
    with app.app_context(), pytest.raises(ConfigError, match="SMS_PROVIDERS is required"):
        send_sms(PHONE, "captcha", {"code": "1"})
    with app.test_request_context(), pytest.raises(ConfigError):
        sms.send_code(PHONE)
    with app.test_request_context(), pytest.raises(ConfigError):
        sms.verify_code(PHONE, "123456")
    with pytest.raises(ConfigError):
        sms.check(app)

    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="flask_sms"):
        sent = client.post("/sms_captcha/", json={"phone": PHONE})
        verified = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": "123456"})
    assert sent.status_code == verified.status_code == 503
    assert sent.get_json()["error"] == "unavailable"
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lines) == 1 and "SMS_PROVIDERS is required" in lines[0] and "flask sms check" in lines[0]  # once
    assert "POST /sms_captcha/" in lines[0]


def test_flask_sms_check_lists_every_problem_and_exits_non_zero():
    app = production_app_without_sms_config()
    app.config.update(SMS_PROVIDERS=["aliyun"], SMS_CODE_TTL=5, SMS_TIMEOUT="soon")
    SmsExtension(app)
    result = app.test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 1
    for fragment in ("SMS_ALIYUN_ACCESS_KEY_ID is required", "SMS_CODE_TTL", "SMS_TIMEOUT", "problem(s)"):
        assert fragment in result.output
    assert result.output.count("\n  - ") == 6  # timeout, 4 aliyun keys, TTL


def test_flask_sms_check_passes_and_reaches_the_storage(make_app):
    app = make_app(["console"])
    result = app.test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 0, result.output
    assert "config OK; providers console; verification flow storage memory:// reachable" in result.output


def test_flask_sms_check_reports_a_storage_that_does_not_answer(make_app):
    from fake_vendor import unused_port

    app = make_app(["console"], SMS_STORAGE_URL=f"redis://127.0.0.1:{unused_port()}/0", SMS_TIMEOUT=1)
    result = app.test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 1
    assert "cannot be reached" in result.output


# -- registration -----------------------------------------------------------------------------
def test_routes_can_be_turned_off_keeping_the_api(make_app):
    app = make_app(["console"], SMS_REGISTER_ROUTES=False, SMS_SUPPRESS_SEND=True)
    assert "sms" not in app.blueprints
    assert not [rule for rule in app.url_map.iter_rules() if "sms_captcha" in rule.rule]
    assert app.test_client().post("/sms_captcha/", json={"phone": PHONE}).status_code == 404
    sms = app.extensions["sms"]
    with app.test_request_context(), sms.record_messages() as outbox:
        sent = sms.send_code(PHONE)
        assert sent.resend_after == 60
        assert sms.verify_code(PHONE, outbox[0].params["code"])


def test_routes_on_a_subdomain():
    app = Flask("sub", subdomain_matching=True)  # Flask routes by subdomain with SERVER_NAME set
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=["console"],
        SMS_SUBDOMAIN="api",
        SERVER_NAME="example.test",
    )
    app.testing = True
    SmsExtension(app).check(app)
    client = app.test_client()
    on_api = client.post("/sms_captcha/", json={"phone": PHONE}, base_url="http://api.example.test")
    elsewhere = client.post("/sms_captcha/", json={"phone": "13900139000"}, base_url="http://example.test")
    assert on_api.status_code == 200 and elsewhere.status_code == 404
    with app.test_request_context():
        from flask import url_for

        assert url_for("sms.send_code") == "http://api.example.test/sms_captcha/"


def test_a_bad_subdomain_is_a_config_problem(make_app):
    with pytest.raises(ConfigError, match="SMS_SUBDOMAIN must be a subdomain"):
        make_app(["console"], SMS_SUBDOMAIN="not a host!")


def test_init_app_twice_says_what_to_do(make_app):
    app = make_app(["console"])
    with pytest.raises(ConfigError, match="already called for this app: call it once per app"):
        app.extensions["sms"].init_app(app)
    with pytest.raises(ConfigError, match=r"app\.extensions\['sms'\]"):
        SmsExtension(app)


def test_a_blueprint_named_sms_says_what_to_do():
    app = Flask("clash")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"])
    app.register_blueprint(Blueprint("sms", __name__, url_prefix="/texts"))
    with pytest.raises(ConfigError, match="SMS_REGISTER_ROUTES = False") as caught:
        SmsExtension(app)
    assert "already has a blueprint named 'sms'" in str(caught.value)
    assert not isinstance(caught.value, ValueError)
    other = Flask("clash2")
    other.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"], SMS_REGISTER_ROUTES=False
    )
    other.register_blueprint(Blueprint("sms", __name__, url_prefix="/texts"))
    SmsExtension(other).check(other)  # without our routes there is no clash


def test_sms_blueprint_is_public(make_app):
    app = make_app(["console"])
    sms = app.extensions["sms"]
    assert sms.blueprint is app.blueprints["sms"]
    assert SmsExtension().blueprint.name == "sms"  # before init_app too, e.g. for csrf.exempt
