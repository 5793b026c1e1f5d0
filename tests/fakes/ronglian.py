"""Ronglian / 容联云 ``TemplateSMS`` (REST 2013-12-26) for the fake vendor: ``sig`` and ``Authorization`` checks, replies.

``sig`` (a query parameter) = upper MD5(account SID + AUTH TOKEN + timestamp); the ``Authorization`` header is
base64 of ``SID:yyyyMMddHHmmss``. The kit claims every path under ``/2013-12-26/Accounts/`` not claimed by
another kit (the voice API's ``ronglian_voice.py``). ``reqId`` ("第三方自定义消息id，最大支持32位英文数字，同账号下同一自然天内
不允许重复") is taken once per account and Beijing day; a repeat earns the table's 160054 "请求重复".

Status codes from the public cloopen error-code table (the 1111xx account/auth codes and the 1600xx SMS codes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message
from typing import Any

from fake_vendor import Received, Refusal, Reply, SendFacts, VendorFake, json_bytes, parse_form, register_fake

_BEIJING = timezone(timedelta(hours=8))

# The Ronglian error-code table has 160048 "号码数超200限制" (number count over
# the 200 limit). So TemplateSMS takes at most 200 comma-separated numbers.
MAX_NUMBERS = 200
_RL_AUTH_EMPTY = ("111101", "请求包头Authorization参数为空")
_RL_AUTH_B64 = ("111102", "请求包头Authorization参数Base64解码失败")
_RL_AUTH_FORMAT = ("111103", "请求包头Authorization参数解码后格式有误")
_RL_AUTH_NO_SID = ("111104", "请求包头Authorization参数解码后账户ID为空")
_RL_AUTH_NO_TS = ("111105", "请求包头Authorization参数解码后时间戳为空")
_RL_SID_MISMATCH = ("111107", "请求包头Authorization参数中账户ID跟请求地址中的账户ID不一致")
_RL_SIG_EMPTY = ("111108", "请求地址Sig参数为空")
_RL_SIG_BAD = ("111109", "请求地址Sig校验失败")
_RL_TS_FORMAT = ("111113", "请求包头Authorization参数中时间戳格式有误，请参考yyyyMMddHHmmss")
_RL_NO_ACCOUNT = ("111141", "主账户不存在")
_RL_NO_APPID = ("111169", "应用ID为空")
_RL_APP_UNKNOWN = ("111181", "应用不存在")
_RL_EMPTY_BODY = ("160030", "请求包体为空")
_RL_BAD_BODY = ("160031", "参数解析失败")
_RL_BAD_NUMBER = ("160042", "号码格式有误")
_RL_NO_NUMBER = ("160044", "发送号码为空")
_RL_TOO_MANY = ("160048", "号码数超200限制")
_RL_TEMPLATE_NOT_DIGITS = ("160057", "短信模板ID要求为数字")
_RL_NO_TEMPLATE = ("112307", "模板短信模板ID为空")
# reqId: "第三方自定义消息id，最大支持32位英文数字，同账号下同一自然天内不允许重复" (TemplateSMS);
# the table's 160054 "请求重复" answers a repeat
_RL_REQ_ID_USED = ("160054", "请求重复")


def _pending(phones: list[str], template: str) -> tuple[str, str] | None:
    """The error a well-signed Ronglian send still earns: no number, too many, a bad number, a bad template id."""
    if not phones:
        return _RL_NO_NUMBER
    if len(phones) > MAX_NUMBERS:
        return _RL_TOO_MANY
    if not all(re.fullmatch(r"(\+|00)?\d{5,20}", p) for p in phones):
        return _RL_BAD_NUMBER
    if not template:
        return _RL_NO_TEMPLATE
    if not template.isdigit():
        return _RL_TEMPLATE_NOT_DIGITS
    return None


def ronglian_sig(account_sid: str, auth_token: str, timestamp: str) -> str:
    """Ronglian's ``sig`` query parameter: upper-case MD5 of account SID + AUTH TOKEN + timestamp."""
    return _md5_hex(account_sid + auth_token + timestamp).upper()


@dataclass(frozen=True)
class AuthRefusal:
    """Why a Ronglian Authorization header was refused: the vendor's (code, message)."""

    pair: tuple[str, str]


def ronglian_authorization(header: str) -> tuple[str, str] | AuthRefusal:
    """Ronglian's ``Authorization`` header read back: base64 of ``account SID:yyyyMMddHHmmss``."""
    auth = header.strip()
    if not auth:
        return AuthRefusal(_RL_AUTH_EMPTY)
    try:
        decoded = base64.b64decode(auth, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return AuthRefusal(_RL_AUTH_B64)
    if ":" not in decoded:
        return AuthRefusal(_RL_AUTH_FORMAT)
    sid, _, timestamp = decoded.partition(":")
    if not sid:
        return AuthRefusal(_RL_AUTH_NO_SID)
    if not timestamp:
        return AuthRefusal(_RL_AUTH_NO_TS)
    if not re.fullmatch(r"\d{14}", timestamp):
        return AuthRefusal(_RL_TS_FORMAT)
    return sid, timestamp


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass
class RonglianCredentials:
    """The one account the fake knows."""

    sid: str = "8a216da8test0000sid"  # ACCOUNT SID
    token: str = "ronglian-test-token-XYZ"  # AUTH TOKEN
    app_id: str = "8a216da8test0000app"


@register_fake
class RonglianFake(VendorFake):
    name = "ronglian"
    business_error = ("160014", "短信通道余额不足")
    send_facts = SendFacts(
        params_on_wire=["483920", "5"],
        max_numbers=MAX_NUMBERS,
        auth_errors=("111109",),
        rejected_code="160042",
        secret_key="SMS_RONGLIAN_AUTH_TOKEN",
        international=[["0016502530000"], ["0085261234567"]],  # "00" and the country code, one a request
        request_id_of_its_own=True,
    )
    correlation_field = "reqId"
    claim_order = 1  # after ronglian_voice.py, which claims its own path

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = RonglianCredentials()
        self.req_ids: set[tuple[str, str, str]] = set()  # (account, Beijing day, reqId)

    def reset(self) -> None:
        self.req_ids.clear()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return path.startswith("/2013-12-26/Accounts/")

    @staticmethod
    def reply(payload: dict[str, Any], label: str, status: int = 200) -> Reply:
        return Reply(status, json_bytes(payload), "application/json;charset=utf-8", label)

    @classmethod
    def _refuse(cls, pair: tuple[str, str]) -> Refusal:
        code, message = pair
        return Refusal(
            f"{code}: {message}",
            cls.reply({"statusCode": code, "statusMsg": message}, f"refused:{code}"),
        )

    def parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        self._authenticate(method, path, query, headers)
        data = self._body(body)
        to = str(data.get("to") or "")
        phones = to.split(",") if to else []
        template = "" if data.get("templateId") is None else str(data.get("templateId"))
        rec = Received("ronglian", phones, template, list(data.get("datas") or []), "", data)
        return rec, _pending(phones, template) or self._req_id_used(path, data), {}

    def _req_id_used(self, path: str, data: dict[str, Any]) -> tuple[str, str] | None:
        """160054 for a ``reqId`` this account used before on the same (Beijing) day; the first use takes it."""
        req_id = str(data.get("reqId") or "")
        if not req_id:
            return None
        day = datetime.now(timezone.utc).astimezone(_BEIJING).strftime("%Y%m%d")
        key = (path.split("/")[3], day, req_id)
        with self.fake._lock:
            used = key in self.req_ids
            self.req_ids.add(key)
        return _RL_REQ_ID_USED if used else None

    def _authenticate(self, method: str, path: str, query: str, headers: Message) -> None:
        """The endpoint, then Ronglian's checks in its order: the Authorization header, its account, the sig."""
        refuse = self._refuse
        segments = path.split("/")  # ['', '2013-12-26', 'Accounts', sid, 'SMS', 'TemplateSMS']
        if len(segments) != 6 or segments[4:] != ["SMS", "TemplateSMS"] or method != "POST":
            raise Refusal(
                "404: unknown Ronglian endpoint " + path,
                self.reply({"statusCode": "404", "statusMsg": "not found"}, "refused:404", status=404),
            )
        path_sid = segments[3]
        read = ronglian_authorization(headers.get("Authorization") or "")
        if isinstance(read, AuthRefusal):
            raise refuse(read.pair)
        header_sid, timestamp = read
        if header_sid != path_sid:
            raise refuse(_RL_SID_MISMATCH)
        sig = parse_form(query).get("sig", "")
        if not sig:
            raise refuse(_RL_SIG_EMPTY)
        if path_sid != self.credentials.sid:
            raise refuse(_RL_NO_ACCOUNT)
        expected = ronglian_sig(path_sid, self.credentials.token, timestamp)
        if not hmac.compare_digest(sig.encode("utf-8"), expected.encode("ascii")):
            raise refuse(_RL_SIG_BAD)

    def _body(self, body: bytes) -> dict[str, Any]:
        """The JSON body, refused as Ronglian does: empty, not an object, no or an unknown appId, bad ``datas``."""
        refuse = self._refuse
        if not body.strip():
            raise refuse(_RL_EMPTY_BODY)
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise refuse(_RL_BAD_BODY) from None
        if not isinstance(data, dict):
            raise refuse(_RL_BAD_BODY)
        app_id = str(data.get("appId") or "")
        if not app_id:
            raise refuse(_RL_NO_APPID)
        if app_id != self.credentials.app_id:
            raise refuse(_RL_APP_UNKNOWN)
        datas = data.get("datas")
        if datas is not None and not isinstance(datas, list):
            raise refuse(_RL_BAD_BODY)
        return data

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self.reply({"statusCode": code, "statusMsg": message}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("ronglian", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self.reply({"statusCode": code, "statusMsg": message}, f"rejected_number:{code}")
        return self.reply(
            {
                "statusCode": "000000",
                "templateSMS": {"smsMessageSid": secrets.token_hex(16), "dateCreated": time.strftime("%Y%m%d%H%M%S")},
            },
            "ok",
        )

    # -- delivery receipts (SMSArrived: one report per push, JSON or XML) ---------------------------------
    push_tries = 3  # unpublished

    @staticmethod
    def receipt_wire(e164: str) -> str:
        """The number as TemplateSMS wrote it: mainland bare, abroad ``00`` and the country code."""
        return e164.removeprefix("+86") if e164.startswith("+86") else "00" + e164.removeprefix("+")

    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, smsMessageSid, reqId): one sid for the whole request."""
        sid, req_id = str(body["templateSMS"]["smsMessageSid"]), str(rec.raw.get("reqId") or "")
        return [(_e164(phone), sid, req_id) for phone in rec.phones]

    def receipt_pushes(self, entries: list[Any]) -> list[tuple[bytes, str, dict[str, str]]]:
        return [(json.dumps(self.report_item(entry)).encode(), "application/json", {}) for entry in entries]

    @staticmethod
    def report_item(entry: Any) -> dict[str, Any]:
        return {
            "Request": {
                "action": "SMSArrived",
                "smsType": "1",
                "apiVersion": "2013-12-26",
                "content": entry.message_id,
                "fromNum": entry.wire,
                "dateSent": entry.sent_at.strftime("%Y%m%d%H%M%S"),
                "deliverCode": entry.code,
                "recvTime": entry.reported_at.strftime("%Y%m%d%H%M%S"),
                "status": "0" if entry.delivered else "1",
                "reqId": entry.out_id,
                "smsCount": "1",
            }
        }

    @staticmethod
    def ronglian_xml(item: dict[str, Any]) -> bytes:
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in item["Request"].items())
        return f'<?xml version="1.0" encoding="UTF-8"?><Request>{fields}</Request>'.encode()


def _e164(wire: str) -> str:
    if wire.startswith("+"):
        return wire
    if wire.startswith("00"):
        return "+" + wire[2:]
    return "+86" + wire
