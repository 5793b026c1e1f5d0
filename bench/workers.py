"""Sends per second through ``POST /sms_captcha/`` under each gunicorn worker model, measured side by side.

Real gunicorn (``tests/scale_app.py``), a real ``redis-server``, and the fake vendor
answering every request in 100 ms. The models run at the same time and are measured
in alternating windows (sync, gthread, gevent, sync, ...), so each sees the same
machine load; each figure is the median of its windows. The client is 64 threads
on this machine, one new connection per request, every request a phone of its own.
"""

from __future__ import annotations

import http.client
import importlib.util
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

VENDOR_DELAY = 0.1
CLIENTS = 64
WORKERS = 4
MODELS: dict[str, list[str]] = {
    "sync": ["--workers", str(WORKERS), "--worker-class", "sync"],
    "gthread": ["--workers", str(WORKERS), "--worker-class", "gthread", "--threads", "16"],
    "gevent": ["--workers", str(WORKERS), "--worker-class", "gevent", "--worker-connections", "100"],
}
_phones = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, phone: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST", "/sms_captcha/", body=json.dumps({"phone": phone}), headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def _start(name: str, args: list[str], env: dict[str, str], log: Path) -> Server:
    from helpers import gunicorn_command  # tests/helpers.py (tests/ is on sys.path, see measure)

    port = _free_port()
    command = gunicorn_command(port, *args, logfile=log)
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    server = Server(name, port, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn -k {name} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn -k {name} did not start")


def _window(port: int, seconds: float) -> tuple[float, int]:
    """Sends per second (200s only) over ``seconds`` from CLIENTS threads, and how many answers were not 200."""
    stop_at = time.monotonic() + seconds
    ok = [0] * CLIENTS
    bad = [0] * CLIENTS
    lock = threading.Lock()

    def client(index: int) -> None:
        while time.monotonic() < stop_at:
            with lock:
                phone = f"136{next(_phones):08d}"
            if _post(port, phone) == 200:
                ok[index] += 1
            else:
                bad[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sum(ok) / (time.monotonic() - started), sum(bad)


def measure(fake: Any, workdir: Path, vendor_config: Any, seconds: float = 4.0, rounds: int = 3) -> dict[str, Any]:
    """``{"rates": {model: [sends/s per window]}, "errors": {model: n}, "skipped": {model: why}}``."""
    binary = shutil.which("redis-server")
    if binary is None:
        return {"skipped": dict.fromkeys(MODELS, "redis-server is not installed")}
    sys.path.insert(0, str(TESTS))
    from helpers import RedisServer  # tests/helpers.py: a throwaway redis-server on loopback

    redis = RedisServer(binary, workdir / "workers-redis").start()
    config = {
        "SECRET_KEY": "bench-workers-secret",
        "SMS_PROVIDERS": ["aliyun"],
        "SMS_SUPPRESS_SEND": False,
        "SMS_TIMEOUT": 5,
        "SMS_STORAGE_URL": redis.url,
        "SMS_IP_LIMITS": "",  # one client address sends everything here
        "SMS_GLOBAL_LIMITS": "",
        # thousands of codes a second to one prefix from one address is what the fraud guard climbs on (it would
        # answer 428): these rows measure the worker models, the guard's cost has rows of its own
        "SMS_FRAUD_GUARD": None,
        **vendor_config(fake.url, fake.host),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update({f"FLASK_{key}": json.dumps(value) for key, value in config.items()})
    skipped = {}
    if importlib.util.find_spec("gevent") is None:
        skipped["gevent"] = "gevent is not installed"
    servers: list[Server] = []
    rates: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    try:
        for name, args in MODELS.items():
            if name not in skipped:
                servers.append(_start(name, args, env, workdir / f"gunicorn-{name}.log"))
        fake.delay = VENDOR_DELAY
        for server in servers:  # warm-up: workers import everything, pools connect
            _window(server.port, 0.5)
        for _ in range(rounds):
            for server in servers:
                rate, bad = _window(server.port, seconds)
                rates.setdefault(server.name, []).append(rate)
                errors[server.name] = errors.get(server.name, 0) + bad
    finally:
        fake.delay = 0.0
        for server in servers:
            server.stop()
        redis.stop()
    return {"rates": rates, "errors": errors, "skipped": skipped}


def median_rate(result: dict[str, Any], model: str) -> float | None:
    rates = result.get("rates", {}).get(model)
    return statistics.median(rates) if rates else None
