"""Qiniu Cloud SMS ``POST /v1/message`` for the fake vendor.

Auth is the "Qiniu" token (管理凭证, developer.qiniu.com/kodo/1201; QiniuToken,
kodo/kb/3702), checked here from the published scheme, not with the package::

    signing = METHOD " " path ["?" query] "\\nHost: " host ["\\nContent-Type: " type]
              ["\\n" Name ": " value for each X-Qiniu-* header, names in canonical case, sorted]
              "\\n\\n" [body, when there is one and the type is set and not application/octet-stream]
    Authorization: Qiniu {AK}:{urlsafe_base64(HMAC-SHA1(SK, signing))}

:func:`token` is pinned to the doc's worked example in tests/sending/test_vendor_matrix.py.
Every reply carries ``X-Reqid`` (the package treats a 200 without it as "server
is not qiniu"). Errors: ``{"error", "message", "request_id"}`` with HTTP 4xx
(sms/5849).

``POST /v1/message/oversea`` (sms/10488) takes ``+`` E.164 numbers abroad and an
international template (one of :data:`INTL_TEMPLATE_IDS`), and answers
``{"message_id"}``; a mainland template there is ``NotFoundError``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from typing import Any

from fake_vendor import Received, Refusal, Reply, SendFacts, VendorFake, register_fake

PATH = "/v1/message"
OVERSEA = "/v1/message/oversea"
#: the account's international templates (tests/vendor_config.py configures them as INTL_TEMPLATES)
INTL_TEMPLATE_IDS = ("1374401547327758400", "1374401547327758401")


_OVERSEA_NUMBER = r"\+(?!86)[1-9]\d{6,14}"


def _pending(phones: list[Any], data: dict[str, Any], oversea: bool) -> tuple[str, str] | None:
    """The error a signed send still earns: no numbers or template, a number of the other kind, a mainland
    template abroad."""
    if not phones or not data.get("template_id"):
        return ("InvalidQueryValue", "无效查询")
    if not all(isinstance(p, str) and re.fullmatch(_OVERSEA_NUMBER if oversea else r"1\d{10}", p) for p in phones):
        return ("InvalidQueryValue", "无效查询: mobiles")
    if oversea and data["template_id"] not in INTL_TEMPLATE_IDS:
        return ("NotFoundError", "未找到国际/港澳台短信模板")
    return None


@dataclass
class QiniuCredentials:
    access_key: str = "qiniu-test-access-key-0001"
    secret_key: str = "qiniu-test-secret-key-XYZ"


def _canonical_name(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def signing_string(method: str, path: str, query: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    """``headers`` as received (any case)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "")
    text = f"{method.upper()} {path}{'?' + query if query else ''}\nHost: {host}"
    if content_type:
        text += f"\nContent-Type: {content_type}"
    qiniu = sorted(
        (_canonical_name(k), v) for k, v in lowered.items() if k.startswith("x-qiniu-") and len(k) > len("x-qiniu-")
    )
    text += "".join(f"\n{k}: {v}" for k, v in qiniu) + "\n\n"
    data = text.encode("utf-8")
    if body and content_type and content_type != "application/octet-stream":
        data += body
    return data


def token(access_key: str, secret_key: str, signing: bytes) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), signing, hashlib.sha1).digest()
    return f"{access_key}:{base64.urlsafe_b64encode(digest).decode('ascii')}"


@register_fake
class QiniuFake(VendorFake):
    name = "qiniu"
    business_error = ("AccountBalanceNotEnough", "您的账户余额不足")
    send_facts = SendFacts(
        params_on_wire={"code": "483920", "minutes": "5"},
        max_numbers=100,
        auth_errors=("BadToken",),
        rejected_code="",  # the send API has no per-number code: final refusals come in receipts
        secret_key="SMS_QINIU_SECRET_KEY",
        international=[["+16502530000", "+85261234567"]],  # /v1/message/oversea, E.164
    )
    correlation_field = "seq"
    push_tries = 3  # receipt pushes tried in all: retried within 10 minutes

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = QiniuCredentials()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return (headers.get("Authorization") or "").startswith("Qiniu ")

    @staticmethod
    def _reply(status: int, payload: dict[str, Any], label: str) -> Reply:
        request_id = uuid.uuid4().hex[:16]
        if "error" in payload:
            payload = {**payload, "request_id": request_id}
        return Reply(
            status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json", label,
            {"X-Reqid": request_id},
        )  # fmt: skip

    def _refuse(self, status: int, code: str, message: str) -> Refusal:
        return Refusal(
            f"{code}: {message}", self._reply(status, {"error": code, "message": message}, f"refused:{code}")
        )

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        given = dict(headers.items())
        auth = (headers.get("Authorization") or "")[len("Qiniu ") :]
        expected = token(
            self.credentials.access_key,
            self.credentials.secret_key,
            signing_string(method, path, query, headers.get("Host") or "", given, body),
        )
        if not auth.startswith(self.credentials.access_key + ":") or not hmac.compare_digest(
            auth.encode(), expected.encode()
        ):
            raise self._refuse(401, "BadToken", "bad token")
        stamp = headers.get("X-Qiniu-Date")
        if stamp is not None:  # signed when present; the package sends it unless told not to
            try:
                when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            except ValueError:
                raise self._refuse(401, "BadToken", "bad token") from None
            if abs((datetime.now(timezone.utc) - when).total_seconds()) > 15 * 60:
                raise self._refuse(401, "BadToken", "token expired")
        if method != "POST" or path not in (PATH, OVERSEA):
            raise self._refuse(404, "NotFoundError", "未找到")
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise self._refuse(400, "MalformedJSON", "JSON 格式不正确") from None
        if not isinstance(data, dict):
            raise self._refuse(400, "MalformedJSON", "JSON 格式不正确")
        oversea = path == OVERSEA
        phones = data.get("mobiles") if isinstance(data.get("mobiles"), list) else []
        pending = _pending(phones, data, oversea)
        rec = Received(
            "qiniu",
            [str(p) for p in phones],
            str(data.get("template_id") or ""),
            data.get("parameters"),
            str(data.get("signature_id") or ""),
            data,
        )
        return rec, pending, {"oversea": oversea}

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self._reply(400, {"error": code, "message": message}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("qiniu", rec.phones)
        if hits:  # no per-number status in the send reply: the request fails
            code, message = next(iter(hits.values()))
            return self._reply(400, {"error": code, "message": message}, f"rejected_number:{code}")
        if ctx.get("oversea"):
            return self._reply(200, {"message_id": uuid.uuid4().hex}, "ok")
        return self._reply(200, {"job_id": uuid.uuid4().hex}, "ok")

    # -- delivery receipts (sms/5910: {"items": [...]} to the portal's status callback) ------------------
    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, job_id, seq): one job for the request."""
        seq = str(rec.raw.get("seq") or "")
        return [(phone if phone.startswith("+") else "+86" + phone, body["job_id"], seq) for phone in rec.phones]

    @staticmethod
    def report_item(entry: Any) -> dict[str, Any]:
        item: dict[str, Any] = {
            "mobile": entry.e164.removeprefix("+86"),
            "message_id": hashlib.sha1(f"{entry.message_id}{entry.e164}".encode()).hexdigest()[:8],
            "status": "DELIVRD" if entry.delivered else "FAILED",
            "delivrd_at": int(entry.reported_at.timestamp()),
            "job_id": entry.message_id,
            "seq": entry.out_id,
        }
        if not entry.delivered:
            item["error"] = entry.code
        return item

    def receipt_pushes(self, entries: list[Any]) -> list[tuple[bytes, str, dict[str, str]]]:
        items = [self.report_item(entry) for entry in entries]
        return [
            (json.dumps({"items": items[i : i + 100]}).encode(), "application/json", {})
            for i in range(0, len(items), 100)
        ]
