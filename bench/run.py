"""Side-by-side benchmark of flask_sms: ratios measured in one run, on one machine.

``python -m bench`` (or ``python bench/run.py``) prints a markdown table:

1. route overhead: ``POST /sms_captcha/`` and ``/sms_captcha/verify`` against a bare
   Flask route that parses the same JSON, through the same Flask test client;
2. Redis cost: commands per send / verify, counted with ``MONITOR`` and ``INFO commandstats``
   on a ``redis-server`` this script starts;
3. SDK overhead: ``send_sms`` against each vendor's bare official SDK, both on the loopback
   fake vendor from ``tests/fake_vendor.py``;
4. bulk: 10,000 numbers with the fake adding 50 ms per request;
5. worker models: sends/s through real gunicorn (sync, gthread, gevent) on a real Redis, the
   fake answering in 100 ms (bench/workers.py);
6. delivery receipts: a Tencent push of 100 reports through ``POST /sms_receipts/tencent``
   against a bare route that parses the same JSON, same test client;
7. ``memory://`` nearly full: a send through the route on a store holding 85,000 live security
   keys and a full receipts part, against the same send on an empty store.

The two sides of a ratio are timed one call at a time in alternation (ours, baseline,
baseline, ours, ...), so both see the same machine load; each side is the median of its
per-call times and the ratio is ours / baseline. The vendor fake runs in a child process.
This is not a test: it never fails, it reports. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib.util
import io
import itertools
import json
import logging
import math
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
for _path in (str(TESTS), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# tests/ is on sys.path: reuse the fake vendor's credentials and the tests' config helpers.
from flask import Flask, jsonify, request

# The same account and templates the tests use.
from vendor_config import (
    ALIYUN,
    BAIDU,
    HUAWEI,
    IHUYI,
    NETEASE,
    QINIU,
    RONGLIAN,
    TEMPLATES,
    TENCENT,
    VOLCENGINE,
    YUNPIAN,
    vendor_config,
)

from bench.common import (
    PHONE,
    Row,
    Samples,
    Timing,
    alternate,
    check_fake,
    count_row,
    fmt_time,
    limit_row,
    progress,
    ratio_row,
    report_lines,
    vendor_app,
    write_docs_include,
)
from bench.fake_server import RemoteFake
from flask_sms import SmsExtension, register_provider, send_sms
from flask_sms.providers import Reply
from flask_sms.providers.console import ConsoleProvider

HIGH_LIMIT = "1000000/hour"
PARAMS = {"code": "123456", "minutes": 5}
VENDORS = ("aliyun", "tencent", "ronglian", "ihuyi", "huawei", "volcengine", "baidu", "qiniu", "yunpian", "netease")
#: the SDK comparison's cases: (row name, provider, its config); Aliyun once per SDK generation
SDK_CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    *((vendor, vendor, {}) for vendor in VENDORS),
    ("aliyun-v2", "aliyun", {"SMS_ALIYUN_SDK": "v2"}),
)
BULK_NUMBERS = 10_000
BULK_DELAY = 0.05

_phone_counter = itertools.count(10_000_000)


def fresh_phone() -> str:
    """A valid mainland mobile number never used before in this run ("+86139" + 8 digits), each in another
    7-digit prefix than the one before (thousands of codes to one prefix are pumping, to the fraud guard)."""
    number = next(_phone_counter)
    return f"+86139{number % 10_000:04d}{(number // 10_000) % 10_000:04d}"


# --------------------------------------------------------------------------------- 1. routes


def quiet_flask_sms_logger() -> None:
    """The console provider logs every text through ``flask_sms``; keep that logger as the
    app would have it (level, redacting filter) but give it a NullHandler, so records are
    made and filtered but not written anywhere. The console provider then adds no stderr
    handler of its own (it only does when the logger has none)."""
    logger = logging.getLogger("flask_sms")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


class InstantProvider(ConsoleProvider):
    """The console provider without its made-up delivery reports: a vendor that answers at once.

    The Redis counts measure what a send costs with a real vendor; the console's instant
    "delivered" reports (two more writes, for the dev inbox) are not part of that."""

    def parse(self, raw: str, phones: Sequence[str]) -> Reply:
        reply = super().parse(raw, phones)
        reply.reports = []
        return reply


register_provider("bench_instant", InstantProvider)


def route_app(
    storage_url: str = "memory://", high_limits: bool = True, provider: str = "console", **config: Any
) -> tuple[Flask, SmsExtension]:
    """The flow's routes with a provider; the fraud guard only where a row measures it
    (``SMS_FRAUD_GUARD=...``): the bench's thousands of unverified codes would put the app under
    pressure after one code TTL."""
    app = Flask("bench_routes")
    app.config.update(
        SECRET_KEY="bench-secret-key",
        SMS_PROVIDERS=[provider],
        SMS_SUPPRESS_SEND=False,  # the console provider really "sends" (logs) each text
        SMS_STORAGE_URL=storage_url,
        **{"SMS_FRAUD_GUARD": None, **config},
    )
    if high_limits:
        app.config.update(
            SMS_IP_LIMITS=HIGH_LIMIT,
            SMS_PHONE_LIMITS=HIGH_LIMIT,
            SMS_GLOBAL_LIMITS=HIGH_LIMIT,
            SMS_VERIFY_IP_LIMITS=HIGH_LIMIT,
        )
    quiet_flask_sms_logger()
    sms = SmsExtension(app)
    add_bare_routes(app)
    return app, sms


#: as long as the verification tokens the real route signs (its signing is part of what the route costs)
BARE_TOKEN = "x" * 135


def add_bare_routes(app: Flask) -> None:
    """Parse the same JSON as the flask_sms routes and answer the same shape, nothing else."""

    @app.post("/bare/send")
    def bare_send() -> Any:
        data = request.get_json()
        data.get("phone"), data.get("purpose")
        return jsonify(ok=True, expires_in=300, resend_after=60)

    @app.post("/bare/verify")
    def bare_verify() -> Any:
        data = request.get_json()
        data.get("phone"), data.get("code"), data.get("purpose")
        return jsonify(ok=True, token=BARE_TOKEN, expires_in=600)  # the same shape (a token of the same length)


def plain_app() -> Flask:
    """The bare route alone, in an app without flask_sms (for the informational rows)."""
    app = Flask("bench_plain")
    add_bare_routes(app)
    return app


def send_codes(client: Any, sms: SmsExtension, n: int) -> list[dict[str, str]]:
    """Send ``n`` codes through the route (untimed) and return verify payloads with the right codes."""
    with sms.record_messages() as outbox:
        for _ in range(n):
            response = client.post("/sms_captcha/", json={"phone": fresh_phone()})
            if response.status_code != 200:
                raise RuntimeError(f"send failed while preparing verify: {response.status_code} {response.json}")
    return [{"phone": m.phones[0], "code": m.params["code"]} for m in outbox]


def poster(client: Any, url: str, payloads: list[dict[str, str]]) -> Callable[[], None]:
    """One POST per call, each with the next prepared JSON body; anything but 200 stops the run."""
    queue = iter(payloads)
    post = client.post

    def call() -> None:
        response = post(url, json=next(queue))
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")

    return call


class FromManyNetworks:
    """A test client whose every request comes from another public /24, as real traffic does (from one
    network, hundreds of codes a minute are a campaign to the fraud guard)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.count = itertools.count()

    def post(self, *args: Any, **kwargs: Any) -> Any:
        index = next(self.count)
        self.client.environ_base["REMOTE_ADDR"] = f"58.{20 + index // 256 % 200}.{index % 256}.9"
        return self.client.post(*args, **kwargs)


def bench_routes(rows: list[Row], pairs: int) -> None:
    app, sms = route_app()
    client = app.test_client()
    plain = plain_app().test_client()

    def phones(n: int) -> list[dict[str, str]]:
        return [{"phone": fresh_phone()} for _ in range(n)]

    # warm-up: first-request setup, phonenumbers metadata, code paths
    warm = send_codes(client, sms, 40)
    for call in (
        poster(client, "/bare/send", phones(40)),
        poster(plain, "/bare/send", phones(40)),
        poster(client, "/sms_captcha/verify", warm),
        poster(client, "/bare/verify", warm),
        poster(plain, "/bare/verify", warm),
    ):
        for _ in range(40):
            call()

    progress("route: send")
    timing = alternate(
        poster(client, "/sms_captcha/", phones(pairs)), poster(client, "/bare/send", phones(pairs)), pairs
    )
    rows.append(ratio_row("route: `POST /sms_captcha/` vs bare route, per request", timing, 3.0))
    send_vs_plain = poster(plain, "/bare/send", phones(pairs // 2))

    progress("route: verify")
    codes = send_codes(client, sms, 2 * pairs)  # untimed: every verify below uses a live, right code
    timing = alternate(
        poster(client, "/sms_captcha/verify", codes[:pairs]), poster(client, "/bare/verify", codes[pairs:]), pairs
    )
    rows.append(ratio_row("route: `POST /sms_captcha/verify` vs bare route, per request", timing, 2.0))

    progress("route: send with the fraud guard on vs off")
    guarded, guarded_sms = route_app(SMS_FRAUD_GUARD="standard")
    guarded_client = FromManyNetworks(guarded.test_client())
    send_codes(guarded_client, guarded_sms, 40)  # warm-up
    timing = alternate(
        poster(guarded_client, "/sms_captcha/", phones(pairs)), poster(client, "/sms_captcha/", phones(pairs)), pairs
    )
    rows.append(
        ratio_row("guard: `POST /sms_captcha/` with SMS_FRAUD_GUARD='standard' vs None, per request", timing, 1.3)
    )

    # Informational: the bare routes above live in the flask_sms app (same client). This
    # compares the same bare route in an app without flask_sms: what installing the extension
    # costs every other route of an app (it adds no request hooks, so this should be ~1x).
    progress("route: bare route with and without flask_sms installed")
    timing = alternate(poster(client, "/bare/send", phones(pairs // 2)), send_vs_plain, pairs // 2)
    rows.append(
        Row(
            "info: the bare send route in the flask_sms app vs in a plain Flask app (no flask_sms)",
            fmt_time(timing.ours, "µs"),
            fmt_time(timing.base, "µs"),
            timing.ratio,
        )
    )


# --------------------------------------------------------------------------------- 7. memory:// nearly full

#: live security keys and receipt keys put in the nearly full store (its capacities: 100,000 and 50,000)
FULL_SECURITY_KEYS = 85_000
FULL_RECEIPT_KEYS = 50_000


def fill_memory(app: Flask, security_keys: int = FULL_SECURITY_KEYS, receipt_keys: int = FULL_RECEIPT_KEYS) -> None:
    """What a busy day leaves in ``memory://``: live cool-downs, codes and quota counters of other phones
    (kept a day), and receipts (kept 3 days). Written straight to the backend."""
    from flask_sms.memory import RECEIPTS
    from flask_sms.storage import keys_for

    (backend,) = app.extensions["cache"].values()
    security: dict[str, Any] = {}
    for index in range(security_keys // 3):
        keys = keys_for("captcha", f"+86137{index:08d}")
        security[keys.cooldown] = 1.0
        security[keys.code] = ("0" * 64, 1.0)
        security[keys.quota(10, 86400)] = (1, 1.0)
    backend.set_many(security, timeout=86_400)
    backend.set_many({f"{RECEIPTS.prefix}status:{index}": ("x",) * 9 for index in range(receipt_keys)}, 259_200)


def simplecache_app() -> tuple[Flask, SmsExtension]:
    """The route on Flask-Caching's SimpleCache with the threshold memory:// used to have (100,000 keys)."""
    from flask_caching import Cache

    app = Flask("bench_simplecache")
    app.config.update(
        SECRET_KEY="bench-secret-key",
        SMS_PROVIDERS=["console"],
        SMS_SUPPRESS_SEND=False,
        **{
            key: HIGH_LIMIT
            for key in ("SMS_IP_LIMITS", "SMS_PHONE_LIMITS", "SMS_GLOBAL_LIMITS", "SMS_VERIFY_IP_LIMITS")
        },
    )
    cache = Cache(app, config={"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 100_000})
    return app, SmsExtension(app, cache=cache)


def bench_memory_full(rows: list[Row], pairs: int) -> None:
    """A send through the route on a ``memory://`` nearly full vs an empty one (the old store sorted
    itself on every write once full: 158 ms a send)."""
    empty, empty_sms = route_app()
    full, full_sms = route_app()
    fill_memory(full)
    clients = empty.test_client(), full.test_client()
    for client, sms in ((clients[0], empty_sms), (clients[1], full_sms)):
        send_codes(client, sms, 40)  # warm-up
    progress("memory://: a send with the store nearly full vs empty")
    timing = alternate(
        poster(clients[1], "/sms_captcha/", [{"phone": fresh_phone()} for _ in range(pairs)]),
        poster(clients[0], "/sms_captcha/", [{"phone": fresh_phone()} for _ in range(pairs)]),
        pairs,
    )
    measure = (
        f"memory://: `POST /sms_captcha/` with the store nearly full ({FULL_SECURITY_KEYS:,} live security keys, "
        f"receipts at their {FULL_RECEIPT_KEYS:,}) vs empty, per request"
    )
    rows.append(ratio_row(measure, timing, 1.25))

    # Informational, a few sends only (each takes a sort of the whole store): the old memory://.
    progress("memory://: the same send on SimpleCache at its 100,000-key threshold (the old memory://)")
    old, _ = simplecache_app()
    fill_memory(old, security_keys=50_000, receipt_keys=50_000)
    old_client = old.test_client()
    timing = alternate(
        poster(old_client, "/sms_captcha/", [{"phone": fresh_phone()} for _ in range(10)]),
        poster(clients[0], "/sms_captcha/", [{"phone": fresh_phone()} for _ in range(10)]),
        10,
    )
    rows.append(
        Row(
            "info: memory://: the same send on Flask-Caching's SimpleCache at its 100,000-key threshold "
            "(the old memory://) vs empty, median of 10",
            fmt_time(timing.ours, "ms"),
            fmt_time(timing.base, "ms"),
            timing.ratio,
        )
    )


def bench_metrics(rows: list[Row], pairs: int) -> None:
    """The send route with the Prometheus metrics on (SMS_METRICS = True) vs off, side by side."""
    if importlib.util.find_spec("prometheus_client") is None:
        rows.append(Row("metrics: skipped (prometheus_client is not installed)", "—"))
        return
    on_app, on_sms = route_app(SMS_METRICS=True)
    off_app, off_sms = route_app(SMS_METRICS=False)
    on, off = on_app.test_client(), off_app.test_client()

    def phones(n: int) -> list[dict[str, str]]:
        return [{"phone": fresh_phone()} for _ in range(n)]

    for client, sms in ((on, on_sms), (off, off_sms)):
        send_codes(client, sms, 40)  # warm-up
    progress("metrics: send route, on vs off")
    timing = alternate(poster(on, "/sms_captcha/", phones(pairs)), poster(off, "/sms_captcha/", phones(pairs)), pairs)
    rows.append(ratio_row("metrics: `POST /sms_captcha/` with Prometheus metrics on vs off, per request", timing, 1.05))


# --------------------------------------------------------------------------------- 6. receipts

RECEIPT_TOKEN = "bench-receipt-token-0123456789"
RECEIPT_BATCH = 100
_serials = itertools.count(1)


def tencent_batches(n: int) -> list[list[dict[str, str]]]:
    """``n`` Tencent status callbacks of 100 reports each, every report new (fresh serial numbers)."""
    batches = []
    for _ in range(n):
        batch = []
        for _ in range(RECEIPT_BATCH):
            serial = next(_serials)
            batch.append(
                {
                    "user_receive_time": "2026-11-22 10:00:00",
                    "nationcode": "86",
                    "mobile": f"139{serial % 100_000_000:08d}",
                    "report_status": "SUCCESS",
                    "errmsg": "DELIVRD",
                    "description": "用户短信送达成功",
                    "sid": f"2433:{serial:020d}",
                }
            )
        batches.append(batch)
    return batches


def bench_receipts(rows: list[Row], pairs: int, workdir: Path) -> None:
    _bench_receipts(rows, pairs, "memory://")
    binary = shutil.which("redis-server")
    if binary is not None:
        from helpers import RedisServer

        server = RedisServer(binary, workdir / "receipts-redis").start()
        try:
            _bench_receipts(rows, pairs // 2, server.url)
        finally:
            server.stop()


def _bench_receipts(rows: list[Row], pairs: int, storage_url: str) -> None:
    app = Flask("bench_receipts")
    app.config.update(
        SECRET_KEY="bench-secret-key",
        SMS_PROVIDERS=["tencent"],
        SMS_RECEIPT_TOKEN=RECEIPT_TOKEN,
        SMS_STORAGE_URL=storage_url,
    )
    app.config.update(vendor_config("http://127.0.0.1:9", "127.0.0.1:9"))  # never called: receipts only
    quiet_flask_sms_logger()
    SmsExtension(app).check(app)

    @app.post("/bare/receipts")
    def bare_receipts() -> Any:
        """Parse the same JSON and read every field of every item, nothing else."""
        for item in request.get_json():
            for name in ("user_receive_time", "nationcode", "mobile", "report_status", "errmsg", "sid"):
                item.get(name)
        return jsonify(result=0, errmsg="OK")

    client = app.test_client()
    ours_url = f"/sms_receipts/tencent?token={RECEIPT_TOKEN}"
    for call in (poster(client, ours_url, tencent_batches(20)), poster(client, "/bare/receipts", tencent_batches(20))):
        for _ in range(20):
            call()
    progress(f"receipts: a Tencent push of 100 reports ({storage_url.split(':')[0]})")
    timing = alternate(
        poster(client, ours_url, tencent_batches(pairs)),
        poster(client, "/bare/receipts", tencent_batches(pairs)),
        pairs,
    )
    measure = (
        "receipts: a Tencent push of 100 reports through `POST /sms_receipts/tencent` vs bare route "
        "(memory://; every report new: parsed, claimed, stored, signalled, marked seen)"
    )
    if storage_url.startswith("memory://"):
        rows.append(ratio_row(measure, timing, 3.0))
    else:  # informational: the same push on a local Redis (4 round trips: admit, claim, status, done)
        rows.append(
            Row(
                "info: receipts: the same push on a local Redis (four pipelines: admit, claim, status, done) "
                "vs bare route",
                fmt_time(timing.ours, "µs"),
                fmt_time(timing.base, "µs"),
                timing.ratio,
            )
        )


# --------------------------------------------------------------------------------- 2. redis


_MONITOR_LINE = re.compile(r"^\+?(\d+\.\d+) \[(\d+) ([^\]]+)\] (.*)$")
_MONITOR_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')


def command_label(args: list[str]) -> str:
    """``EVALSHA`` plus what its first key is for, e.g. ``EVALSHA(limit ip)``, ``EVALSHA(store cooldown)``."""
    command = args[0].upper() if args else "?"
    if command in ("EVALSHA", "EVAL") and len(args) > 3 and args[2] != "0":
        key = args[3]
        if key.startswith("LIMITS:"):  # limits' fixed-window counter: LIMITS:LIMITER/flask_sms/<scope>/...
            parts = key.split("/")
            return f"{command}(limit {parts[2] if len(parts) > 2 else key})"
        return f"{command}(store {key.rsplit(':', 1)[-1]})"  # flask_sms:sms:{purpose:phone}:<what>
    return command


class RedisProbe:
    """Counts what a block of code asks of Redis.

    * round trips: top-level commands seen by a ``MONITOR`` connection (lines whose source
      is ``lua`` ran inside a script, the rest came over a client connection);
    * ``INFO commandstats`` deltas, which also count commands run inside scripts.

    The probe's own commands (INFO, ECHO markers) come from one connection whose address
    is known, and are left out.
    """

    def __init__(self, port: int) -> None:
        import redis

        self.monitor = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.monitor.sendall(b"MONITOR\r\n")
        self.buffer = b""
        first = self._read_line()
        if first != "+OK":
            raise RuntimeError(f"MONITOR answered {first!r}")
        self.control = redis.Redis(host="127.0.0.1", port=port)
        self.control_addr = self.control.client_info()["addr"]

    def close(self) -> None:
        self.monitor.close()
        self.control.close()

    def _read_line(self) -> str:
        while b"\r\n" not in self.buffer:
            chunk = self.monitor.recv(65536)
            if not chunk:
                raise RuntimeError("MONITOR connection closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def _lines_until(self, marker: str) -> list[str]:
        lines = []
        while True:
            line = self._read_line()
            if marker in line:
                return lines
            lines.append(line)

    def _mark(self) -> str:
        marker = f"bench-marker-{uuid.uuid4().hex}"
        self.control.echo(marker)
        return marker

    def _stats(self) -> dict[str, int]:
        info = self.control.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in info.items()}

    def measure(self, block: Callable[[], Any]) -> Measured:
        self._lines_until(self._mark())  # drain everything before the block
        before = self._stats()
        block()
        after = self._stats()
        lines = self._lines_until(self._mark())
        delta = Counter({name: calls - before.get(name, 0) for name, calls in after.items()})
        delta["info"] -= 1  # the probe's own "before" INFO
        delta = Counter({name: calls for name, calls in delta.items() if calls > 0})
        top: list[str] = []
        scripted: list[str] = []
        for line in lines:
            match = _MONITOR_LINE.match(line)
            if match is None:
                continue
            source, args = match.group(3), _MONITOR_ARG.findall(match.group(4))
            if source == self.control_addr:
                continue
            if source == "lua":
                scripted.append(args[0].upper() if args else "?")
            else:
                top.append(command_label(args))
        return Measured(top, scripted, delta)


@dataclass
class Measured:
    round_trips: list[str]  # top-level commands, in order
    in_scripts: list[str]  # commands run inside Lua scripts
    stats: Counter  # INFO commandstats delta (top-level + scripted)

    @staticmethod
    def summary(commands: list[str] | Counter) -> str:
        """In order for a list (round trips), sorted with counts for a Counter."""
        if isinstance(commands, list):
            return ", ".join(commands)
        return ", ".join(f"{name}×{count}" if count > 1 else name for name, count in sorted(commands.items()))


def redis_rows(label: str, measured: Measured, limit: int) -> list[Row]:
    """The round trips (held to ``limit``), then every command counted, incl. inside scripts (informational)."""
    round_trips = count_row(
        f"{label} — round trips", len(measured.round_trips), limit, Measured.summary(measured.round_trips)
    )
    total = sum(measured.stats.values())
    detail = Measured.summary(measured.stats)
    if total != len(measured.round_trips) + len(measured.in_scripts):
        detail += f"; MONITOR saw {len(measured.round_trips) + len(measured.in_scripts)}"
    commands = count_row(f"info: {label} — all commands, incl. inside scripts (INFO commandstats)", total, None, detail)
    return [round_trips, commands]


def idempotency_row(probe: RedisProbe, app: Flask, sms: SmsExtension) -> Row:
    """``send_sms(..., idempotent=True)`` against the same send without it: the round trips it adds."""

    def send_sms_once(**kwargs: Any) -> None:
        with app.app_context():
            sms.send(fresh_phone(), "notice", {"n": "1"}, **kwargs)

    send_sms_once(out_id="warm-up", idempotent=True)  # loads the claim script
    time.sleep(1.1)  # both sends below refresh the breakers' view: the same worst case on each side
    plain = probe.measure(lambda: send_sms_once(out_id=uuid.uuid4().hex))
    time.sleep(1.1)
    idempotent = probe.measure(lambda: send_sms_once(out_id=uuid.uuid4().hex, idempotent=True))
    extra = len(idempotent.round_trips) - len(plain.round_trips)
    detail = f"{Measured.summary(idempotent.round_trips)} vs {Measured.summary(plain.round_trips)}"
    return count_row("redis: an idempotent `send_sms` — round trips over a plain one", extra, 1, detail)


def bench_redis(rows: list[Row], workdir: Path) -> None:
    progress("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        rows.append(Row("redis: skipped (redis-server is not installed)", "—"))
        return
    from helpers import RedisServer  # tests/helpers.py: a throwaway redis-server on loopback

    server = RedisServer(binary, workdir / "redis").start()
    probe = RedisProbe(server.port)
    try:
        without = _redis_trips(server.url, probe, guard=None)
        with_guard = _redis_trips(server.url, probe, guard="standard")
        for label, measured, limit in (
            ("redis: one send through the route", with_guard[0], 5),
            ("redis: one verify through the route", with_guard[1], 3),
            ("redis: `sms.verify_code()` alone", with_guard[2], 2),
        ):
            rows += redis_rows(label + " (the default config, the guard on)", measured, limit)
        rows.append(without[3])
        for label, on, off in (("send", with_guard[0], without[0]), ("verify", with_guard[1], without[1])):
            extra = len(on.round_trips) - len(off.round_trips)
            detail = f"{len(on.round_trips)} with the guard vs {len(off.round_trips)} without"
            rows.append(
                count_row(f"guard: round trips the fraud guard adds to a {label} through the route", extra, 1, detail)
            )
    finally:
        probe.close()
        server.stop()


def _redis_trips(url: str, probe: Any, guard: str | None) -> tuple[Any, Any, Any, Row]:
    """What one send, one verify through the route and one ``sms.verify_code()`` cost on Redis."""
    # The shipped default limits here (one IP limit, two phone limits, one global, one
    # verify-IP limit): only whether a limit is set changes the command count.
    app, sms = route_app(storage_url=url, high_limits=False, provider="bench_instant", SMS_FRAUD_GUARD=guard)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "58.20.1.9"  # a public network: the guard counts it too

    def send_one() -> dict[str, str]:
        with sms.record_messages() as outbox:
            response = client.post("/sms_captcha/", json={"phone": fresh_phone()})
        if response.status_code != 200:
            raise RuntimeError(f"redis send failed: {response.status_code} {response.json}")
        # the nonce goes back with the verify, as sms.js sends it
        return {"phone": outbox[0].phones[0], "code": outbox[0].params["code"], "nonce": response.json["nonce"]}

    def verify_route(payload: dict[str, str]) -> None:
        response = client.post("/sms_captcha/verify", json=payload)
        if response.status_code != 200:
            raise RuntimeError(f"redis verify failed: {response.status_code} {response.json}")

    def verify_direct(payload: dict[str, str]) -> None:
        with app.app_context():
            result = sms.verify_code(payload["phone"], payload["code"], nonce=payload["nonce"])
        if not result:
            raise RuntimeError(f"sms.verify_code failed: {result.reason}")

    # Warm-up: open the connection pools, load the Lua scripts (the first EVALSHA of a
    # script answers NOSCRIPT and redis-py then sends SCRIPT LOAD). Counted below is the
    # steady state.
    verify_route(send_one())
    verify_direct(send_one())

    payloads: list[dict[str, str]] = []
    # the worst case: the circuit breakers' view is a second old, so this send refreshes it (HGETALL)
    time.sleep(1.1)
    sent = probe.measure(lambda: payloads.append(send_one()))
    verified = probe.measure(lambda: verify_route(payloads[0]))
    other = send_one()
    direct = probe.measure(lambda: verify_direct(other))
    return sent, verified, direct, idempotency_row(probe, app, sms)


# --------------------------------------------------------------------------------- breaker


def bench_breaker(rows: list[Row], fake: RemoteFake, pairs: int) -> None:
    """The first provider hangs, ``SMS_TIMEOUT=1``: a send once its breaker is open, against a
    send through one healthy provider, alternated in one run (README: "Failover")."""
    progress("breaker")
    fake.set_mode("aliyun", "hang", 30)
    try:
        failing = vendor_app(fake, "aliyun", SMS_PROVIDERS=["aliyun", "tencent"], SMS_TIMEOUT=1)
        healthy = vendor_app(fake, "tencent", SMS_TIMEOUT=1)
        policy = failing.config["SMS_CIRCUIT_BREAKER"]

        def send_through(app: Flask) -> Callable[[], Any]:
            def call() -> None:
                with app.app_context():
                    result = send_sms(fresh_phone(), "captcha", PARAMS)
                if not (result.ok or result.unknown):
                    raise RuntimeError(f"breaker bench: nothing sent: {result.attempts}")

            return call

        hanging = []
        for _ in range(policy["failures"]):  # each waits SMS_TIMEOUT for the hanging vendor, then opens it
            started = time.perf_counter()
            send_through(failing)()
            hanging.append(time.perf_counter() - started)
        timing = alternate(send_through(failing), send_through(healthy), pairs)
        rows.append(
            limit_row(
                "breaker: a send while the first provider hangs, before its breaker opens (SMS_TIMEOUT=1) "
                f"vs one healthy provider — info, median of {len(hanging)}",
                statistics.median(hanging),
                timing.base,
                float("inf"),
                "ms",
            )
        )
        rows[-1].target, rows[-1].met = "—", None
        rows.append(
            ratio_row(
                "breaker: a send once the hanging first provider's breaker is open vs one healthy provider",
                timing,
                2.0,
                "ms",
            )
        )
    finally:
        fake.set_mode("aliyun", "ok")


# --------------------------------------------------------------------------------- 3. SDKs


def bare_sdk_sender(fake: RemoteFake, vendor: str, timeout: float) -> Callable[[list[str]], Any]:
    """A bare official-SDK send of the captcha template to numbers already written as the
    vendor wants them, with a client built once. Raises unless the vendor accepted them all."""
    build = _BARE_SENDERS.get(vendor)
    if build is None:
        raise ValueError(vendor)
    return build(fake, timeout)


def _bare_values() -> tuple[str, str]:
    """The captcha template's values as every bare send writes them (strings, like ours)."""
    return str(PARAMS["code"]), str(PARAMS["minutes"])


def _bare_aliyun(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Aliyun's core SDK: a ``CommonRequest`` per send through one ``AcsClient``, no retries."""
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    code, minutes = _bare_values()

    acs = AcsClient(
        ALIYUN.key_id,
        ALIYUN.secret,
        "cn-hangzhou",
        auto_retry=False,
        max_retry_time=0,
        timeout=timeout,
        connect_timeout=timeout,
    )
    template_param = json.dumps({"code": code, "minutes": minutes}, separators=(",", ":"))

    def aliyun(phones: list[str]) -> Any:
        req = CommonRequest()
        req.set_domain(fake.host)
        req.set_protocol_type("http")
        req.set_version("2017-05-25")
        req.set_action_name("SendSms")
        req.set_method("POST")
        req.set_accept_format("json")
        req.add_query_param("PhoneNumbers", ",".join(phones))
        req.add_query_param("SignName", "阿里云短信测试")
        req.add_query_param("TemplateCode", "SMS_153055065")
        req.add_query_param("TemplateParam", template_param)
        body = json.loads(acs.do_action_with_exception(req))
        if body.get("Code") != "OK":
            raise RuntimeError(f"bare aliyun: {body}")
        return body

    return aliyun


def _bare_aliyun_v2(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Aliyun's V2.0 SDK: a ``SendSmsRequest`` per send through one ``Client`` (ACS3-HMAC-SHA256, no retries)."""
    from alibabacloud_dysmsapi20170525 import models
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi.utils_models import Config
    from darabonba.runtime import RuntimeOptions

    code, minutes = _bare_values()
    milliseconds = int(timeout * 1000)
    client = Client(
        Config(
            access_key_id=ALIYUN.key_id,
            access_key_secret=ALIYUN.secret,
            region_id="cn-hangzhou",
            endpoint=fake.host,
            protocol="http",
            read_timeout=milliseconds,
            connect_timeout=milliseconds,
        )
    )
    template_param = json.dumps({"code": code, "minutes": minutes}, separators=(",", ":"))

    def aliyun_v2(phones: list[str]) -> Any:
        request = models.SendSmsRequest(
            phone_numbers=",".join(phones),
            sign_name="阿里云短信测试",
            template_code="SMS_153055065",
            template_param=template_param,
        )
        body = client.send_sms_with_options(request, RuntimeOptions()).body
        if body.code != "OK":
            raise RuntimeError(f"bare aliyun v2: {body.to_map()}")
        return body

    return aliyun_v2


def _bare_tencent(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Tencent's SMS SDK: one ``SmsClient`` with keep-alive, a ``SendSmsRequest`` per send."""
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111.models import SendSmsRequest
    from tencentcloud.sms.v20210111.sms_client import SmsClient

    code, minutes = _bare_values()

    profile = HttpProfile(protocol="http", endpoint=fake.host, reqTimeout=timeout, keepAlive=True)
    sms_client = SmsClient(
        Credential(TENCENT.secret_id, TENCENT.secret_key),
        "ap-guangzhou",
        ClientProfile(httpProfile=profile),
    )

    def tencent(phones: list[str]) -> Any:
        req = SendSmsRequest()
        req.PhoneNumberSet = list(phones)
        req.SmsSdkAppId = TENCENT.app_id
        req.SignName = "腾讯云测试"
        req.TemplateId = "5750123"
        req.TemplateParamSet = [code, minutes]
        reply = sms_client.SendSms(req)
        if any(status.Code != "Ok" for status in reply.SendStatusSet):
            raise RuntimeError(f"bare tencent: {reply}")
        return reply

    return tencent


def _bare_ronglian(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Ronglian's SDK, its stdout print silenced (it posts with a new connection per call)."""
    from ronglian_sms_sdk import SmsSDK

    code, minutes = _bare_values()

    sdk = SmsSDK(RONGLIAN.sid, RONGLIAN.token, RONGLIAN.app_id)
    sdk.url = fake.url

    def ronglian(phones: list[str]) -> Any:
        # The SDK prints the request (and its AUTH TOKEN) on every call; only this bare
        # side silences that. It calls requests.post: a new connection per call.
        with contextlib.redirect_stdout(io.StringIO()):
            raw = sdk.sendMessage("1", ",".join(phones), [code, minutes])
        body = json.loads(raw)
        if body.get("statusCode") != "000000":
            raise RuntimeError(f"bare ronglian: {body}")
        return body

    return ronglian


def _bare_ihuyi(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Ihuyi's documented form API by hand: an MD5-signed form per number, one pooled session."""
    import requests

    code, minutes = _bare_values()

    session = requests.Session()
    url = f"{fake.url}/webservice/sms.php?method=Submit"
    content = TEMPLATES["ihuyi"]["captcha"].format(code=code, minutes=minutes)

    def ihuyi(phones: list[str]) -> Any:
        (mobile,) = phones
        now = str(int(time.time()))
        digest = hashlib.md5(f"{IHUYI.account}{IHUYI.api_key}{mobile}{content}{now}".encode())
        form = {
            "account": IHUYI.account,
            "password": digest.hexdigest(),
            "mobile": mobile,
            "content": content,
            "time": now,
            "format": "json",
        }
        body = json.loads(session.post(url, data=form, timeout=timeout).content)
        if str(body.get("code")) != "2":
            raise RuntimeError(f"bare ihuyi: {body}")
        return body

    return ihuyi


def _bare_huawei(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Huawei's SMS API SDK: one client, a ``BatchSendSmsRequest`` per send, no retries."""
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdksmsapi.v1 import BatchSendSmsRequest, BatchSendSmsRequestBody, SMSApiClient
    from huaweicloudsdksmsapi.v1.smsapi_credentials import SMSApiCredentials

    code, minutes = _bare_values()

    client = (
        SMSApiClient.new_builder()
        .with_credentials(SMSApiCredentials(HUAWEI.app_key, HUAWEI.app_secret))
        .with_endpoints([fake.url])
        .with_http_config(HttpConfig(timeout=(timeout, timeout), retry_times=0))
        .build()
    )
    huawei_template = TEMPLATES["huawei"]["captcha"]["id"]

    def huawei(phones: list[str]) -> Any:
        body = BatchSendSmsRequestBody(
            _from=HUAWEI.sender,
            to=",".join(phones),
            template_id=huawei_template,
            template_paras=json.dumps([code, minutes]),
        )
        reply = client.batch_send_sms(BatchSendSmsRequest(body=body))
        if reply.code != "000000" or any(status.status != "000000" for status in reply.result):
            raise RuntimeError(f"bare huawei: {reply}")
        return reply

    return huawei


def _bare_volcengine(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Volcengine's documented API by hand: a JSON body with HMAC-SHA256 headers, one pooled session."""
    import requests
    from fakes.volcengine import canonical_request, signature

    code, minutes = _bare_values()

    session = requests.Session()
    query = "Action=SendSms&Version=2020-01-01"
    volc_template = TEMPLATES["volcengine"]["captcha"]["id"]
    param = json.dumps({"code": code, "minutes": minutes}, separators=(",", ":"))

    def volcengine(phones: list[str]) -> Any:
        # the documented API by hand: JSON body, HMAC-SHA256 headers, one pooled session
        fields = {
            "SmsAccount": VOLCENGINE.sms_account,
            "Sign": "火山引擎测试",
            "TemplateID": volc_template,
            "TemplateParam": param,
            "PhoneNumbers": ",".join(phones),
        }
        body = json.dumps(fields, ensure_ascii=False).encode()
        x_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers = {
            "content-type": "application/json",
            "host": fake.host,
            "x-content-sha256": hashlib.sha256(body).hexdigest(),
            "x-date": x_date,
        }
        canonical = canonical_request("POST", "/", query, headers, body, list(headers))
        sig = signature(VOLCENGINE.secret_access_key, x_date, "cn-north-1", "volcSMS", canonical)
        headers["authorization"] = (
            f"HMAC-SHA256 Credential={VOLCENGINE.access_key_id}/{x_date[:8]}/cn-north-1/volcSMS/request, "
            f"SignedHeaders={';'.join(sorted(headers))}, Signature={sig}"
        )
        reply = json.loads(session.post(f"{fake.url}/?{query}", data=body, headers=headers, timeout=timeout).content)
        if "Result" not in reply:
            raise RuntimeError(f"bare volcengine: {reply}")
        return reply

    return volcengine


def _bare_baidu(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Baidu's BCE SDK: one ``SmsClient`` with no retries; every number's own code is checked."""
    import baidubce.protocol
    from baidubce.auth.bce_credentials import BceCredentials
    from baidubce.bce_client_configuration import BceClientConfiguration
    from baidubce.retry.retry_policy import NoRetryPolicy
    from baidubce.services.sms.sms_client import SmsClient

    code, minutes = _bare_values()

    baidu_client = SmsClient(
        BceClientConfiguration(
            credentials=BceCredentials(BAIDU.access_key_id, BAIDU.secret_access_key),
            endpoint=fake.host,
            protocol=baidubce.protocol.HTTP,
            connection_timeout_in_mills=int(timeout * 1000),
            retry_policy=NoRetryPolicy(),
        )
    )
    baidu_template = TEMPLATES["baidu"]["captcha"]["id"]

    def baidu(phones: list[str]) -> Any:
        # send_message raises on any code but "1000"; check every number's own code too
        reply = baidu_client.send_message(
            BAIDU.signature_id, baidu_template, ",".join(phones), {"code": code, "minutes": minutes}
        )
        if any(item.code != "1000" for item in reply.data):
            raise RuntimeError(f"bare baidu: {reply.__dict__}")
        return reply

    return baidu


def _bare_qiniu(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Qiniu's SDK: ``Sms.sendMessage`` against the fake's server."""
    from qiniu import QiniuMacAuth, Sms

    code, minutes = _bare_values()

    qiniu_sms = Sms(QiniuMacAuth(QINIU.access_key, QINIU.secret_key))
    qiniu_sms.server = fake.url
    qiniu_template = TEMPLATES["qiniu"]["captcha"]["id"]

    def qiniu(phones: list[str]) -> Any:
        ret, info = qiniu_sms.sendMessage(qiniu_template, phones, {"code": code, "minutes": minutes})
        if not ret or "job_id" not in ret:
            raise RuntimeError(f"bare qiniu: {info}")
        return ret

    return qiniu


def _bare_yunpian(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Yunpian's documented form API by hand, one pooled session."""
    import requests

    code, minutes = _bare_values()

    yunpian_session = requests.Session()
    text = TEMPLATES["yunpian"]["captcha"].format(code=code, minutes=minutes)

    def yunpian(phones: list[str]) -> Any:
        # the documented form API by hand: single_send for one number, batch_send for several
        endpoint = "single_send.json" if len(phones) == 1 else "batch_send.json"
        form = {"apikey": YUNPIAN.api_key, "mobile": ",".join(phones), "text": text}
        reply = json.loads(yunpian_session.post(f"{fake.url}/v2/sms/{endpoint}", data=form, timeout=timeout).content)
        if reply.get("code", 0) != 0 or any(item["code"] != 0 for item in reply.get("data", [])):
            raise RuntimeError(f"bare yunpian: {reply}")
        return reply

    return yunpian


def _bare_netease(fake: RemoteFake, timeout: float) -> Callable[[list[str]], Any]:
    """Netease's documented form API by hand, signed with the fake's own CheckSum helper."""
    import secrets

    import requests
    from fakes.netease import checksum

    code, minutes = _bare_values()

    netease_session = requests.Session()
    netease_template = TEMPLATES["netease"]["captcha"]["id"]
    values = json.dumps([code, minutes])

    def netease(phones: list[str]) -> Any:
        # the documented form API by hand, with the fake's own CheckSum helper
        nonce, now = secrets.token_hex(16), str(int(time.time()))
        headers = {
            "AppKey": NETEASE.app_key,
            "Nonce": nonce,
            "CurTime": now,
            "CheckSum": checksum(NETEASE.app_secret, nonce, now),
        }
        form = {"templateid": netease_template, "mobiles": json.dumps(phones), "params": values}
        reply = json.loads(
            netease_session.post(
                f"{fake.url}/sms/sendtemplate.action", data=form, headers=headers, timeout=timeout
            ).content
        )
        if reply.get("code") != 200:
            raise RuntimeError(f"bare netease: {reply}")
        return reply

    return netease


#: vendor -> the builder of its bare send (each one the vendor's documented way, set up once)
_BARE_SENDERS: dict[str, Callable[[RemoteFake, float], Callable[[list[str]], Any]]] = {
    "aliyun": _bare_aliyun,
    "aliyun-v2": _bare_aliyun_v2,
    "tencent": _bare_tencent,
    "ronglian": _bare_ronglian,
    "ihuyi": _bare_ihuyi,
    "huawei": _bare_huawei,
    "volcengine": _bare_volcengine,
    "baidu": _bare_baidu,
    "qiniu": _bare_qiniu,
    "yunpian": _bare_yunpian,
    "netease": _bare_netease,
}


def bench_sdks(rows: list[Row], fake: RemoteFake, pairs: int, segments: int = 5) -> None:
    """Each vendor's pairs are spread over ``segments`` rounds that visit every vendor in
    turn, so a slow phase of the machine falls on all four vendors, not on one."""
    cases = []
    for label, vendor, config in SDK_CASES:
        app = vendor_app(fake, vendor, **config)
        bare_send = bare_sdk_sender(fake, label, float(app.config["SMS_TIMEOUT"]))
        wire = ["+86" + PHONE] if vendor in ("tencent", "huawei", "volcengine") else [PHONE]

        def ours(vendor: str = vendor) -> None:
            result = send_sms(PHONE, "captcha", PARAMS)
            if not result.ok:
                raise RuntimeError(f"{vendor}: send_sms failed: {result.attempts}")

        def bare(send: Callable[[list[str]], Any] = bare_send, wire: list[str] = wire) -> None:
            send(wire)

        cases.append((label, app, ours, bare, Samples()))

    fake.reset()
    warm = 10
    for _, app, ours, bare, _ in cases:
        with app.app_context():
            for _ in range(warm):  # warm-up: connections, imports
                ours(), bare()
    per_segment = max(1, pairs // segments)
    for segment in range(segments):
        progress(f"sdk: round {segment + 1} of {segments}")
        gc.collect()
        for _, app, ours, bare, samples in cases:
            with app.app_context():  # pushed outside the timing: send_sms needs one, the bare SDK does not
                samples.add(ours, bare, per_segment)
    for vendor in VENDORS:  # Aliyun took the requests of both SDK generations
        runs = sum(1 for _, provider, _ in SDK_CASES if provider == vendor)
        check_fake(fake, vendor, 2 * runs * (warm + per_segment * segments))

    rows += sdk_rows([(vendor, samples.timing()) for vendor, _, _, _, samples in cases])
    fake.reset()


def sdk_rows(timings: list[tuple[str, Timing]]) -> list[Row]:
    """A held ratio row per vendor, then every vendor's CPU row together (informational)."""
    ratio_rows, cpu_rows = [], []
    for vendor, timing in timings:
        note = " (bare SDK: new connection per call)" if vendor == "ronglian" else ""
        bare = {
            "volcengine": "bare signed HTTP call",
            "yunpian": "bare HTTP call",
            "netease": "bare signed HTTP call",
        }.get(vendor, "bare SDK")
        ratio_rows.append(ratio_row(f"sdk: {vendor} `send_sms` vs {bare}, per message{note}", timing, 1.10))
        cpu_rows.append(
            Row(
                f"info: sdk: {vendor}, this process's CPU per message (thread time)",
                fmt_time(timing.ours_cpu, "µs"),
                fmt_time(timing.base_cpu, "µs"),
                timing.cpu_ratio,
            )
        )
    return ratio_rows + cpu_rows


# --------------------------------------------------------------------------------- 4. bulk


def bulk_numbers(count: int) -> list[str]:
    """``count`` distinct valid mainland mobile numbers: "+86139" + 8 digits."""
    return [f"+86139{i:08d}" for i in range(count)]


def bench_bulk(rows: list[Row], fake: RemoteFake, runs: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    numbers = bulk_numbers(BULK_NUMBERS)
    for vendor, max_requests, per_request in (("aliyun", 10, 1000), ("tencent", 50, 200)):
        progress(f"bulk: {vendor}")
        fake.reset()
        app = vendor_app(fake, vendor)
        concurrency = int(app.config["SMS_MAX_CONCURRENCY"])
        # Bare SDK, same requests, same number of threads: what this fake allows at best.
        bare_send = bare_sdk_sender(fake, vendor, float(app.config["SMS_TIMEOUT"]))
        wire = numbers if vendor == "tencent" else [n[3:] for n in numbers]
        chunks = [wire[i : i + per_request] for i in range(0, len(wire), per_request)]
        bare_pool = ThreadPoolExecutor(concurrency)

        def ours_run(app: Flask = app, vendor: str = vendor) -> tuple[float, int]:
            with app.app_context():
                start = time.perf_counter()
                result = send_sms(numbers, "captcha", PARAMS)
                elapsed = time.perf_counter() - start
            if not result.ok or len(result.delivered) != BULK_NUMBERS:
                raise RuntimeError(f"bulk {vendor}: {len(result.delivered)} delivered, {len(result.failed)} failed")
            return elapsed, len(result.attempts)

        def bare_run(
            send: Callable[[list[str]], Any] = bare_send,
            pool: ThreadPoolExecutor = bare_pool,
            chunks: list[list[str]] = chunks,
        ) -> float:
            start = time.perf_counter()
            list(pool.map(send, chunks))
            return time.perf_counter() - start

        def measured(run: Callable[[], Any], vendor: str = vendor) -> tuple[Any, int, float]:
            fake.reset()
            before = fake.stats()["cpu"]
            fake.delay = BULK_DELAY
            gc.collect()
            value = run()
            fake.delay = 0.0
            stats = fake.stats()
            return value, stats["accepted"][vendor] + stats["rejected"], stats["cpu"] - before

        with app.app_context():
            send_sms(numbers[: per_request * 2], "captcha", PARAMS)  # warm-up: pool, connections
        bare_run(pool=bare_pool)
        ours_walls, bare_walls, fake_cpu = [], [], []
        requests_made = 0
        try:
            for index in range(runs):
                for side in ("ours", "bare") if index % 2 == 0 else ("bare", "ours"):
                    if side == "ours":
                        (wall, _), requests_made, cpu = measured(ours_run)
                        ours_walls.append(wall)
                        fake_cpu.append(cpu)
                    else:
                        wall, _, _ = measured(bare_run)
                        bare_walls.append(wall)
        finally:
            bare_pool.shutdown()
        wall, bare_wall = statistics.median(ours_walls), statistics.median(bare_walls)
        floor = math.ceil(requests_made / concurrency) * BULK_DELAY
        label = f"bulk: {vendor}, {BULK_NUMBERS:,} numbers"
        rows.append(count_row(f"{label} — requests made", requests_made, max_requests))
        rows.append(
            limit_row(
                f"{label} — wall time vs floor ⌈{requests_made}/{concurrency}⌉ × 50 ms (median of {runs})",
                wall,
                floor,
                1.5,
                unit="ms",
            )
        )
        rows.append(
            Row(
                f"info: {label} — wall time vs the bare SDK sending the same {requests_made} requests "
                f"on {concurrency} threads",
                fmt_time(wall, "ms"),
                fmt_time(bare_wall, "ms"),
                wall / bare_wall,
            )
        )
        rows.append(
            Row(
                f"info: {label} — CPU the fake vendor itself spent (its own process, one GIL)",
                fmt_time(statistics.median(fake_cpu), "ms"),
            )
        )
    fake.reset()


# --------------------------------------------------------------------------------- main


# --------------------------------------------------------------------------------- 5. worker models


def bench_workers(rows: list[Row], fake: RemoteFake, workdir: Path, quick: bool) -> None:
    """Sends/s under gunicorn sync, gthread and gevent workers, vendor answering in 100 ms (bench/workers.py)."""
    from bench import workers

    progress("worker models (gunicorn + redis, vendor answers in 100 ms)")
    result = workers.measure(fake, workdir, vendor_config, seconds=2.0 if quick else 4.0, rounds=1 if quick else 3)
    for model, why in result.get("skipped", {}).items():
        rows.append(Row(f"workers: {model} skipped ({why})", "—"))
    sync = workers.median_rate(result, "sync")
    if sync is None:
        return
    errors = result["errors"]
    bound = workers.WORKERS / workers.VENDOR_DELAY
    rows.append(
        Row(
            f"info: workers: sync -w {workers.WORKERS}, sends/s through the route, vendor answers in 100 ms "
            f"({workers.CLIENTS} clients; latency bound {bound:.0f}/s)"
            + (f"; {errors['sync']} non-200 answers" if errors.get("sync") else ""),
            f"{sync:.0f}/s",
        )
    )
    for model, label in (("gthread", "gthread -w 4 --threads 16"), ("gevent", "gevent -w 4")):
        rate = workers.median_rate(result, model)
        if rate is None:
            continue
        ratio = rate / sync
        met = ratio >= WORKER_TARGET
        note = f"; {errors[model]} non-200 answers" if errors.get(model) else ""
        rows.append(
            Row(
                f"workers: {label} vs sync -w 4, sends/s (vendor answers in 100 ms){note}",
                f"{rate:.0f}/s",
                f"{sync:.0f}/s",
                ratio,
                f"≥ {WORKER_TARGET:.2f}x",
                met,
                ""
                if met
                else f"{1 - ratio / WORKER_TARGET:.0%} under the target ({ratio:.2f}x vs {WORKER_TARGET:.2f}x)",
            )
        )


#: a worker model that overlaps vendor waits should serve at least this many times the sends of sync workers
WORKER_TARGET = 4.0


def run_parts(chosen: set[str], rows: list[Row], fake: RemoteFake, tmp: Path, quick: bool) -> None:
    """The chosen parts, in the table's order."""
    route_pairs = 200 if quick else 1200
    sdk_pairs = 60 if quick else 500

    def channels() -> None:
        from bench.channels import bench_channels

        bench_channels(rows, fake, sdk_pairs)

    parts: dict[str, Callable[[], None]] = {
        "routes": lambda: bench_routes(rows, route_pairs),
        "metrics": lambda: bench_metrics(rows, route_pairs),
        "receipts": lambda: bench_receipts(rows, route_pairs // 4, tmp),
        "memory": lambda: bench_memory_full(rows, route_pairs // 2),
        "redis": lambda: bench_redis(rows, tmp),
        "breaker": lambda: bench_breaker(rows, fake, sdk_pairs),
        "sdks": lambda: bench_sdks(rows, fake, sdk_pairs),
        "channels": channels,
        "bulk": lambda: bench_bulk(rows, fake, 1 if quick else 5),
        "workers": lambda: bench_workers(rows, fake, tmp, quick),
    }
    for name, run in parts.items():
        if name in chosen:
            run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run, noisier ratios)")
    parts = ("routes", "metrics", "redis", "breaker", "sdks", "bulk", "workers", "receipts", "memory", "channels")
    parser.add_argument("--only", choices=parts, action="append", help="run only these parts (repeatable)")
    parser.add_argument(
        "--docs",
        type=Path,
        metavar="PATH",
        help="also write the report to PATH as the docs' include (docs/_generated/bench.md)",
    )
    args = parser.parse_args(argv)
    chosen = set(args.only or parts)

    started = time.perf_counter()
    rows: list[Row] = []
    fake = RemoteFake()  # tests/fake_vendor.FakeVendor, in a child process (see bench/fake_server.py)
    try:
        with tempfile.TemporaryDirectory(prefix="flask_sms_bench_") as tmp:
            run_parts(chosen, rows, fake, Path(tmp), args.quick)
    finally:
        fake.stop()

    lines = report_lines(rows, time.perf_counter() - started)
    print("\n".join(lines))
    if args.docs is not None:
        write_docs_include(args.docs, lines, sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
