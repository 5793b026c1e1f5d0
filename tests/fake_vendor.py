"""Loopback fake of China's SMS vendors in one HTTP server (stdlib only): the core.

Point the real vendor SDKs (or flask_sms) at ``FakeVendor.url`` / ``.host`` and the fake
answers in each vendor's real wire format after checking the request's signature, written
from each vendor's *published* scheme.

This module is the server, the control API (modes, per-number rejections, records, reset)
and the registry of vendor kits. Each vendor is one kit in ``tests/fakes/<vendor>.py``: a
:class:`VendorFake` subclass decorated with :func:`register_fake`, which says which requests
it claims, checks their auth and protocol, and writes the vendor's replies (and, for the
receipts plug-in ``tests/fake_receipts.py``, the vendor's push format). Every module in
``tests/fakes/`` is loaded when this one is. Kits are asked in their ``claim_order``: a
vendor's catch-all after its products' kits (Tencent any ``X-TC-Action`` request left, Ronglian
any ``/2013-12-26/Accounts/`` path left), Aliyun's last (any request left at all).

Every request lands in exactly one of two lists:

* ``accepted``: the request passed the auth/signature and protocol checks.
  It is recorded even when the reply is a business error from a mode, a
  limit or ``reject_number``. ``Received.reply`` says what was answered.
* ``rejected``: ``(vendor, reason)`` for a request refused before that
  point. ``reason`` starts with the vendor's error code, e.g.
  ``"SignatureDoesNotMatch: ..."`` or ``"111109: ..."``.

The error codes are the vendors' real ones; each kit notes its sources.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import socket
import socketserver
import threading
import traceback
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:  # annotations are lazy (PEP 563): no runtime dependency
    from typing_extensions import Self

__all__ = [
    "MODES",
    "VENDORS",
    "Answered",
    "FakeVendor",
    "Received",
    "Refusal",
    "Reply",
    "SendFacts",
    "VendorFake",
    "json_bytes",
    "kits",
    "parse_form",
    "register_fake",
    "unused_port",
]

#: every vendor kit registered from ``tests/fakes/`` (filled in at the end of this module)
VENDORS: tuple[str, ...] = ()
MODES: tuple[str, ...] = ("ok", "business_error", "http_500", "hang", "garbage")

_MAX_BODY = 8 * 1024 * 1024


@dataclass
class Received:
    """One accepted request: its signature and protocol checks passed."""

    vendor: str  # a kit's name: "aliyun", "tencent", "huawei", ...
    phones: list[str]  # numbers exactly as sent on the wire
    template: str  # the template id as sent ("" for a vendor that takes the whole text)
    params: object  # the template's values as the vendor takes them: a dict, a list, or the text
    sign_name: str  # the sign name when the request carries one, "" otherwise
    raw: dict  # all parsed fields / JSON body
    headers: dict[str, str] = field(default_factory=dict)  # request headers as received
    client_port: int = 0  # client's source port (same port = same kept-alive connection)

    @property
    def correlation(self) -> str:
        """The caller's correlation id as the vendor received it, in the field its kit names
        (Aliyun ``OutId``, Tencent ``SessionContext``, Huawei ``extend``...; ``""`` when absent)."""
        kit_class = _PLUGINS.get(self.vendor)
        name = kit_class.correlation_field if kit_class is not None else None
        return str(self.raw.get(name) or "") if name and isinstance(self.raw, dict) else ""

    # What the fake answered: "ok", "business_error:<code>", "http_500",
    # "garbage", "limit:<code>", "rejected_number:<code>", "partial:<codes>",
    # "stopped" (hang ended by stop()). The value is set once the reply is decided.
    reply: str = ""


@dataclass(frozen=True)
class SendFacts:
    """What the vendor matrix (tests/sending/test_vendor_matrix.py) expects of one SMS vendor, from its docs.

    A kit that sets ``send_facts`` joins every case of the matrix by being registered.
    """

    params_on_wire: Any  # what the fake records for {"code": "483920", "minutes": 5} in the captcha template
    max_numbers: int  # the most numbers one request takes
    auth_errors: tuple[str, ...]  # the codes a wrong secret earns (the SDK may rename one)
    rejected_code: str  # a code the vendor publishes as final for the number ("": none on the send API)
    secret_key: str  # the config key of the vendor's secret
    # the requests +1 650-253-0000 and +852 6123 4567 go out in; None: the vendor reaches no number abroad
    international: list[list[str]] | None
    mainland_e164: bool = False  # whether a mainland number goes out as +86... (else the bare 11 digits)
    http_500_code: str = "http_500"  # the attempt's code for an HTTP 500 (Tencent's SDK names its own)
    # the correlation field carries an id of each request's own (Ronglian's reqId: unique per day), not out_id
    request_id_of_its_own: bool = False
    # a timeout the vendor lets us retry safely (Baidu's clientToken): the matrix's hang case is not for it
    retries_timeouts: bool = False

    def wire(self, e164: str) -> str:
        """A mainland number as the vendor's requests write it."""
        return e164 if self.mainland_e164 else e164.removeprefix("+86")


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str
    label: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)  # more response headers (Qiniu's X-Reqid)


class Refusal(Exception):
    """Raised by a vendor parser: goes to ``rejected`` and answers ``reply``."""

    def __init__(self, reason: str, reply: Reply) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


class Answered(Exception):
    """Raised by a vendor parser for an action served by a plug-in (``FakeVendor.actions``), or for a
    request the vendor answers without taking it as a new send (an idempotent replay): the reply is
    sent as it is and the request is not recorded in ``accepted``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.label)
        self.reply = reply


def unused_port() -> int:
    """Return a loopback port that nothing listens on (for connection-refused tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def json_bytes(obj: Any) -> bytes:
    """A compact UTF-8 JSON body, as the vendors send theirs."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_form(text: str) -> dict[str, str]:
    """A query string or form body, blanks kept."""
    return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"))


# --------------------------------------------------------------------------- plugged-in vendors


class VendorFake:
    """One vendor's kit for :class:`FakeVendor`, written in its own module under ``tests/fakes/``.

    A subclass sets ``name`` and ``business_error`` (the vendor's code and
    message for mode "business_error"), optionally ``correlation_field`` (the
    request field that carries the caller's correlation id) and ``claim_order``,
    and fills in four methods. ``parse``
    checks auth and protocol (raise :class:`Refusal` to refuse) and returns
    ``(Received, pending, ctx)``: ``pending`` is a ``(code, message)`` business
    error to answer instead of success (e.g. too many numbers), ``ctx`` is
    passed on to ``error``/``ok``. ``fake`` gives access to modes, rejections
    (``fake._rejection_for``) and the lock.
    """

    name: ClassVar[str]
    business_error: ClassVar[tuple[str, str]]
    correlation_field: ClassVar[str | None] = None
    #: set by an SMS vendor's kit: the vendor matrix runs it through every case
    send_facts: ClassVar[SendFacts | None] = None
    #: kits are asked in this order: 0 a kit that claims its own requests, 1 a vendor's catch-all, 2 the rest
    claim_order: ClassVar[int] = 0

    def __init__(self, fake: FakeVendor) -> None:
        self.fake = fake

    def claims(self, method: str, path: str, headers: Message) -> bool:
        """Whether this request is for this vendor (kits are asked in ``claim_order``)."""
        raise NotImplementedError

    def claims_request(self, method: str, path: str, query: str, headers: Message, body: bytes) -> bool:
        """:meth:`claims`, for a fake that needs the query or the body to tell (an Aliyun RPC ``Action``)."""
        return self.claims(method, path, headers)

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        raise NotImplementedError

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        raise NotImplementedError

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget per-run state (nonces and the like); called by ``FakeVendor.reset``."""

    # -- delivery receipts, for tests/fake_receipts.py (a vendor that documents a push sets push_tries) -----
    #: how many times the vendor tries a push in all (0: it documents no push)
    push_tries: ClassVar[int] = 0

    @staticmethod
    def receipt_wire(e164: str) -> str:
        """A number as the vendor's requests write it (for a text recorded without a send)."""
        return e164

    def sent_texts(self, rec: Received, body: Any) -> list[tuple[str, str, str]]:
        """(E.164 number, message id, correlation id) of each text an accepted reply took."""
        return []

    def report_item(self, entry: Any) -> Any:
        """One report in the vendor's push format."""
        raise NotImplementedError

    def receipt_pushes(self, entries: list[Any]) -> list[tuple[bytes, str, dict[str, str]]]:
        """The requests (body, content type, headers) the vendor pushes for ``entries``."""
        raise NotImplementedError

    def receipt_queries(self, receipts: Any) -> dict[str, Callable[[dict[str, Any]], Reply]]:
        """The vendor's receipt query actions (``"<vendor>:<Action>"``), answered from ``receipts``' record."""
        return {}


_PLUGINS: dict[str, type[VendorFake]] = {}


def kits() -> dict[str, type[VendorFake]]:
    """Every registered vendor kit, by name."""
    return dict(_PLUGINS)


def register_fake(cls: type[VendorFake]) -> type[VendorFake]:
    """Class decorator for a :class:`VendorFake` in ``tests/fakes/``."""
    _PLUGINS[cls.name] = cls
    return cls


def _load_plugins() -> None:
    """Import every module in ``tests/fakes/`` (each registers its vendor)."""
    global VENDORS
    folder = Path(__file__).resolve().parent / "fakes"
    for module in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"fakes.{module.name}")
    VENDORS = tuple(_PLUGINS)


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close() must not wait for hanging handlers
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, fake: FakeVendor) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), which can stall when
        # the network is closed. Bind like a plain TCPServer instead.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Quiet: client resets etc. are normal in failure-injection tests.
        self.fake._note_error(f"connection error from {client_address!r}:\n{traceback.format_exc()}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeVendor/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK stalls every keep-alive reply by ~40 ms.
    disable_nagle_algorithm = True

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._untrack(self.connection)

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(Reply(400, b"bad request body", "text/plain; charset=utf-8", "bad_body"))
            return
        try:
            reply = fake._handle(self.command, self.path, self.headers, body, int(self.client_address[1]))
        except Exception:  # never let a bug in the fake kill the connection silently
            tb = traceback.format_exc()
            fake._note_error(tb)
            reply = Reply(
                500, ("fake_vendor internal error:\n" + tb).encode(), "text/plain; charset=utf-8", "internal_error"
            )
        if reply is None:  # stopped while hanging/delaying: drop the connection
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True


# --------------------------------------------------------------------------- fake


class FakeVendor:
    """Loopback fake of every registered vendor kit's API, in one server.

    Use ``with FakeVendor() as fake:`` or ``fake = FakeVendor().start()`` and
    ``fake.stop()``.
    """

    def __init__(self, credentials: dict[str, Any] | None = None) -> None:
        self.port: int = 0
        self.host: str = ""
        self.url: str = ""
        self.delay: float = 0.0
        self.accepted: list[Received] = []
        self.rejected: list[tuple[str, str]] = []
        self.errors: list[str] = []  # internal errors of the fake itself (should stay empty)
        self._lock = threading.Lock()
        self._modes: dict[str, tuple[str, dict[str, Any], int | None]] = {}
        self._rejections: dict[str, dict[str, tuple[str, str]]] = {}
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: bumped by reset(): a request still in flight from before (a hang outliving its test) records nothing
        self._generation = 0
        # Plug-ins (tests/fake_receipts.py): "<vendor>:<Action>" -> handler of a signature-checked request
        # (Aliyun: the parameters; Tencent: the JSON body), and hooks that see every accepted send and its reply.
        self.actions: dict[str, Callable[[dict[str, Any]], Reply]] = {}
        self.reply_hooks: list[Callable[[Received, Reply], None]] = []
        self.plugins: dict[str, VendorFake] = {name: cls(self) for name, cls in _PLUGINS.items()}
        for name, account in (credentials or {}).items():  # another account than a kit's own, by vendor
            self.plugins[name].credentials = account

    def plugin(self, vendor: str) -> Any:
        """The plugged-in fake for ``vendor`` (its ``credentials``, helpers)."""
        return self.plugins[vendor]

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping = threading.Event()
        server = _Server(self)
        self._server = server
        self.port = int(server.server_address[1])
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeVendor:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes up hanging / delayed handlers
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:  # end idle keep-alive connections too
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ controls

    def received(self, vendor: str) -> list[Received]:
        self._check_vendor(vendor)
        with self._lock:
            return [r for r in self.accepted if r.vendor == vendor]

    def set_mode(self, vendor: str, mode: str, **kw: Any) -> None:
        """Set how ``vendor`` answers signature-valid requests.

        Modes: "ok"; "business_error" (kw ``code``, ``message``); "http_500"
        (kw ``body``); "hang" (kw ``seconds``, default 30, then replies as "ok"
        would); "garbage" (kw ``body``: what the unreadable 200 says). The extra kw ``times=N`` applies the mode to the next N
        requests only, then the vendor goes back to "ok".
        """
        self._check_vendor(vendor)
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        times = kw.pop("times", None)
        if times is not None and int(times) < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            if mode == "ok":
                self._modes.pop(vendor, None)
            else:
                self._modes[vendor] = (mode, dict(kw), None if times is None else int(times))

    def reject_number(self, vendor: str, phone: str, code: str, message: str) -> None:
        """Make ``phone`` fail with ``code``/``message`` inside an accepted request.

        A vendor with a per-number status (Tencent's SendStatusSet, Huawei's, Baidu's...)
        answers it for that number; one without (Aliyun, Ronglian, Ihuyi...) fails the
        whole request with it. Each kit's ``ok`` decides.
        """
        self._check_vendor(vendor)
        with self._lock:
            self._rejections.setdefault(vendor, {})[phone] = (str(code), message)

    def reset(self) -> None:
        """Clear records, modes, rejections, delay (the server keeps running).

        A request that arrived before the reset and is still being answered (a hang that outlived the
        client's timeout) is left out of every record from now on, so it cannot turn up in the next test.
        """
        with self._lock:
            self._generation += 1
            self.accepted.clear()
            self.rejected.clear()
            self.errors.clear()
            self._modes.clear()
            self._rejections.clear()
        for plugin in self.plugins.values():
            plugin.reset()
        self.delay = 0.0

    @staticmethod
    def _check_vendor(vendor: str) -> None:
        if vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}; expected one of {VENDORS}")

    # ------------------------------------------------------------ internals

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _note_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stop() is called; False if interrupted by stop()."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)

    def _take_mode(self, vendor: str) -> tuple[str, dict[str, Any]]:
        with self._lock:
            entry = self._modes.get(vendor)
            if entry is None:
                return "ok", {}
            mode, kw, remaining = entry
            if remaining is not None:
                if remaining <= 1:
                    del self._modes[vendor]
                else:
                    self._modes[vendor] = (mode, kw, remaining - 1)
            return mode, kw

    def _rejection_for(self, vendor: str, phones: list[str]) -> dict[str, tuple[str, str]]:
        with self._lock:
            table = dict(self._rejections.get(vendor, {}))
        return {p: table[p] for p in phones if p in table}

    def _handle(self, method: str, target: str, headers: Message, body: bytes, client_port: int = 0) -> Reply | None:
        generation = self._generation
        if self.delay > 0 and not self._sleep(self.delay):
            return None
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
        claimed = self._kit_for(method, path, query, headers, body)
        vendor, parse = claimed.name, claimed.parse
        try:
            rec, pending, ctx = parse(method, path, query, headers, body)
        except Refusal as refusal:
            with self._lock:
                self.rejected.append((vendor, refusal.reason))
            return refusal.reply
        except Answered as answered:
            return answered.reply
        rec.headers = {k: v for k, v in headers.items()}
        rec.client_port = client_port
        rec.raw["_client_port"] = client_port
        with self._lock:
            if generation == self._generation:
                self.accepted.append(rec)
        reply = self._respond(vendor, rec, pending, ctx)
        rec.reply = "stopped" if reply is None else reply.label
        current = generation == self._generation  # read once: a reset may come while the hooks run
        for hook in list(self.reply_hooks) if reply is not None and current else ():
            hook(rec, reply)
        return reply

    def _kit_for(self, method: str, path: str, query: str, headers: Message, body: bytes) -> VendorFake:
        """The kit that claims this request, asked in ``claim_order`` (Aliyun's claims whatever is left)."""
        kits = sorted(self.plugins.values(), key=lambda kit: kit.claim_order)
        found = next((kit for kit in kits if kit.claims_request(method, path, query, headers, body)), None)
        if found is None:  # no kit registered for it: a bug in the fakes, reported as the fake's own 500
            raise LookupError(f"no vendor kit claims {method} {path}")
        return found

    def _respond(
        self, vendor: str, rec: Received, pending: tuple[str, str] | None, ctx: dict[str, Any]
    ) -> Reply | None:
        plugin = self.plugins[vendor]
        mode, kw = self._take_mode(vendor)
        if mode == "http_500":
            body = str(kw.get("body", "500 Internal Server Error")).encode("utf-8")
            return Reply(500, body, "text/plain; charset=utf-8", "http_500")
        if mode == "garbage":
            return Reply(200, str(kw.get("body", "<html>not json")).encode("utf-8"), "text/html", "garbage")
        if mode == "business_error":
            dcode, dmsg = plugin.business_error
            code = str(kw.get("code") or dcode)
            message = str(kw.get("message") or (dmsg if code == dcode else "business error"))
            return plugin.error(code, message, ctx, label=f"business_error:{code}")
        if mode == "hang" and not self._sleep(float(kw.get("seconds", 30))):
            return None
        if pending is not None:
            return plugin.error(pending[0], pending[1], ctx, label=f"limit:{pending[0]}")
        return plugin.ok(rec, ctx)


_load_plugins()
