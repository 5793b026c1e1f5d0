from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_vendor import Credentials, FakeVendor
from flask import Flask

from flask_sms import SmsExtension

REQUIRE_ALL = os.environ.get("SMS_REQUIRE_ALL") == "1"

CREDS = Credentials()

TEMPLATES: dict[str, Any] = {
    "aliyun": {"captcha": "SMS_153055065", "notice": {"id": "SMS_200", "params": ["name"]}},
    "tencent": {"captcha": {"id": "5750123", "params": ["code", "minutes"]}, "notice": {"id": "200", "params": ["name"]}},
    "ronglian": {"captcha": {"id": "1", "params": ["code", "minutes"]}, "notice": {"id": "2", "params": ["name"]}},
    "ihuyi": {"captcha": "您的验证码是:{code}。请不要把验证码泄露给其他人。", "notice": "{name}，您好"},
}

#: every credential value the tests configure; none may ever be printed or logged
SECRET_VALUES = (
    CREDS.aliyun_key_id,
    CREDS.aliyun_secret,
    CREDS.tencent_secret_id,
    CREDS.tencent_secret_key,
    CREDS.ronglian_sid,
    CREDS.ronglian_token,
    CREDS.ihuyi_account,
    CREDS.ihuyi_api_key,
)


def vendor_config(base_url: str, host: str, creds: Credentials = CREDS) -> dict[str, Any]:
    """``SMS_*`` keys for all four vendors, every endpoint on the loopback fake."""
    return {
        "SMS_ALIYUN_ACCESS_KEY_ID": creds.aliyun_key_id,
        "SMS_ALIYUN_ACCESS_KEY_SECRET": creds.aliyun_secret,
        "SMS_ALIYUN_SIGN_NAME": "阿里云短信测试",
        "SMS_ALIYUN_TEMPLATES": TEMPLATES["aliyun"],
        "SMS_ALIYUN_ENDPOINT": host,
        "SMS_ALIYUN_SCHEME": "http",
        "SMS_TENCENT_SECRET_ID": creds.tencent_secret_id,
        "SMS_TENCENT_SECRET_KEY": creds.tencent_secret_key,
        "SMS_TENCENT_SDK_APP_ID": creds.tencent_app_id,
        "SMS_TENCENT_SIGN_NAME": "腾讯云测试",
        "SMS_TENCENT_TEMPLATES": TEMPLATES["tencent"],
        "SMS_TENCENT_ENDPOINT": host,
        "SMS_TENCENT_SCHEME": "http",
        "SMS_RONGLIAN_ACCOUNT_SID": creds.ronglian_sid,
        "SMS_RONGLIAN_AUTH_TOKEN": creds.ronglian_token,
        "SMS_RONGLIAN_APP_ID": creds.ronglian_app_id,
        "SMS_RONGLIAN_TEMPLATES": TEMPLATES["ronglian"],
        "SMS_RONGLIAN_BASE_URL": base_url,
        "SMS_IHUYI_ACCOUNT": creds.ihuyi_account,
        "SMS_IHUYI_API_KEY": creds.ihuyi_api_key,
        "SMS_IHUYI_TEMPLATES": TEMPLATES["ihuyi"],
        "SMS_IHUYI_URL": f"{base_url}/webservice/sms.php?method=Submit",
    }


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeVendor]:
    server = FakeVendor(CREDS).start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeVendor) -> Iterator[FakeVendor]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def make_app(fake: FakeVendor) -> Callable[..., Flask]:
    """Build an app whose providers all talk to the fake vendor."""

    def factory(providers: list[str] | None = None, **overrides: Any) -> Flask:
        app = Flask("flask_sms_tests")
        app.config.update(
            SECRET_KEY="test-secret-key",
            SMS_PROVIDERS=providers or ["aliyun"],
            SMS_SUPPRESS_SEND=False,
            SMS_TIMEOUT=2,
            **vendor_config(fake.url, fake.host),
        )
        app.config.update(overrides)
        SmsExtension(app)
        return app

    return factory


def need_binary(name: str) -> str:
    """Path of a system binary, or skip (fail under SMS_REQUIRE_ALL=1, as in CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (CI installs it; set SMS_REQUIRE_ALL=1 to make this a failure)"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def redis_binary() -> str:
    return need_binary("redis-server")


@pytest.fixture
def redis_server(redis_binary: str, tmp_path: Any) -> Iterator[Any]:
    from helpers import RedisServer

    server = RedisServer(redis_binary, tmp_path / "redis").start()
    yield server
    server.stop()
