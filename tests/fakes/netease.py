"""NetEase Yunxin ``POST /sms/sendtemplate.action`` for the fake vendor.

Auth is four headers (短信接入示例, doc.yunxin.163.com): ``AppKey``, ``Nonce``
(at most 128 characters), ``CurTime`` (epoch seconds, valid five minutes)
and ``CheckSum`` = lower-case hex SHA-1 of AppSecret + Nonce + CurTime,
computed here by :func:`checksum`, not by the provider's helper. NetEase
publishes no worked value: the test pins :func:`checksum` to ``openssl dgst
-sha1``. A nonce is accepted once (a replayed request is refused).

Form fields: ``templateid``, ``mobiles`` (JSON array, at most 100; mainland 11
digits, elsewhere ``+cc-number``), ``params`` (JSON array). Every reply is
HTTP 200 ``{"code": ..., "msg": ..., "obj": ...}``; 200 is success.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any, Callable
from urllib.parse import parse_qsl

from fake_vendor import Answered, Received, Refusal, Reply, SendFacts, VendorFake, register_fake

MAX_NUMBERS = 100  # sendtemplate: "mobiles" at most 100
PATH = "/sms/sendtemplate.action"
QUERY = "/sms/querystatus.action"  # answered by tests/fake_receipts.py when installed


@dataclass
class NeteaseCredentials:
    app_key: str = "netease-test-app-key-0001"
    app_secret: str = "netease-test-secret-XYZ"


def checksum(app_secret: str, nonce: str, cur_time: str) -> str:
    return hashlib.sha1((app_secret + nonce + cur_time).encode("utf-8")).hexdigest()


@register_fake
class NeteaseFake(VendorFake):
    name = "netease"
    business_error = ("418", "通道不可用")
    send_facts = SendFacts(
        params_on_wire=["483920", "5"],
        max_numbers=MAX_NUMBERS,
        auth_errors=("414",),
        rejected_code="416",
        secret_key="SMS_NETEASE_APP_SECRET",
        international=[["+1-6502530000", "+852-61234567"]],
    )
    push_tries = 3  # receipt pushes tried in all: unpublished

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = NeteaseCredentials()
        self.nonces: set[str] = set()

    def reset(self) -> None:
        self.nonces.clear()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return path.startswith("/sms/") and path.endswith(".action")

    @staticmethod
    def _reply(payload: dict[str, Any], label: str) -> Reply:
        return Reply(
            200, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8", label
        )

    def _refuse(self, code: int, msg: str) -> Refusal:
        return Refusal(f"{code}: {msg}", self._reply({"code": code, "desc": msg}, f"refused:{code}"))

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        self._authenticate(headers)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        query = self.fake.actions.get("netease:querystatus")
        if (method, path) == ("POST", QUERY) and query is not None:
            raise Answered(query(form))
        if (method, path) != ("POST", PATH):
            raise self._refuse(404, "对象不存在")
        try:
            phones, params = json.loads(form.get("mobiles", "")), json.loads(form.get("params", "[]"))
        except ValueError:
            raise self._refuse(414, "参数错误") from None
        pending: tuple[str, str] | None = None
        if not isinstance(phones, list) or not phones or not form.get("templateid", "").isdigit():
            phones, pending = phones if isinstance(phones, list) else [], ("414", "参数错误")
        elif len(phones) > MAX_NUMBERS:
            pending = ("419", "数量超过上限")
        elif not all(isinstance(p, str) and re.fullmatch(r"1\d{10}|\+[1-9]\d{0,3}-\d{4,14}", p) for p in phones):
            pending = ("414", "参数错误: mobiles")
        rec = Received("netease", [str(p) for p in phones], form.get("templateid", ""), params, "", form)
        return rec, pending, {}

    def _authenticate(self, headers: Message) -> None:
        """The four auth headers: present, the AppKey, the CheckSum, a CurTime within five minutes, a fresh Nonce."""
        app_key, nonce = headers.get("AppKey") or "", headers.get("Nonce") or ""
        cur_time, given = headers.get("CurTime") or "", headers.get("CheckSum") or ""
        if not (app_key and nonce and cur_time and given) or len(nonce) > 128 or not cur_time.isdigit():
            raise self._refuse(414, "bad http header")
        if app_key != self.credentials.app_key:
            raise self._refuse(403, "非法操作或没有权限")
        if not hmac.compare_digest(given.encode(), checksum(self.credentials.app_secret, nonce, cur_time).encode()):
            raise self._refuse(414, "checksum")
        if abs(time.time() - int(cur_time)) > 300:
            raise self._refuse(414, "curtime expired")
        with self.fake._lock:
            replayed = nonce in self.nonces
            self.nonces.add(nonce)
        if replayed:
            raise self._refuse(414, "nonce used")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self._reply({"code": int(code), "msg": message}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("netease", rec.phones)
        if hits:  # one code for the whole request
            code, message = next(iter(hits.values()))
            return self._reply({"code": int(code), "msg": message}, f"rejected_number:{code}")
        return self._reply({"code": 200, "msg": "sendid", "obj": 10**8 + secrets.randbelow(9 * 10**8)}, "ok")

    # -- delivery receipts (the 抄送 copy of status reports, signed MD5/CurTime/CheckSum) ---------------
    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, sendid, ""): one sendid for the request, no correlation field."""
        return [(_e164(phone), str(body["obj"]), "") for phone in rec.phones]

    @staticmethod
    def report_item(entry: Any) -> dict[str, Any]:
        return {
            "sendid": int(entry.message_id),
            "mobile": entry.e164.removeprefix("+86"),
            "status": 1 if entry.delivered else 2,
            "updatetime": int(entry.reported_at.timestamp() * 1000),
        }

    def receipt_pushes(self, entries: list[Any]) -> list[tuple[bytes, str, dict[str, str]]]:
        pushes = []
        for i in range(0, len(entries), 100):
            body = json.dumps([self.report_item(entry) for entry in entries[i : i + 100]]).encode()
            digest, now = hashlib.md5(body).hexdigest(), str(int(time.time()))
            signed = hashlib.sha1(f"{self.credentials.app_secret}{digest}{now}".encode()).hexdigest()
            headers = {"AppKey": self.credentials.app_key, "CurTime": now, "MD5": digest, "CheckSum": signed}
            pushes.append((body, "application/json;charset=utf-8", headers))
        return pushes

    def receipt_queries(self, receipts: Any) -> dict[str, Callable[[dict[str, Any]], Reply]]:
        return {"netease:querystatus": lambda form: self._netease_status(receipts, form)}

    def _netease_status(self, receipts: Any, form: dict[str, str]) -> Reply:
        """querystatus.action: every number of one sendid, with its status."""
        receipts.queries.append(("netease:querystatus", dict(form)))
        with receipts.lock:
            found = [e for e in receipts.sent if e.vendor == "netease" and e.message_id == form.get("sendid")]
        items = [
            {
                "status": 1 if e.delivered else 2,
                "mobile": e.e164.removeprefix("+86"),
                "updatetime": int(e.reported_at.timestamp() * 1000),
            }
            for e in found
        ]
        return Reply(200, json.dumps({"code": 200, "obj": items}).encode(), "application/json", "query")


def _e164(phone: str) -> str:
    """``138...`` or NetEase's ``+852-6123...``."""
    return phone.replace("-", "") if phone.startswith("+") else "+86" + phone
