"""A loopback fake of the four human checks' server-side verification, each on its own terms.

* **Cloudflare Turnstile** ``POST /turnstile/v0/siteverify`` (form: ``secret``, ``response``, ``remoteip``):
  the published test secrets behave as Cloudflare documents them (``1x00000000000000000000000000000000AA``
  always passes, ``2x0000000000000000000000000000000AA`` always fails, ``3x0000000000000000000000000000000AA``
  answers ``timeout-or-duplicate``), with the published dummy token ``XXXX.DUMMY.TOKEN.XXXX``; with the
  app's own secret, a token :meth:`CaptchaFake.solve` issued passes once (``timeout-or-duplicate`` after).
* **GeeTest v4** ``POST /validate?captcha_id=`` (form: ``lot_number``, ``captcha_output``, ``pass_token``,
  ``gen_time``, ``sign_token``): ``sign_token`` must be HMAC-SHA256(captcha key, ``lot_number``) in hex;
  answers ``{"status": "success", "result": "success" | "fail", "reason": ...}`` (``status: error`` for an
  unknown ``captcha_id``).
* **Tencent Cloud Captcha** ``DescribeCaptchaResult`` (2019-07-22): a TC3-HMAC-SHA256 request (the same
  check as the SMS fake's, for service ``captcha``), ``CaptchaType`` 9, the ``CaptchaAppId`` and
  ``AppSecretKey``; ``CaptchaCode`` 1 for a ticket it issued (with its ``Randstr``), 7 for a wrong
  randstr, 9 for a ticket used again, 15 for one it never issued.
* **Aliyun Captcha 2.0** ``VerifyIntelligentCaptcha`` (2023-03-05): an RPC request signed as Aliyun's
  HMAC-SHA1 signature v1 (the SMS fake's check); ``Result.VerifyResult`` true with ``VerifyCode`` T001 for a
  ``CaptchaVerifyParam`` it issued, false with F008 (submitted again) or F001 otherwise.

``mode = "http_500"`` makes every check answer 500 (the verifier cannot decide: fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fakes.aliyun import aliyun_request_params, aliyun_signature
from fakes.tencent import tc3_authorization_fields, tc3_signature_matches

TURNSTILE_PASS = "1x0000000000000000000000000000000AA"
TURNSTILE_FAIL = "2x0000000000000000000000000000000AA"
TURNSTILE_SPENT = "3x0000000000000000000000000000000AA"
TURNSTILE_DUMMY_TOKEN = "XXXX.DUMMY.TOKEN.XXXX"

#: the credentials the fake knows (an app's SMS_CHALLENGE for each provider uses them)
KEYS = {
    "turnstile": {"secret": "0x4AAAAAAA-fake-turnstile-secret"},
    "geetest": {"captcha_id": "647f5ed2ed8acb4be36784e01556bb71", "captcha_key": "b09a7aafbfd83f73b35a9b530d0337bf"},
    "tencent": {
        "secret_id": "AKIDfakeCaptchaSecretId",
        "secret_key": "fakeCaptchaSecretKey",
        "captcha_app_id": "199999164",
        "app_secret_key": "E4kwK9AcXQMHkktiItyMEyQPn",
    },
    "aliyun": {"access_key_id": "LTAIfakeCaptchaKeyId", "access_key_secret": "fakeCaptchaKeySecret"},
}


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
        challenge = {
            "turnstile": lambda: {"token": token},
            "geetest": lambda: {
                "lot_number": token,
                "captcha_output": secrets.token_urlsafe(16),
                "pass_token": secrets.token_hex(16),
                "gen_time": "1700000000",
            },
            "tencent": lambda: {"ticket": "tr0" + token, "randstr": "@" + secrets.token_hex(2)},
            "aliyun": lambda: {"captcha_verify_param": json.dumps({"certifyId": token, "sceneId": "1ab2c3d"})},
        }[provider]()
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

    # -- the checks ------------------------------------------------------------------------------
    def _take(self, token: str) -> str:
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
        parts = urlsplit(target)
        if parts.path == "/turnstile/v0/siteverify":
            return self._turnstile(dict(parse_qsl(body.decode())))
        if parts.path == "/validate":
            return self._geetest(dict(parse_qsl(parts.query)), dict(parse_qsl(body.decode())))
        if headers.get("X-TC-Action") == "DescribeCaptchaResult":
            return self._tencent(target, headers, body)
        return self._aliyun(parts.query, headers, body)

    def _turnstile(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.checked.append(("turnstile", form))
        secret, token = form.get("secret", ""), form.get("response", "")
        if secret == TURNSTILE_PASS:
            return 200, {"success": True, "error-codes": [], "hostname": "example.com"}
        if secret == TURNSTILE_FAIL:
            return 200, {"success": False, "error-codes": ["invalid-input-response"]}
        if secret == TURNSTILE_SPENT:
            return 200, {"success": False, "error-codes": ["timeout-or-duplicate"]}
        if secret != KEYS["turnstile"]["secret"]:
            return 200, {"success": False, "error-codes": ["invalid-input-secret"]}
        outcome = self._take(token)
        if outcome == "ok":
            return 200, {"success": True, "error-codes": [], "hostname": "example.com", "action": ""}
        return 200, {
            "success": False,
            "error-codes": ["timeout-or-duplicate" if outcome == "used" else "invalid-input-response"],
        }

    def _geetest(self, query: dict[str, str], form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.checked.append(("geetest", {**query, **form}))
        keys = KEYS["geetest"]
        if query.get("captcha_id") != keys["captcha_id"]:
            return 200, {"status": "error", "code": "-50005", "msg": "illegal captcha_id"}
        lot = form.get("lot_number", "")
        expected = hmac.new(keys["captcha_key"].encode(), lot.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(form.get("sign_token", ""), expected):
            return 200, {"status": "success", "result": "fail", "reason": "pass_token expire or sign_token error"}
        issued = self._issued.get(lot)
        if issued is None or any(form.get(name) != issued[name] for name in issued):
            return 200, {"status": "success", "result": "fail", "reason": "lot_number error"}
        outcome = self._take(lot)
        if outcome != "ok":
            return 200, {"status": "success", "result": "fail", "reason": "pass_token used"}
        return 200, {"status": "success", "result": "success", "reason": "", "captcha_args": {}}

    def _tencent(self, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        keys = KEYS["tencent"]
        fields = tc3_authorization_fields(headers.get("Authorization") or "")
        parts = urlsplit(target)
        if (
            fields is None
            or fields["SecretId"] != keys["secret_id"]
            or not tc3_signature_matches(
                "POST", parts.path or "/", parts.query, headers, body, fields, keys["secret_key"], service="captcha"
            )
        ):
            error = {
                "Code": "AuthFailure.SignatureFailure",
                "Message": "The provided credentials could not be validated.",
            }
            return 200, {"Response": {"Error": error, "RequestId": secrets.token_hex(8)}}
        asked = json.loads(body)
        self.checked.append(("tencent", asked))
        if asked.get("CaptchaType") != 9 or str(asked.get("CaptchaAppId")) != keys["captcha_app_id"]:
            return 200, _tencent_result(16, "appid-ticket mismatch")
        if asked.get("AppSecretKey") != keys["app_secret_key"]:
            return 200, _tencent_result(16, "appid-ticket mismatch")
        token = str(asked.get("Ticket", ""))[3:]
        issued = self._issued.get(token)
        if issued is None:
            return 200, _tencent_result(15, "decrypt fail")
        if asked.get("Randstr") != issued["randstr"]:
            return 200, _tencent_result(7, "captcha no match")
        if self._take(token) != "ok":
            return 200, _tencent_result(9, "ticket reused")
        return 200, _tencent_result(1, "OK")

    def _aliyun(self, query: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        keys = KEYS["aliyun"]
        params = aliyun_request_params(query, headers.get("Content-Type") or "", body)
        self.checked.append(("aliyun", params))
        signed = aliyun_signature("POST", params, keys["access_key_secret"])
        if params.get("AccessKeyId") != keys["access_key_id"] or not hmac.compare_digest(
            params.get("Signature", "").encode(), signed.encode()
        ):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        if params.get("Action") != "VerifyIntelligentCaptcha" or params.get("Version") != "2023-03-05":
            return 404, {"Code": "InvalidAction.NotFound", "Message": "Specified api is not found."}
        try:
            token = json.loads(params.get("CaptchaVerifyParam", "")).get("certifyId", "")
        except (ValueError, AttributeError):
            token = ""
        outcome = self._take(token)
        code = {"ok": "T001", "used": "F008"}.get(outcome, "F001")
        result = {"VerifyResult": outcome == "ok", "VerifyCode": code}
        return 200, {
            "RequestId": secrets.token_hex(8),
            "Success": True,
            "Code": "Success",
            "Message": "success",
            "Result": result,
        }


def _tencent_result(code: int, message: str) -> dict[str, Any]:
    return {
        "Response": {
            "CaptchaCode": code,
            "CaptchaMsg": message,
            "EvilLevel": 0,
            "GetCaptchaTime": 0,
            "RequestId": secrets.token_hex(8),
        }
    }
