from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser_fixtures import browser, expect, page, playwright_api  # noqa: F401 -- the browser tests' fixtures
from fake_vendor import FakeVendor
from flask import Flask
from gunicorn_helpers import gunicorn_workers, workers_redis  # noqa: F401 -- the gunicorn tests' fixtures
from helpers import need_binary, need_module, skip_or_fail
from receipt_fixtures import heard, receipt_app, receipts, serve  # noqa: F401 -- the receipt tests' fixtures
from vendor_config import CREDS, SECRET_VALUES, TEMPLATES, vendor_config

from flask_sms import SmsExtension

__all__ = [
    "CREDS",
    "SECRET_VALUES",
    "TEMPLATES",
    "need_binary",
    "need_module",
    "skip_or_fail",
    "storage_app_factory",
    "vendor_config",
]


@pytest.fixture(autouse=True)
def _logger_levels_kept() -> Iterator[None]:
    """Each test ends with the loggers' levels it started with, whatever ran inside it.

    werkzeug's server turns its logger up to INFO the first time it serves, and an app
    factory may tune its own: left behind, that would change what ``caplog`` sees in
    whichever test runs next (the suite runs in random order).
    """
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in _WATCHED_LOGGERS)]
    levels = [(logger, logger.level) for logger in loggers]
    yield
    for logger, level in levels:
        logger.setLevel(level)


_WATCHED_LOGGERS = ("flask_sms", "werkzeug", "example_app", "flask_sms_tests")


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
            SECRET_KEY="test-secret-key-for-flask-sms",
            SMS_PROVIDERS=providers or ["aliyun"],
            SMS_SUPPRESS_SEND=False,
            SMS_TIMEOUT=2,
            **vendor_config(fake.url, fake.host),
        )
        app.config.update(overrides)
        SmsExtension(app).check(app)  # config problems surface here, not on first use
        return app

    return factory


def storage_app_factory(make_app: Callable[..., Flask], url: str) -> Callable[..., Flask]:
    """Apps on one storage URL, console provider, sends recorded, limits and the fraud guard off, one shared
    clock (``.clock``)."""
    from helpers import FakeClock

    clock = FakeClock()

    def factory(**config: Any) -> Flask:
        settings = {
            "SMS_SUPPRESS_SEND": True,
            "SMS_STORAGE_URL": url,
            "SMS_IP_LIMITS": "",
            "SMS_GLOBAL_LIMITS": "",
            "SMS_VERIFY_IP_LIMITS": "",
            "SMS_FRAUD_GUARD": None,  # the app-wide defence too (tests/flow/test_guard_*.py test it)
        }
        settings.update(config)
        app = make_app(["console"], **settings)
        app.extensions["sms"].clock = clock
        return app

    factory.clock = clock  # type: ignore[attr-defined]
    return factory


@pytest.fixture(scope="session")
def redis_binary() -> str:
    return need_binary("redis-server")


@pytest.fixture
def redis_server(redis_binary: str, tmp_path: Any) -> Iterator[Any]:
    from helpers import RedisServer

    server = RedisServer(redis_binary, tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def example_app_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """The example_app package, with no FLASK_* variables and no .env leaking in from the host."""
    import logging
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))  # example_app sits next to tests/
    for name in list(os.environ):
        if name.startswith("FLASK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    logger = logging.getLogger("flask_sms")  # create_app tunes it; put it back afterwards
    monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    import example_app

    return example_app
