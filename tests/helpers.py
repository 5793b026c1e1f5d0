"""Shared pieces for the verification-flow tests: a clock and a real Redis server."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any


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
