"""Cloudflare Turnstile's server-side check (``POST /turnstile/v0/siteverify``) for the human-check fake.

Form: ``secret``, ``response``, ``remoteip``. The published test secrets behave as Cloudflare documents them
(``1x00000000000000000000000000000000AA`` always passes, ``2x0000000000000000000000000000000AA`` always fails,
``3x0000000000000000000000000000000AA`` answers ``timeout-or-duplicate``), with the published dummy token
``XXXX.DUMMY.TOKEN.XXXX``; with the app's own secret, a token the fake issued passes once
(``timeout-or-duplicate`` after).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qsl

from fake_captcha import CaptchaCheck, CaptchaFake, register_check

TURNSTILE_PASS = "1x0000000000000000000000000000000AA"
TURNSTILE_FAIL = "2x0000000000000000000000000000000AA"
TURNSTILE_SPENT = "3x0000000000000000000000000000000AA"
TURNSTILE_DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX"


@register_check
class TurnstileCheck(CaptchaCheck):
    name = "turnstile"
    keys: ClassVar[dict[str, str]] = {"secret": "0x4AAAAAAA-fake-turnstile-secret"}

    def claims(self, path: str, headers: Any) -> bool:
        return path == "/turnstile/v0/siteverify"

    def challenge(self, token: str) -> dict[str, str]:
        return {"token": token}

    def check(self, fake: CaptchaFake, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        form = dict(parse_qsl(body.decode()))
        fake.checked.append(("turnstile", form))
        secret, token = form.get("secret", ""), form.get("response", "")
        if secret == TURNSTILE_PASS:
            return 200, {"success": True, "error-codes": [], "hostname": "example.com"}
        if secret == TURNSTILE_FAIL:
            return 200, {"success": False, "error-codes": ["invalid-input-response"]}
        if secret == TURNSTILE_SPENT:
            return 200, {"success": False, "error-codes": ["timeout-or-duplicate"]}
        if secret != self.keys["secret"]:
            return 200, {"success": False, "error-codes": ["invalid-input-secret"]}
        outcome = fake.take(token)
        if outcome == "ok":
            return 200, {"success": True, "error-codes": [], "hostname": "example.com", "action": ""}
        return 200, {
            "success": False,
            "error-codes": ["timeout-or-duplicate" if outcome == "used" else "invalid-input-response"],
        }
