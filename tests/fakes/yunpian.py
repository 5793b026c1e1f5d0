"""Yunpian API v2 ``POST /v2/sms/single_send.json`` and ``batch_send.json`` for the fake vendor.

There is no request signature: the ``apikey`` form field is the credential
(code -1 "非法的apikey" otherwise). ``single_send`` takes one number;
``batch_send`` up to 1000 mainland numbers; an international number
(``+`` and country code) only through ``single_send``, one per call.
Errors come with HTTP 400 as ``{"http_status_code", "code", "msg", "detail"}``;
a batch answers HTTP 200 with one item per number (codes from the official
table, returnvalue_common). A number abroad whose text matches none of
:data:`INTL_TEMPLATES` (the account's international templates) answers 23
"发往模板支持的国家列表之外的地区".
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

from fake_vendor import Answered, Received, Refusal, Reply, SendFacts, VendorFake, register_fake

BEIJING = timezone(timedelta(hours=8))

MAX_NUMBERS = 1000  # batch_send: "一次不要超过1000个"
#: the account's approved international templates (tests/vendor_config.py configures them)
INTL_TEMPLATES = (
    "【Yunpian】Your verification code is {code}, valid for {minutes} minutes.",
    "【Yunpian】Hello {name}",
)
_INTL_TEXTS = [
    re.compile(".+?".join(re.escape(part) for part in re.split(r"\{\w+\}", template)) + r"\Z", re.DOTALL)
    for template in INTL_TEMPLATES
]
SINGLE, BATCH = "/v2/sms/single_send.json", "/v2/sms/batch_send.json"
RECORD = "/v2/sms/get_record.json"  # answered by tests/fake_receipts.py when installed


@dataclass
class YunpianCredentials:
    api_key: str = "yp0123456789abcdef0123456789abcd"


def _pending(path: str, phones: list[str], text: str) -> tuple[str, str] | None:
    """The error an authenticated send still earns: a missing field, the numbers, a mainland text abroad."""
    if not phones or not text:
        return ("1", "请求参数缺失")
    if path == SINGLE and len(phones) != 1:
        return ("2", "请求参数格式错误: 参数 mobile 格式不正确")
    if len(phones) > MAX_NUMBERS:
        return ("2", "请求参数格式错误: 一次不要超过1000个手机号")
    if any(p.startswith("+") for p in phones) and path != SINGLE:
        return ("2", "请求参数格式错误: 国际短信接口每次调用只能发送一条短信")
    if not all(re.fullmatch(r"1\d{10}|\+[1-9]\d{6,14}", p) for p in phones):
        return ("2", "请求参数格式错误: 参数 mobile 格式不正确")
    if phones[0].startswith("+") and not any(template.match(text) for template in _INTL_TEXTS):
        return ("23", "发往模板支持的国家列表之外的地区")
    return None


def _error(code: int, msg: str, detail: str = "") -> dict[str, Any]:
    return {"http_status_code": 400, "code": code, "msg": msg, "detail": detail or msg}


@register_fake
class YunpianFake(VendorFake):
    name = "yunpian"
    business_error = ("3", "账户余额不足")
    send_facts = SendFacts(
        params_on_wire="【云片测试】您的验证码是483920，5分钟内有效。",
        max_numbers=MAX_NUMBERS,
        auth_errors=("-1",),
        rejected_code="17",
        secret_key="SMS_YUNPIAN_API_KEY",
        international=[["+16502530000"], ["+85261234567"]],  # "国际短信接口每次调用只能发送一条短信"
    )
    push_tries = 4  # receipt pushes tried in all: the first try and 3 retries

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = YunpianCredentials()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return path.startswith("/v2/sms/")

    @staticmethod
    def _reply(status: int, payload: dict[str, Any], label: str) -> Reply:
        return Reply(
            status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json;charset=utf-8", label
        )

    def _refuse(self, code: int, msg: str, detail: str = "") -> Refusal:
        return Refusal(f"{code}: {msg}", self._reply(400, _error(code, msg, detail), f"refused:{code}"))

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        form = self._form(method, path, headers, body)
        phones = [p for p in form.get("mobile", "").split(",") if p]
        rec = Received("yunpian", phones, "", form.get("text", ""), "", form)
        return rec, _pending(path, phones, form.get("text", "")), {"single": path == SINGLE}

    def _form(self, method: str, path: str, headers: Message, body: bytes) -> dict[str, str]:
        """The form of a POST to a known path with the right apikey (a get_record query is answered here)."""
        if method != "POST":
            raise self._refuse(11, "接口不支持GET方式调用")
        record = self.fake.actions.get("yunpian:get_record")
        if path not in (SINGLE, BATCH) and not (path == RECORD and record is not None):
            raise Refusal("404", Reply(404, b"Not Found", "text/plain", "refused:404"))
        if "application/x-www-form-urlencoded" not in (headers.get("Content-Type") or ""):
            raise self._refuse(14, "解码失败")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("apikey") != self.credentials.api_key:
            raise self._refuse(-1, "非法的apikey", "请检查的apikey是否正确")
        if path == RECORD and record is not None:
            raise Answered(record(form))
        return form

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        msg, _, detail = message.partition(": ")
        return self._reply(400, _error(int(code), msg, detail), label)

    @staticmethod
    def _item(phone: str, code: int, msg: str) -> dict[str, Any]:
        item: dict[str, Any] = {"code": code, "msg": msg, "count": 0, "fee": 0.0, "unit": "RMB", "mobile": phone}
        if code == 0:
            item.update(count=1, fee=0.05, sid=10**15 + secrets.randbelow(10**15))  # a 64-bit id
        return item

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("yunpian", rec.phones)
        if ctx["single"]:
            (phone,) = rec.phones
            if phone in hits:
                code, message = hits[phone]
                return self._reply(400, _error(int(code), message), f"rejected_number:{code}")
            return self._reply(200, self._item(phone, 0, "发送成功"), "ok")
        items = [
            self._item(p, int(hits[p][0]), hits[p][1]) if p in hits else self._item(p, 0, "发送成功")
            for p in rec.phones
        ]
        total = sum(item["fee"] for item in items)
        label = "partial:" + ",".join(sorted({c for c, _ in hits.values()})) if hits else "ok"
        return self._reply(
            200, {"total_count": len(items), "total_fee": f"{total:.4f}", "unit": "RMB", "data": items}, label
        )

    # -- delivery receipts (domestic_push_report: the form field sms_status, up to 100 reports) ----------
    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, sid, uid) of every number the reply took."""
        uid = str(rec.raw.get("uid") or "")
        items = body.get("data", [body]) if isinstance(body, dict) else []
        taken = [item for item in items if item.get("code") == 0 and "sid" in item]
        return [(_e164(item["mobile"]), str(item["sid"]), uid) for item in taken]

    @staticmethod
    def report_item(entry: Any) -> dict[str, Any]:
        return {
            "error_detail": "接收成功" if entry.delivered else entry.description,
            "sid": int(entry.message_id),
            "uid": entry.out_id or None,
            "user_receive_time": entry.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
            "error_msg": "" if entry.delivered else entry.code,
            "mobile": entry.e164.removeprefix("+86"),  # "所有带+86前缀的号码都会去掉+86"
            "report_status": "SUCCESS" if entry.delivered else "FAIL",
        }

    def receipt_pushes(self, entries: list[Any]) -> list[tuple[bytes, str, dict[str, str]]]:
        items = [self.report_item(entry) for entry in entries]
        return [
            (
                urlencode({"sms_status": json.dumps(items[i : i + 100], ensure_ascii=False)}).encode(),
                "application/x-www-form-urlencoded;charset=utf-8",
                {},
            )
            for i in range(0, len(items), 100)
        ]

    def receipt_queries(self, receipts: Any) -> dict[str, Callable[[dict[str, Any]], Reply]]:
        return {"yunpian:get_record": lambda form: self._yunpian_record(receipts, form)}

    def _yunpian_record(self, receipts: Any, form: dict[str, str]) -> Reply:
        """get_record.json: one number's texts sent between start_time and end_time (Beijing), a page at a time."""
        receipts.queries.append(("yunpian:get_record", dict(form)))
        try:
            start = datetime.strptime(form["start_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
            end = datetime.strptime(form["end_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
            size, page = int(form.get("page_size") or 20), int(form.get("page_num") or 1)
        except (KeyError, ValueError):
            body = {"http_status_code": 400, "code": 2, "msg": "请求参数格式错误", "detail": "start_time/end_time"}
            return Reply(400, json.dumps(body, ensure_ascii=False).encode(), "application/json", "query_error")
        with receipts.lock:
            found = [
                e
                for e in receipts.sent
                if e.vendor == "yunpian"
                and e.e164.removeprefix("+86") == form.get("mobile")
                and start <= e.sent_at <= end
            ]
        records = []
        for entry in found[(page - 1) * min(size, 100) : page * min(size, 100)]:
            item = self.report_item(entry)
            item.update(send_time=entry.sent_at.strftime("%Y-%m-%d %H:%M:%S"), send_status="SUCCESS", fee=1)
            records.append(item)
        return Reply(200, json.dumps(records, ensure_ascii=False).encode(), "application/json", "query")


def _e164(mobile: str) -> str:
    return mobile if mobile.startswith("+") else "+86" + mobile
