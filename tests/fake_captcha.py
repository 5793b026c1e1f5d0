"""A loopback fake of the human checks' server-side verification: the server and the registry of checks.

Each vendor's check is a :class:`CaptchaCheck` in that vendor's kit module under ``tests/fakes/``
(Tencent Cloud Captcha in ``fakes/tencent.py``, Aliyun Captcha 2.0 in ``fakes/aliyun.py``, Cloudflare
Turnstile in ``fakes/turnstile.py``, GeeTest v4 in ``fakes/geetest.py``), registered with
:func:`register_check`; each checks the request on the vendor's own terms. This module keeps the
server, the tokens it issued (:meth:`CaptchaFake.solve`, good for one check) and the record of what
each check was asked.

``mode = "http_500"`` makes every check answer 500 (the verifier cannot decide: fail closed).
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlsplit


class CaptchaCheck:
    """One vendor's human-check verification, written in the vendor's kit module."""

    name: ClassVar[str]
    #: the credentials the fake knows (an app's SMS_CHALLENGE for this provider uses them)
    keys: ClassVar[dict[str, str]]

    def claims(self, path: str, headers: Any) -> bool:
        """Whether this request is for this check."""
        raise NotImplementedError

    def challenge(self, token: str) -> dict[str, str]:
        """What the vendor's widget gives a page once a person solved it, around the fake's ``token``."""
        raise NotImplementedError

    def check(self, fake: CaptchaFake, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        """The vendor's answer (status, JSON) to one verification request."""
        raise NotImplementedError


_CHECKS: dict[str, CaptchaCheck] = {}
#: each registered check's credentials, by provider
KEYS: dict[str, dict[str, str]] = {}


def register_check(cls: type[CaptchaCheck]) -> type[CaptchaCheck]:
    """Class decorator for a :class:`CaptchaCheck` in a kit module of ``tests/fakes/``."""
    _CHECKS[cls.name] = cls()
    KEYS[cls.name] = dict(cls.keys)
    return cls


class CaptchaFake:
    def __init__(self) -> None:
        self.mode = "ok"
        self.checked: list[tuple[str, dict[str, Any]]] = []  # (provider, what it was asked)
        self._issued: dict[str, dict[str, Any]] = {}  # token -> what it stands for
        self._used: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def settings(self, provider: str) -> dict[str, str]:
        """An app's ``SMS_CHALLENGE`` for ``provider``, pointed at this fake."""
        return {"provider": provider, **KEYS[provider], "endpoint": self.url}

    def solve(self, provider: str) -> dict[str, str]:
        """What the vendor's widget gives a page once a person solved it (good for one check)."""
        token = secrets.token_urlsafe(24)
        challenge = _CHECKS[provider].challenge(token)
        with self._lock:
            self._issued[token] = challenge
        return challenge

    def start(self) -> CaptchaFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = fake.handle(self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- for the checks ------------------------------------------------------------------------------
    def issued(self, token: str) -> dict[str, Any] | None:
        """What :meth:`solve` gave for ``token`` (``None``: the fake never issued it)."""
        with self._lock:
            return self._issued.get(token)

    def take(self, token: str) -> str:
        """ "ok" the first time for a token it issued, "used" after, "unknown" for any other."""
        with self._lock:
            if token not in self._issued:
                return "unknown"
            if token in self._used:
                return "used"
            self._used.add(token)
            return "ok"

    def handle(self, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        if self.mode == "http_500":
            return 500, {"error": "internal"}
        path = urlsplit(target).path
        found = next((check for check in _CHECKS.values() if check.claims(path, headers)), None)
        if found is None:
            return 404, {"error": f"no human check answers {path}"}
        return found.check(self, target, headers, body)


import fake_vendor  # noqa: F401 -- loads tests/fakes/, whose kit modules register their checks
