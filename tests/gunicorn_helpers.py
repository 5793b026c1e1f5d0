"""gunicorn and loopback HTTP for the tests that serve the app from real worker processes.

One gunicorn (``scale_app:create_app()``, config from ``FLASK_*`` env vars) per use, its texts going
to the session's fake vendor; :func:`call` and :func:`fire` drive it over loopback HTTP.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import RedisServer, free_port, gunicorn_command, need_module
from vendor_config import vendor_config

TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent


SEND, VERIFY = "/sms_captcha/", "/sms_captcha/verify"


@dataclass
class Reply:
    status: int  # 0: the connection failed (``error`` says how)
    body: Any = None
    pid: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def code(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


Spec = tuple  # (method, path, json payload or None[, raw bytes[, headers]])


def call(
    port: int,
    method: str,
    path: str,
    payload: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
        sent_headers = {"Content-Type": "application/json"} if body is not None else {}
        sent_headers.update(headers or {})
        conn.request(method, path, body=body, headers=sent_headers)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Reply(0, error=repr(exc), started=started, ended=time.monotonic())
    finally:
        conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data
    return Reply(
        response.status,
        parsed,
        int(response.getheader("X-Worker-Pid") or 0),
        dict(response.getheaders()),
        started=started,
        ended=time.monotonic(),
    )


def fire(port: int, specs: Sequence[Spec], threads: int = 50) -> list[Reply]:
    """Send every spec from ``threads`` threads that start together; replies in spec order."""
    threads = max(1, min(threads, len(specs)))
    replies: list[Reply | None] = [None] * len(specs)
    barrier = threading.Barrier(threads)
    order = iter(range(len(specs)))
    lock = threading.Lock()

    def run() -> None:
        barrier.wait(timeout=30)
        while True:
            with lock:
                index = next(order, None)
            if index is None:
                return
            replies[index] = call(port, *specs[index])

    pool = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=300)
    assert all(reply is not None for reply in replies), "some requests never finished"
    return replies  # type: ignore[return-value]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{pid}$", status, re.MULTILINE):
            found.append(int(entry))
    return sorted(found)


def rss_kb(pid: int) -> int:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    assert match, f"no VmRSS for pid {pid}"
    return int(match.group(1))


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen[bytes]
    pidfile: Path
    logfile: Path

    @property
    def master(self) -> int:
        return int(self.pidfile.read_text().strip())

    def workers(self) -> list[int]:
        return _children(self.master)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no gunicorn log)"


def gunicorn_env(fake_url: str, fake_host: str, redis_url: str) -> dict[str, str]:
    config: dict[str, Any] = {
        "SECRET_KEY": "scale-test-secret-key",
        "SMS_PROVIDERS": ["aliyun"],
        "SMS_SUPPRESS_SEND": False,
        "SMS_TIMEOUT": 2,
        "SMS_STORAGE_URL": redis_url,
        # every request comes from 127.0.0.1: the per-IP and app-wide limits are not under test here,
        # nor is the fraud guard (thousands of unverified codes to a few prefixes look like pumping to it)
        "SMS_IP_LIMITS": "",
        "SMS_GLOBAL_LIMITS": "",
        "SMS_VERIFY_IP_LIMITS": "",
        "SMS_FRAUD_GUARD": None,
        **vendor_config(fake_url, fake_host),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    # from_prefixed_env() json-loads each value, so JSON-encoding every one round-trips it exactly
    env.update({f"FLASK_{key}": json.dumps(value) for key, value in config.items()})
    return env


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn's master and workers: its whole process group (it was started in a session of its own)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind, if any
    except ProcessLookupError:
        pass
    process.wait(timeout=15)


@pytest.fixture(scope="module")
def workers_redis(redis_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary, tmp_path_factory.mktemp("workers-redis")).start()
    yield server
    server.stop()


def start_gunicorn(workdir: Any, env: dict[str, str], *worker_args: str) -> Gunicorn:
    need_module("gunicorn")
    port = free_port()
    pidfile, logfile = workdir / "gunicorn.pid", workdir / "gunicorn.log"
    args = gunicorn_command(port, *worker_args, pidfile=pidfile, logfile=logfile)
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    app = Gunicorn(port, process, pidfile, logfile)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{app.log_tail()}")
        if call(port, "GET", "/_scale/pid", timeout=2).status == 200 and pidfile.exists():
            return app
        time.sleep(0.2)
    stop_group(process)
    pytest.fail(f"gunicorn did not answer:\n{app.log_tail()}")


@pytest.fixture
def gunicorn_workers(fake_server: Any, workers_redis: RedisServer, tmp_path: Any) -> Iterator[Any]:
    started: list[Gunicorn] = []

    def start(*worker_args: str, **config: Any) -> Gunicorn:
        env = gunicorn_env(fake_server.url, fake_server.host, workers_redis.url)
        for key, value in config.items():
            import json

            env[f"FLASK_{key}"] = json.dumps(value)
        app = start_gunicorn(tmp_path, env, *worker_args)
        started.append(app)
        return app

    yield start
    for app in started:
        stop_group(app.process)
