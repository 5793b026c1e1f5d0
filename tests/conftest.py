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
from vendor_config import SECRET_VALUES, TEMPLATES, vendor_config

from flask_sms import SmsExtension

__all__ = [
    "LIMITS",
    "SECRET_VALUES",
    "TEMPLATES",
    "build_app",
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
    server = FakeVendor().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeVendor) -> Iterator[FakeVendor]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


#: the limits an app factory can turn off, by the middle of their key (``SMS_<NAME>_LIMITS``)
LIMITS = ("phone", "ip", "global", "verify_ip")


def build_app(
    fake: FakeVendor,
    providers: list[str] | None = None,
    *,
    storage_url: str | None = None,
    limits_off: bool | tuple[str, ...] = (),
    guard: bool = True,
    clock: Any = None,
    **overrides: Any,
) -> Flask:
    """The test suite's one app factory: every provider pointed at the fake vendor, config checked at once.

    ``providers`` (default Aliyun); ``storage_url`` (``SMS_STORAGE_URL``, default memory://); ``limits_off``:
    ``True`` or some of :data:`LIMITS` (the test client is one IP, so a test of something else turns the per-IP
    limits off); ``guard=False`` turns the app-wide fraud guard off (tests/flow/test_guard_*.py test it);
    ``clock``: the extension's clock (a :class:`helpers.FakeClock`); any ``SMS_*`` key as a keyword.
    """
    app = Flask("flask_sms_tests")
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=providers or ["aliyun"],
        SMS_SUPPRESS_SEND=False,
        SMS_TIMEOUT=2,
        **vendor_config(fake.url, fake.host),
    )
    if storage_url is not None:
        app.config["SMS_STORAGE_URL"] = storage_url
    for name in LIMITS if limits_off is True else limits_off or ():
        app.config[f"SMS_{name.upper()}_LIMITS"] = ""
    if not guard:
        app.config["SMS_FRAUD_GUARD"] = None
    app.config.update(overrides)
    sms = SmsExtension(app)
    sms.check(app)  # config problems surface here, not on first use
    if clock is not None:
        sms.clock = clock
    return app


@pytest.fixture
def make_app(fake: FakeVendor) -> Callable[..., Flask]:
    """:func:`build_app` on this test's fake vendor."""

    def factory(providers: list[str] | None = None, **options: Any) -> Flask:
        return build_app(fake, providers, **options)

    return factory


@pytest.fixture
def clock() -> Any:
    """A hand-driven clock for the extension (``make_app(..., clock=clock)``)."""
    from helpers import FakeClock

    return FakeClock()


@pytest.fixture
def flow_app(make_app: Callable[..., Flask], clock: Any) -> Callable[..., Flask]:
    """Apps for the flow's own tests: the console provider, sends suppressed and recorded, every limit and the
    fraud guard off unless asked, on this test's ``clock``."""

    def factory(providers: list[str] | None = None, **config: Any) -> Flask:
        options: dict[str, Any] = {"limits_off": True, "guard": False, "clock": clock, "SMS_SUPPRESS_SEND": True}
        return make_app(providers or ["console"], **{**options, **config})

    return factory


def storage_app_factory(make_app: Callable[..., Flask], url: str) -> Callable[..., Flask]:
    """Apps on one storage URL, console provider, sends recorded, the per-IP and app-wide limits and the fraud
    guard off (the phone quotas on: they live in the code store), one shared clock (``.clock``)."""
    from helpers import FakeClock

    clock = FakeClock()

    def factory(**config: Any) -> Flask:
        options: dict[str, Any] = {"limits_off": ("ip", "global", "verify_ip"), "guard": False, "clock": clock}
        return make_app(["console"], storage_url=url, **{**options, "SMS_SUPPRESS_SEND": True, **config})

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
