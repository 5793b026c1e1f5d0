"""Fixtures of the receipt tests: the fake's receipts plug-in, an app served over real HTTP, a listener."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_receipts import FakeReceipts
from flask import Flask
from werkzeug.serving import make_server

from flask_sms import DeliveryReport, delivery_reported

TOKEN = "receipt-token-0123456789abcdef"
PHONE, OTHER = "+8613800138000", "+8613900139000"


@pytest.fixture
def receipts(fake: Any) -> Iterator[FakeReceipts]:
    plugin = FakeReceipts(fake).install()
    yield plugin
    plugin.uninstall()


@pytest.fixture
def heard() -> Iterator[list[DeliveryReport]]:
    reports: list[DeliveryReport] = []

    def listen(sender: Flask, report: DeliveryReport) -> None:
        reports.append(report)

    delivery_reported.connect(listen)
    yield reports
    delivery_reported.disconnect(listen)


class Served:
    """An app served over real HTTP on loopback, in a thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def receipt_url(self, provider: str, token: str | None = TOKEN, *, in_path: bool = False) -> str:
        if in_path:
            return f"{self.url}/sms_receipts/{provider}/{token}"
        return f"{self.url}/sms_receipts/{provider}" + ("" if token is None else f"?token={token}")

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], Served]]:
    started: list[Served] = []

    def start(app: Flask) -> Served:
        served = Served(app)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


@pytest.fixture
def receipt_app(make_app: Callable[..., Flask]) -> Callable[..., Flask]:
    def factory(providers: list[str] | None = None, **config: Any) -> Flask:
        return make_app(providers or ["tencent"], SMS_RECEIPT_TOKEN=TOKEN, **config)

    return factory
