"""Config is read and checked once, at init_app."""

from __future__ import annotations

import sys

import pytest
from flask import Flask
from vendor_config import ALIYUN, TENCENT, vendor_config

from flask_sms import ConfigError, SmsExtension, send_sms


def test_every_problem_is_listed_in_one_error():
    app = Flask("bad")
    app.config.update(
        SMS_PROVIDERS=["aliyun", "tencent", "sendgrid"],
        SMS_TIMEOUT="soon",
        SMS_MAX_CONCURRENCY=0,
        SMS_DEFAULT_REGION="XX",
        SMS_ALIYUN_ACCESS_KEY_ID="id",
        SMS_ALIYUN_TEMPLATES={"captcha": {"params": ["code"]}},
        SMS_ALIYUN_SCHEME="ftp",
        SMS_TENCENT_ENDPOINT="http://sms.tencentcloudapi.com/",
    )
    with pytest.raises(ConfigError) as caught:
        SmsExtension(app).check(app)
    text = str(caught.value)
    for fragment in [
        "sendgrid",
        "SMS_TIMEOUT",
        "SMS_MAX_CONCURRENCY",
        "SMS_DEFAULT_REGION",
        "SMS_ALIYUN_ACCESS_KEY_SECRET is required",
        "SMS_ALIYUN_SIGN_NAME is required",
        "SMS_ALIYUN_TEMPLATES['captcha'] needs a non-empty 'id'",
        "SMS_ALIYUN_SCHEME",
        "SMS_TENCENT_SECRET_ID is required",
        "SMS_TENCENT_SECRET_KEY is required",
        "SMS_TENCENT_SDK_APP_ID is required",
        "SMS_TENCENT_SIGN_NAME is required",
        "SMS_TENCENT_TEMPLATES is required",
        "SMS_TENCENT_ENDPOINT",
        "SECRET_KEY must be set",
    ]:
        assert fragment in text
    assert len(caught.value.problems) == 15


def test_providers_are_required_in_production():
    app = Flask("prod")
    with pytest.raises(ConfigError, match="SMS_PROVIDERS is required"):
        SmsExtension(app).check(app)


def test_debug_app_defaults_to_console():
    app = Flask("dev")
    app.debug = True
    app.secret_key = "dev"
    SmsExtension(app)
    assert app.config["SMS_PROVIDERS"] == ["console"]
    assert app.config["SMS_SUPPRESS_SEND"] is False
    assert app.config["SMS_TIMEOUT"] == 5 and app.config["SMS_DEFAULT_REGION"] == "CN"
    # only the providers in use get their defaults written into app.config
    assert not [key for key in app.config if key.startswith(("SMS_ALIYUN_", "SMS_RONGLIAN_", "SMS_TENCENT_"))]


def test_only_providers_in_use_get_their_defaults(make_app):
    app = make_app(["tencent"])
    assert app.config["SMS_TENCENT_ENDPOINT"]  # the fake vendor's, set by the test
    assert app.config["SMS_TENCENT_REGION"] == "ap-guangzhou"  # a default, written
    bare = Flask("bare")
    bare.config.update(SMS_PROVIDERS=["aliyun"], SECRET_KEY="test-secret-key-for-flask-sms")
    SmsExtension(bare)
    assert bare.config["SMS_ALIYUN_ENDPOINT"] == "dysmsapi.aliyuncs.com"
    assert "SMS_RONGLIAN_BASE_URL" not in bare.config and "SMS_TENCENT_REGION" not in bare.config


def test_missing_sdk_names_the_extra(monkeypatch):
    # None in sys.modules makes "import aliyunsdkcore.client" raise ImportError, as when it is not installed
    monkeypatch.setitem(sys.modules, "aliyunsdkcore.client", None)
    monkeypatch.setitem(sys.modules, "tencentcloud.sms.v20210111.sms_client", None)
    app = Flask("nosdk")
    app.config.update(
        SECRET_KEY="a-long-random-test-key",
        SMS_PROVIDERS=["aliyun", "tencent", "ihuyi"],
        **vendor_config("http://127.0.0.1:9", "127.0.0.1:9"),
    )
    with pytest.raises(ConfigError) as caught:
        SmsExtension(app).check(app)
    assert "pip install 'Flask-SMS-Captcha[aliyun]'" in str(caught.value)
    assert "pip install 'Flask-SMS-Captcha[tencent]'" in str(caught.value)
    assert len(caught.value.problems) == 2  # ihuyi needs no SDK


def test_import_works_without_any_vendor_sdk():
    import subprocess

    code = (
        "import sys\n"
        "for name in ['aliyunsdkcore', 'tencentcloud', 'ronglian_sms_sdk']: sys.modules[name] = None\n"
        "import flask_sms\n"
        "from flask_sms import SmsExtension, send_sms, SendResult, SmsError, SendError, ConfigError\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_config_from_prefixed_env_with_json_values(monkeypatch, fake):
    env = {
        "FLASK_SECRET_KEY": "from-the-environment",
        "FLASK_SMS_PROVIDERS": '["tencent", "aliyun"]',
        "FLASK_SMS_TIMEOUT": "3",
        "FLASK_SMS_TENCENT_SECRET_ID": TENCENT.secret_id,
        "FLASK_SMS_TENCENT_SECRET_KEY": TENCENT.secret_key,
        "FLASK_SMS_TENCENT_SDK_APP_ID": TENCENT.app_id,  # digits: JSON-loads to an int
        "FLASK_SMS_TENCENT_SIGN_NAME": "腾讯云测试",
        "FLASK_SMS_TENCENT_TEMPLATES": '{"captcha": {"id": 5750123, "params": ["code", "minutes"]}}',
        "FLASK_SMS_TENCENT_ENDPOINT": fake.host,
        "FLASK_SMS_TENCENT_SCHEME": "http",
        "FLASK_SMS_ALIYUN_ACCESS_KEY_ID": ALIYUN.key_id,
        "FLASK_SMS_ALIYUN_ACCESS_KEY_SECRET": ALIYUN.secret,
        "FLASK_SMS_ALIYUN_SIGN_NAME": "签名",
        "FLASK_SMS_ALIYUN_TEMPLATES": '{"captcha": "SMS_1"}',
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = Flask("env")
    app.config.from_prefixed_env()
    SmsExtension(app)
    settings = app.extensions["sms"].check(app)
    assert settings.providers == ("tencent", "aliyun") and settings.timeout == 3
    with app.app_context():
        result = send_sms("13800138000", "captcha", {"code": "1234", "minutes": 5})
    assert result.provider == "tencent"
    (received,) = fake.received("tencent")
    assert received.template == "5750123"


def test_comma_separated_provider_list_is_accepted(make_app):
    app = make_app("aliyun, tencent")
    assert app.extensions["sms"].check(app).providers == ("aliyun", "tencent")


def test_extension_does_not_keep_the_app():
    import gc
    import weakref

    sms = SmsExtension()
    app = Flask("gone")
    app.debug = True
    app.secret_key = "test-secret-key-for-flask-sms"
    sms.init_app(app)
    assert app.extensions["sms"] is sms
    assert not any(value is app for value in vars(sms).values())
    ref = weakref.ref(app)
    del app
    gc.collect()
    assert ref() is None


def test_one_extension_serves_two_apps(make_app, fake):
    sms = SmsExtension()
    first, second = Flask("one"), Flask("two")
    first.debug = second.debug = True
    first.secret_key = second.secret_key = "test-secret-key-for-flask-sms"
    second.config.update(SMS_PROVIDERS=["tencent"], SMS_SUPPRESS_SEND=True, **vendor_config(fake.url, fake.host))
    sms.init_app(first)
    sms.init_app(second)
    with second.app_context(), sms.record_messages() as outbox:
        assert send_sms("13800138000", "captcha", {"code": "1", "minutes": 1}).provider == "tencent"
    with first.app_context():
        assert send_sms("13800138000", "captcha", {"code": "1"}).provider == "console"
    assert len(outbox) == 1
