"""Shared pieces for the verification-flow tests: a clock and a real Redis server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest


def config_problems(sms: Any, app: Any) -> list[str]:
    """Every problem of the app's ``SMS_*`` config (what ``flask sms check`` prints); empty when it is fine."""
    from flask_sms import ConfigError

    try:
        sms.check(app)
    except ConfigError as exc:
        return list(exc.problems)
    return []


class FakeClock:
    """A clock the tests move by hand (``SmsExtension.clock``)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway ``redis-server`` on loopback, stoppable and restartable on the same port."""

    def __init__(self, binary: str, workdir: Path, port: int | None = None, extra: tuple[str, ...] = ()) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            *self.extra,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith((b"+PONG", b"-NOAUTH")):  # up (maybe with a password)
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def gunicorn_command(port: int, *worker_args: str, logfile: Path, pidfile: Path | None = None) -> list[str]:
    """gunicorn serving ``tests/scale_app.py`` on 127.0.0.1:``port`` (scale tests, worker tests, the bench)."""
    import sys

    tests = Path(__file__).resolve().parent
    return [
        sys.executable,
        "-m",
        "gunicorn",
        *worker_args,
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--chdir",
        str(tests),
        "--pythonpath",
        str(tests.parent),
        *(["--pid", str(pidfile)] if pidfile is not None else []),
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        "--error-logfile",
        str(logfile),
        "scale_app:create_app()",
    ]


def send_and_collect(app, client, phone: str) -> tuple:
    """POST /sms_captcha/ and return (response, codes the app sent meanwhile)."""
    with app.extensions["sms"].record_messages() as outbox:
        response = client.post("/sms_captcha/", json={"phone": phone})
    return response, [message.params["code"] for message in outbox]


REQUIRE_ALL = os.environ.get("SMS_REQUIRE_ALL") == "1"


def skip_or_fail(message: str) -> None:
    """Skip locally; fail under SMS_REQUIRE_ALL=1 (CI), where a skip would hide a missing install."""
    message = f"{message} (CI installs it; SMS_REQUIRE_ALL=1 makes this a failure)"
    if REQUIRE_ALL:
        pytest.fail(message)
    pytest.skip(message)


def need_binary(name: str) -> str:
    """Path of a system binary, or skip (fail under SMS_REQUIRE_ALL=1, as in CI)."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed")
    return path  # type: ignore[return-value]


def need_module(name: str) -> None:
    """An importable package run as ``python -m NAME`` (gunicorn), or skip (fail under SMS_REQUIRE_ALL=1)."""
    import importlib.util

    if importlib.util.find_spec(name) is None:
        skip_or_fail(f"{name} is not installed in this Python")


# -- calls go one way -------------------------------------------------------------------------------
LAYERS = {
    "flask_sms.blueprint": 0,
    "flask_sms.cli": 0,
    "flask_sms.receipt_views": 0,
    "flask_sms.extension": 1,
    "flask_sms.flow": 2,
    "flask_sms.receipts": 2,
    "flask_sms.sender": 3,
    "flask_sms.providers": 4,
}  # every other flask_sms module (storage, limits, errors, ...) is a leaf: rank 5


def layer_rank(module: str) -> int | None:
    """A flask_sms module's layer (views 0 ... providers 4, leaves 5); None outside flask_sms."""
    if not module.startswith("flask_sms"):
        return None
    for prefix, rank in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return 5
