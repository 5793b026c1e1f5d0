"""Baidu AI Cloud SMS v3 ``POST /api/v3/sendSms`` for the fake vendor.

Auth is BCE auth v1 ("生成认证字符串", cloud.baidu.com/doc/Reference/s/njwvz1yfu),
checked here from the published scheme, not with the SDK::

    prefix      = bce-auth-v1/{ak}/{timestamp}/{expiration}
    signing key = hex(HMAC-SHA256(sk, prefix))          (the hex string is the next key)
    canonical   = METHOD \\n uri-encode(path, keep "/") \\n sorted encoded query \\n sorted "name:value" headers
    signature   = hex(HMAC-SHA256(signing key, canonical))
    header      = {prefix}/{signed headers, ";"-joined}/{signature}

With no signed headers listed, host, content-length, content-type, content-md5
and every x-bce-* header are signed. :func:`authorization` is pinned to the
doc's worked example in tests/sending/test_vendor_matrix.py. The body itself is not
signed, only its length: the fake checks that the signed Content-Length is the
body's.

Codes: SMS/s/zjwvxry6e (1000 success; 4503 number format; 4511 too many
numbers; 6002 authentication failed).

``clientToken`` (a query parameter, signed with the rest): "幂等性参数 … 如传入，则作为请求的
messageId前缀，并在响应中回传，有效时间：3分钟". The first request with a token is the send;
another with the same token and the same parameters within 3 minutes texts nobody and
answers as the first did (``replays``), also while the first is still being answered (in
mode "hang" it hangs first, as the first one did);
with other parameters it is ``IdempotentParameterMismatch`` (HTTP 403, BCE's common
error: "The request uses the same client token as a previous, but non-identical request").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, quote

from fake_vendor import Answered, Received, Refusal, Reply, SendFacts, VendorFake, register_fake

MAX_NUMBERS = 200  # sendSms: "mobile" at most 200
PATH = "/api/v3/sendSms"
DEFAULT_SIGNED = ("host", "content-length", "content-type", "content-md5")
TOKEN_SECONDS = 180  # a clientToken is kept 3 minutes


@dataclass
class BaiduCredentials:
    access_key_id: str = "bce-test-ak-0123456789abcdef"
    secret_access_key: str = "bce-test-sk-fedcba9876543210"
    signature_id: str = "sms-sign-TestSign01"
    #: what signs the status pushes: the account id (百度智能云ID) unless the console sets another token
    callback_token: str = "bce-account-0123456789"


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_request(method: str, path: str, query: str, headers: dict[str, str], signed: list[str] | None) -> str:
    """``headers`` keyed by lower-case name; ``signed`` empty or None means the default set."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k.lower() != "authorization"]
    canonical_query = "&".join(sorted(f"{_encode(k)}={_encode(v)}" for k, v in pairs))
    names = signed or [n for n in headers if n in DEFAULT_SIGNED or n.startswith("x-bce-")]
    canonical_headers = "\n".join(
        sorted(f"{_encode(n)}:{_encode(headers[n].strip())}" for n in names if headers.get(n, "").strip())
    )
    return "\n".join([method.upper(), quote(path or "/", safe="/-_.~"), canonical_query, canonical_headers])


def authorization(
    ak: str,
    sk: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    timestamp: str,
    expiration: int = 1800,
    signed: list[str] | None = None,
) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    prefix = f"bce-auth-v1/{ak}/{timestamp}/{expiration}"
    key = hmac.new(sk.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    canonical = canonical_request(method, path, query, lowered, signed)
    sig = hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return f"{prefix}/{';'.join(signed or [])}/{sig}"


_AUTH = re.compile(r"bce-auth-v1/(?P<ak>[^/]+)/(?P<ts>[^/]+)/(?P<exp>\d+)/(?P<signed>[^/]*)/(?P<sig>[0-9a-f]{64})")


@register_fake
class BaiduFake(VendorFake):
    name = "baidu"
    business_error = ("6012", "账号已停服")
    send_facts = SendFacts(
        params_on_wire={"code": "483920", "minutes": "5"},
        max_numbers=MAX_NUMBERS,
        auth_errors=("6002",),
        rejected_code="4503",
        secret_key="SMS_BAIDU_SECRET_ACCESS_KEY",
        international=[["+16502530000", "+85261234567"]],
        retries_timeouts=True,  # retried once with its clientToken: ends sent or failed
    )
    correlation_field = "custom"
    push_tries = 4  # receipt pushes tried in all: 3 retries at once (then hourly)

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = BaiduCredentials()
        self._lock = threading.Lock()
        #: clientToken -> (the request's parameters, when the token expires, the reply once decided)
        self._tokens: dict[str, tuple[str, float, Reply | None]] = {}
        #: requests answered from a token already taken (no text sent for them)
        self.replays: list[Received] = []

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self.replays.clear()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return (headers.get("Authorization") or "").startswith("bce-auth-v1/")

    @staticmethod
    def _reply(status: int, payload: dict[str, Any], label: str) -> Reply:
        body = {"requestId": str(uuid.uuid4()), **payload}
        return Reply(
            status,
            json.dumps(body, ensure_ascii=False).encode("utf-8"),
            "application/json;charset=UTF-8",
            label,
            {"x-bce-request-id": body["requestId"]},
        )

    def _refuse(self, status: int, code: str, message: str) -> Refusal:
        return Refusal(f"{code}: {message}", self._reply(status, {"code": code, "message": message}, f"refused:{code}"))

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        self._authenticate(method, path, query, {k.lower(): v for k, v in headers.items()}, body)
        if (method, path) != ("POST", PATH):
            raise self._refuse(404, "4518", "请求地址错误")
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise self._refuse(400, "4501", "请求参数不正确")
        phones = [p for p in str(data.get("mobile") or "").split(",") if p]
        rec = Received(
            "baidu",
            phones,
            str(data.get("template") or ""),
            data.get("contentVar"),
            str(data.get("signatureId") or ""),
            data,
        )
        token = dict(parse_qsl(query)).get("clientToken", "")
        if token:
            rec.raw["_clientToken"] = token  # the query's token, next to the body's fields
            self._take_token(token, body, rec)
        return rec, _pending(phones, data), {"token": token}

    def _take_token(self, token: str, body: bytes, rec: Received) -> None:
        """The first use of a token takes it; a repeat within its 3 minutes is answered from it (``Answered``)."""
        now = time.monotonic()
        fingerprint = hashlib.sha256(body).hexdigest()
        with self._lock:
            known = self._tokens.get(token)
            if known is None or known[1] <= now:
                self._tokens[token] = (fingerprint, now + TOKEN_SECONDS, None)
                return
        if known[0] != fingerprint:
            message = "The request uses the same client token as a previous, but non-identical request."
            raise Refusal(
                f"IdempotentParameterMismatch: {message}",
                self._reply(403, {"code": "IdempotentParameterMismatch", "message": message}, "refused:idempotent"),
            )
        with self._lock:
            self.replays.append(rec)
        mode, kw = self.fake._take_mode("baidu")  # a vendor that hangs may hang on the repeat too
        if mode == "hang" and not self.fake._sleep(float(kw.get("seconds", 30))):
            raise Answered(Reply(503, b"", "text/plain", "stopped"))
        # the first request's answer; while it is still being answered, the success it will be
        raise Answered(known[2] if known[2] is not None else self._success(rec, token, "replay"))

    def _keep(self, token: str, reply: Reply) -> Reply:
        with self._lock:
            if token in self._tokens:
                fingerprint, expires, _ = self._tokens[token]
                self._tokens[token] = (fingerprint, expires, reply)
        return reply

    def _authenticate(self, method: str, path: str, query: str, lowered: dict[str, str], body: bytes) -> None:
        """BCE auth v1: one refusal (6002) for a bad header, key, timestamp, signature, signed headers or length."""
        match = _AUTH.fullmatch(lowered.get("authorization", "").strip())
        if match is None or match["ak"] != self.credentials.access_key_id:
            raise self._refuse(401, "6002", "用户认证失败")
        signed = match["signed"].split(";") if match["signed"] else None
        try:
            when = datetime.strptime(match["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise self._refuse(401, "6002", "用户认证失败") from None
        age = (datetime.now(timezone.utc) - when).total_seconds()
        expected = authorization(
            match["ak"], self.credentials.secret_access_key, method, path, query, lowered, match["ts"],
            int(match["exp"]), signed,
        )  # fmt: skip
        signed_names = signed or list(DEFAULT_SIGNED)
        if (
            not hmac.compare_digest(lowered["authorization"].strip().encode(), expected.encode())
            or not -300 < age < int(match["exp"])
            or "host" not in signed_names
            or lowered.get("content-length") != str(len(body))
        ):
            raise self._refuse(401, "6002", "用户认证失败")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self._keep(ctx.get("token", ""), self._reply(200, {"code": code, "message": message}, label))

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        return self._keep(ctx.get("token", ""), self._success(rec, ctx.get("token", ""), None))

    def _success(self, rec: Received, token: str, label: str | None) -> Reply:
        """The send's answer: a code per number; with a clientToken it prefixes every messageId."""
        hits = self.fake._rejection_for("baidu", rec.phones)
        items = []
        for phone in rec.phones:
            code, message = hits.get(phone, ("1000", "成功"))
            item = {"code": code, "message": message, "mobile": phone}
            if code == "1000":
                item["messageId"] = f"{token or uuid.uuid4()}_{phone}"
            items.append(item)
        label = label or ("partial:" + ",".join(sorted({c for c, _ in hits.values()})) if hits else "ok")
        return self._reply(200, {"code": "1000", "message": "成功", "data": items}, label)

    # -- delivery receipts (SMS/s/Fkijy9cdv: one JSON report per push, signed md5(token + timestamp + body)) --
    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, messageId, custom) of every number the reply took."""
        custom = str(rec.raw.get("custom") or "")
        taken = [item for item in body.get("data", []) if item.get("code") == "1000"]
        return [(_e164(item["mobile"]), item["messageId"], custom) for item in taken]

    def receipt_pushes(self, entries: list[Any]) -> list[tuple[bytes, str, dict[str, str]]]:
        pushes = []
        for entry in entries:
            item = {
                "code": "0" if entry.delivered else "2",
                "requestId": str(uuid.uuid4()),
                "messageId": entry.message_id,
                "mobile": entry.e164.removeprefix("+86"),
                "carrierCode": "DELIVRD" if entry.delivered else entry.code,
                "custom": entry.out_id,
                "attemptCount": 1,
                "segmentCount": 1,
                "deliverTime": entry.reported_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "requestTime": entry.sent_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            body = json.dumps(item).encode()
            timestamp = str(int(time.time() * 1000))
            signature = hashlib.md5(f"{self.credentials.callback_token}{timestamp}".encode() + body).hexdigest()
            headers = {"requestId": uuid.uuid4().hex, "timestamp": timestamp, "signature": signature}
            pushes.append((body, "application/json;charset=utf-8", headers))
        return pushes


def _e164(mobile: str) -> str:
    return mobile if mobile.startswith("+") else "+86" + mobile


def _pending(phones: list[str], data: dict[str, Any]) -> tuple[str, str] | None:
    """The business error an authenticated send still earns: a missing field, the sign, the numbers, the values."""
    if not phones or not data.get("template") or not data.get("signatureId"):
        return ("4502", "请求参数不能为空")
    if not str(data["signatureId"]).startswith("sms-sign-"):
        return ("6006", "账号签名不可用")
    if len(phones) > MAX_NUMBERS:
        return ("4511", "批量发送短信错误")
    if not all(re.fullmatch(r"1\d{10}|\+[1-9]\d{6,14}", phone) for phone in phones):
        return ("4503", "手机号码格式不正确")
    if not isinstance(data.get("contentVar"), dict):
        return ("4601", "模板参数异常")
    return None
