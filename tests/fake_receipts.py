"""Delivery receipts for the loopback fake vendor: query APIs and a pusher.

Plugs into :class:`fake_vendor.FakeVendor` (its ``actions`` and ``reply_hooks``):

* every accepted send is remembered with the id the fake answered (Aliyun ``BizId``,
  Tencent ``SerialNo``, Ronglian ``smsMessageSid``) and the correlation id the request
  carried (``OutId`` / ``SessionContext`` / ``reqId``, when the provider sends one);
* each text "arrives" the moment it was sent (a report is never in the future), unless
  :meth:`fail` said otherwise;
* Aliyun ``QuerySendDetails`` and Tencent ``PullSmsSendStatus`` /
  ``PullSmsSendStatusByPhoneNumber`` answer from that record, after the fake's own
  signature checks (the SDKs sign these calls as they sign ``SendSms``);
* Yunpian ``get_record.json`` and NetEase ``querystatus.action`` answer the same way
  (their fakes in ``tests/fakes/`` check the credentials first);
* :meth:`push` posts the reports to an app's receipt route in each vendor's push
  format over real HTTP, retrying after a non-200 answer as the vendor does. The six
  newer vendors' formats are built by their fakes (``receipt_pushes``); Baidu's and
  NetEase's pushes carry their signatures.

Written from the vendors' docs (see docs/vendors/<vendor>.md, "Receipts"), not from flask_sms.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from fake_vendor import FakeVendor, Received, _Reply

BEIJING = timezone(timedelta(hours=8))
#: how often each vendor tries a push in all: Aliyun retries 3 times, Tencent twice, Baidu 3 times at once
#: (then hourly), Yunpian 3 times; Qiniu within 10 minutes, the others unpublished (3 here)
PUSH_TRIES = {
    "aliyun": 4,
    "tencent": 3,
    "ronglian": 3,
    "huawei": 3,
    "volcengine": 3,
    "baidu": 4,
    "qiniu": 3,
    "yunpian": 4,
    "netease": 3,
}
#: the vendors whose fakes in tests/fakes/ build their own pushes
PLUGGED = ("huawei", "volcengine", "baidu", "qiniu", "yunpian", "netease")


@dataclass
class Sent:
    vendor: str
    wire: str  # the number as the request wrote it
    e164: str
    message_id: str
    out_id: str
    sent_at: datetime
    delivered: bool = True
    code: str = "DELIVRD"
    description: str = "用户短信送达成功"
    pulled: bool = False  # Tencent's PullSmsSendStatus returns each report once

    @property
    def reported_at(self) -> datetime:
        return self.sent_at


@dataclass
class Push:
    vendor: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)


def to_e164(wire: str) -> str:
    if wire.startswith("+"):
        return wire
    if wire.startswith("00"):
        return "+" + wire[2:]
    return "+86" + wire if len(wire) == 11 else "+" + wire


class FakeReceipts:
    def __init__(self, fake: FakeVendor) -> None:
        self.fake = fake
        self.sent: list[Sent] = []
        self.pushes: list[Push] = []
        self.queries: list[tuple[str, dict[str, Any]]] = []
        self.fates: dict[str, tuple[bool, str, str]] = {}  # E.164 -> (delivered, code, description)
        self._lock = threading.Lock()

    # -- plug in / out ------------------------------------------------------------------------
    def install(self) -> FakeReceipts:
        self.fake.actions["aliyun:QuerySendDetails"] = self._query_send_details
        self.fake.actions["tencent:PullSmsSendStatus"] = self._pull_queue
        self.fake.actions["tencent:PullSmsSendStatusByPhoneNumber"] = self._pull_by_phone
        self.fake.actions["yunpian:get_record"] = self._yunpian_record
        self.fake.actions["netease:querystatus"] = self._netease_status
        self.fake.reply_hooks.append(self._note_send)
        return self

    def uninstall(self) -> None:
        for action in (
            "aliyun:QuerySendDetails",
            "tencent:PullSmsSendStatus",
            "tencent:PullSmsSendStatusByPhoneNumber",
            "yunpian:get_record",
            "netease:querystatus",
        ):
            self.fake.actions.pop(action, None)
        if self._note_send in self.fake.reply_hooks:
            self.fake.reply_hooks.remove(self._note_send)

    # -- what happens to each text ------------------------------------------------------------
    def fail(self, phone: str, code: str = "UNDELIV", description: str = "用户短信接收失败") -> None:
        """Texts to ``phone`` (E.164) from now on fail with the carrier's ``code``."""
        self.fates[phone] = (False, code, description)

    def add(self, vendor: str, phone: str, message_id: str, out_id: str = "", sent_at: datetime | None = None) -> Sent:
        """Record a text as if it had been sent (for histories longer than a test sends)."""
        wire = phone if vendor in ("tencent", "huawei", "volcengine") else phone.removeprefix("+86")
        entry = Sent(vendor, wire, phone, message_id, out_id, sent_at or datetime.now(BEIJING))
        self._apply_fate(entry)
        with self._lock:
            self.sent.append(entry)
        return entry

    def _apply_fate(self, entry: Sent) -> None:
        fate = self.fates.get(entry.e164)
        if fate is not None:
            entry.delivered, entry.code, entry.description = fate

    def _note_send(self, rec: Received, reply: _Reply) -> None:
        if not (reply.label == "ok" or reply.label.startswith("partial:")):
            return
        body = json.loads(reply.body)
        now = datetime.now(BEIJING)
        entries: list[Sent] = []
        if rec.vendor == "aliyun":
            out_id = str(rec.raw.get("OutId") or "")
            entries = [Sent("aliyun", p, to_e164(p), body["BizId"], out_id, now) for p in rec.phones]
        elif rec.vendor == "tencent":
            for status in body["Response"]["SendStatusSet"]:
                if status["Code"] == "Ok":
                    phone = status["PhoneNumber"]
                    entries.append(
                        Sent("tencent", phone, phone, status["SerialNo"], status.get("SessionContext") or "", now)
                    )
        elif rec.vendor == "ronglian":
            sid = body["templateSMS"]["smsMessageSid"]
            out_id = str(rec.raw.get("reqId") or "")
            entries = [Sent("ronglian", p, to_e164(p), sid, out_id, now) for p in rec.phones]
        elif rec.vendor in PLUGGED:
            texts = self.fake.plugin(rec.vendor).sent_texts(rec, body)
            entries = [Sent(rec.vendor, phone, phone, message_id, out_id, now) for phone, message_id, out_id in texts]
        for entry in entries:
            self._apply_fate(entry)
        with self._lock:
            self.sent.extend(entries)

    # -- push formats ---------------------------------------------------------------------------
    def items(self, vendor: str, entries: list[Sent] | None = None) -> list[dict[str, Any]]:
        """The vendor's push items for ``entries`` (default: every text sent through ``vendor``)."""
        chosen = [e for e in self.sent if e.vendor == vendor] if entries is None else entries
        return [getattr(self, f"_{vendor}_item")(entry) for entry in chosen]

    @staticmethod
    def _aliyun_item(entry: Sent) -> dict[str, Any]:
        return {
            "phone_number": entry.wire,
            "send_time": entry.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
            "report_time": entry.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
            "success": entry.delivered,
            "err_code": "DELIVERED" if entry.delivered else entry.code,
            "err_msg": "用户接收成功" if entry.delivered else entry.description,
            "sms_size": "1",
            "biz_id": entry.message_id,
            "out_id": entry.out_id,
        }

    @staticmethod
    def _tencent_item(entry: Sent) -> dict[str, Any]:
        item = {
            "user_receive_time": entry.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
            "nationcode": "86",
            "mobile": entry.e164.removeprefix("+86"),
            "report_status": "SUCCESS" if entry.delivered else "FAIL",
            "errmsg": entry.code,
            "description": entry.description,
            "sid": entry.message_id,
        }
        if entry.out_id:
            item["ext"] = entry.out_id
        return item

    @staticmethod
    def _ronglian_item(entry: Sent) -> dict[str, Any]:
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

    # -- the pusher -----------------------------------------------------------------------------
    def push(
        self,
        vendor: str,
        url: str,
        body: bytes | list[Any] | dict[str, Any],
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Push:
        """POST one push like the vendor: retried after a non-200 answer (no waiting between tries here)."""
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        record = Push(vendor, raw, dict(headers or {}))
        for _ in range(PUSH_TRIES[vendor]):
            sent = {"Content-Type": content_type, **record.headers}
            answer = requests.post(url, data=raw, headers=sent, timeout=10)
            record.statuses.append(answer.status_code)
            record.answers.append(answer.content)
            if answer.status_code == 200:
                break
        self.pushes.append(record)
        return record

    def requests_for(
        self, vendor: str, entries: list[Sent] | None = None, **options: Any
    ) -> list[tuple[bytes, str, dict]]:
        """The requests (body, content type, headers) a plugged-in vendor pushes for ``entries``."""
        chosen = [e for e in self.sent if e.vendor == vendor] if entries is None else entries
        requests_: list[tuple[bytes, str, dict]] = self.fake.plugin(vendor).receipt_pushes(chosen, **options)
        return requests_

    def push_all(self, vendor: str, url: str, batch: int = 100, **options: Any) -> list[Push]:
        """Every text sent through ``vendor``, in batches (Ronglian pushes one report per request; the
        newer vendors as their fakes build them, ``options`` passed on: Huawei ``json_batches=True``)."""
        if vendor in PLUGGED:
            return [
                self.push(vendor, url, body, content_type=content_type, headers=headers)
                for body, content_type, headers in self.requests_for(vendor, **options)
            ]
        items = self.items(vendor)
        if vendor == "ronglian":
            return [self.push(vendor, url, item) for item in items]
        return [self.push(vendor, url, items[i : i + batch]) for i in range(0, len(items), batch)]

    # -- query APIs -----------------------------------------------------------------------------
    def _query_send_details(self, params: dict[str, Any]) -> _Reply:
        self.queries.append(("aliyun:QuerySendDetails", dict(params)))

        def error(code: str, message: str) -> _Reply:
            return FakeVendor._aliyun_reply(200, {"Code": code, "Message": message}, f"query_error:{code}")

        phone, day = params.get("PhoneNumber") or "", params.get("SendDate") or ""
        if not phone:
            return error("MissingPhoneNumber", "PhoneNumber is mandatory for this action.")
        try:
            sent_day = datetime.strptime(day, "%Y%m%d").date()
            size, page = int(params.get("PageSize") or 0), int(params.get("CurrentPage") or 0)
        except ValueError:
            return error("isv.InvalidParameter", "SendDate, PageSize or CurrentPage is not valid.")
        today = datetime.now(BEIJING).date()
        if not 1 <= size <= 50 or page < 1 or not today - timedelta(days=29) <= sent_day <= today:
            return error("isv.InvalidParameter", "SendDate, PageSize or CurrentPage is out of range.")
        biz_id = params.get("BizId") or ""
        with self._lock:
            found = [
                e
                for e in self.sent
                if e.vendor == "aliyun"
                and e.wire == phone
                and e.sent_at.date() == sent_day
                and (not biz_id or e.message_id == biz_id)
            ]
        window = found[(page - 1) * size : page * size]
        dtos = [
            {
                "PhoneNum": e.wire,
                "SendStatus": 3 if e.delivered else 2,
                "ErrCode": "DELIVERED" if e.delivered else e.code,
                "TemplateCode": "SMS_1",
                "Content": "【测试】验证码",
                "SendDate": e.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
                "ReceiveDate": e.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
                "OutId": e.out_id,
            }
            for e in window
        ]
        payload = {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
        }
        return FakeVendor._aliyun_reply(200, payload, "query")

    @staticmethod
    def _tencent_item_pulled(entry: Sent) -> dict[str, Any]:
        return {
            "UserReceiveTime": int(entry.reported_at.timestamp()),
            "CountryCode": "86",
            "SubscriberNumber": entry.e164.removeprefix("+86"),
            "PhoneNumber": entry.e164,
            "SerialNo": entry.message_id,
            "ReportStatus": "SUCCESS" if entry.delivered else "FAIL",
            "Description": entry.code,
            "SessionContext": entry.out_id,
        }

    def _tencent_refusal(self, request: dict[str, Any]) -> _Reply | None:
        limit = request.get("Limit")
        if str(request.get("SmsSdkAppId") or "") != self.fake.credentials.tencent_app_id:
            error = {"Code": "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "Message": "SmsSdkAppId verify failed."}
        elif not isinstance(limit, int) or not 1 <= limit <= 100:
            error = {"Code": "InvalidParameterValue", "Message": "Limit must be 1-100."}
        else:
            return None
        return FakeVendor._tencent_reply({"Error": error}, "query_error")

    def _pull_queue(self, request: dict[str, Any]) -> _Reply:
        self.queries.append(("tencent:PullSmsSendStatus", dict(request)))
        refusal = self._tencent_refusal(request)
        if refusal is not None:
            return refusal
        with self._lock:
            waiting = [e for e in self.sent if e.vendor == "tencent" and not e.pulled][: request["Limit"]]
            for entry in waiting:
                entry.pulled = True
        items = [self._tencent_item_pulled(e) for e in waiting]
        return FakeVendor._tencent_reply({"PullSmsSendStatusSet": items}, "query")

    def _pull_by_phone(self, request: dict[str, Any]) -> _Reply:
        self.queries.append(("tencent:PullSmsSendStatusByPhoneNumber", dict(request)))
        refusal = self._tencent_refusal(request)
        if refusal is not None:
            return refusal
        begin, end = request.get("BeginTime"), request.get("EndTime")
        if not isinstance(begin, int) or not isinstance(end, int) or request.get("Offset") != 0:
            error = {"Code": "InvalidParameterValue", "Message": "BeginTime, EndTime and Offset (0) are required."}
            return FakeVendor._tencent_reply({"Error": error}, "query_error")
        with self._lock:
            found = [
                e
                for e in self.sent
                if e.vendor == "tencent"
                and e.e164 == request.get("PhoneNumber")
                and begin <= int(e.reported_at.timestamp()) <= end
            ]
        found.sort(key=lambda e: e.reported_at)
        items = [self._tencent_item_pulled(e) for e in found[: request["Limit"]]]
        return FakeVendor._tencent_reply({"PullSmsSendStatusSet": items}, "query")

    # -- the newer vendors' queries -----------------------------------------------------------------
    def _yunpian_record(self, form: dict[str, str]) -> _Reply:
        """get_record.json: one number's texts sent between start_time and end_time (Beijing), a page at a time."""
        self.queries.append(("yunpian:get_record", dict(form)))
        try:
            start = datetime.strptime(form["start_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
            end = datetime.strptime(form["end_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
            size, page = int(form.get("page_size") or 20), int(form.get("page_num") or 1)
        except (KeyError, ValueError):
            body = {"http_status_code": 400, "code": 2, "msg": "请求参数格式错误", "detail": "start_time/end_time"}
            return _Reply(400, json.dumps(body, ensure_ascii=False).encode(), "application/json", "query_error")
        plugin = self.fake.plugin("yunpian")
        with self._lock:
            found = [
                e
                for e in self.sent
                if e.vendor == "yunpian"
                and e.e164.removeprefix("+86") == form.get("mobile")
                and start <= e.sent_at <= end
            ]
        records = []
        for entry in found[(page - 1) * min(size, 100) : page * min(size, 100)]:
            item = plugin.report_item(entry)
            item.update(send_time=entry.sent_at.strftime("%Y-%m-%d %H:%M:%S"), send_status="SUCCESS", fee=1)
            records.append(item)
        return _Reply(200, json.dumps(records, ensure_ascii=False).encode(), "application/json", "query")

    def _netease_status(self, form: dict[str, str]) -> _Reply:
        """querystatus.action: every number of one sendid, with its status."""
        self.queries.append(("netease:querystatus", dict(form)))
        with self._lock:
            found = [e for e in self.sent if e.vendor == "netease" and e.message_id == form.get("sendid")]
        items = [
            {
                "status": 1 if e.delivered else 2,
                "mobile": e.e164.removeprefix("+86"),
                "updatetime": int(e.reported_at.timestamp() * 1000),
            }
            for e in found
        ]
        return _Reply(200, json.dumps({"code": 200, "obj": items}).encode(), "application/json", "query")
