"""GeeTest v4's server-side check (``POST /validate?captcha_id=``) for the human-check fake.

Form: ``lot_number``, ``captcha_output``, ``pass_token``, ``gen_time``, ``sign_token``; ``sign_token`` must
be HMAC-SHA256(captcha key, ``lot_number``) in hex. Answers ``{"status": "success", "result": "success" |
"fail", "reason": ...}`` (``status: error`` for an unknown ``captcha_id``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from fake_captcha import CaptchaCheck, CaptchaFake, register_check


@register_check
class GeetestCheck(CaptchaCheck):
    name = "geetest"
    keys: ClassVar[dict[str, str]] = {
        "captcha_id": "647f5ed2ed8acb4be36784e01556bb71",
        "captcha_key": "b09a7aafbfd83f73b35a9b530d0337bf",
    }

    def claims(self, path: str, headers: Any) -> bool:
        return path == "/validate"

    def challenge(self, token: str) -> dict[str, str]:
        return {
            "lot_number": token,
            "captcha_output": secrets.token_urlsafe(16),
            "pass_token": secrets.token_hex(16),
            "gen_time": "1700000000",
        }

    def check(self, fake: CaptchaFake, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        query, form = dict(parse_qsl(urlsplit(target).query)), dict(parse_qsl(body.decode()))
        fake.checked.append(("geetest", {**query, **form}))
        if query.get("captcha_id") != self.keys["captcha_id"]:
            return 200, {"status": "error", "code": "-50005", "msg": "illegal captcha_id"}
        lot = form.get("lot_number", "")
        expected = hmac.new(self.keys["captcha_key"].encode(), lot.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(form.get("sign_token", ""), expected):
            return 200, {"status": "success", "result": "fail", "reason": "pass_token expire or sign_token error"}
        issued = fake.issued(lot)
        if issued is None or any(form.get(name) != issued[name] for name in issued):
            return 200, {"status": "success", "result": "fail", "reason": "lot_number error"}
        if fake.take(lot) != "ok":
            return 200, {"status": "success", "result": "fail", "reason": "pass_token used"}
        return 200, {"status": "success", "result": "success", "reason": "", "captcha_args": {}}
