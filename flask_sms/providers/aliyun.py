"""Aliyun Dysmsapi (阿里云短信服务) through ``aliyun-python-sdk-core``.

SendSms, API version 2017-05-25: up to 1000 comma-separated numbers, one
``TemplateParam`` JSON object, business errors as ``Code != "OK"`` in HTTP 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from phonenumbers import PhoneNumber

from ..errors import ProviderError, SmsError
from ..options import Option, host, scheme
from ..phones import is_mainland, national_or_international_00
from ..results import DeliveryReport
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import load_json, short, transport_error
from .reports import (
    BadItem,
    ParsedReceipts,
    beijing,
    e164_of,
    json_array,
    string,
    today_in_beijing,
)

_TIME = "%Y-%m-%d %H:%M:%S"
#: QuerySendDetails: the largest page, the oldest day it answers for
_PAGE_SIZE = 50
_QUERY_DAYS = 30
_QUERY_PAGES = 200  # 10,000 reports for one number and day: far past any real use, a stop for a looping reply


class AliyunProvider(Provider[Any, bytes]):
    name = "aliyun"
    extra = "aliyun"
    sdk_module = "aliyunsdkcore.client"
    max_per_request = 1000
    takes_sign = True
    options = (
        Option("ACCESS_KEY_ID", secret=True),
        Option("ACCESS_KEY_SECRET", secret=True),
        Option("SIGN_NAME"),
        Option("TEMPLATES", parse=templates),
        Option("REGION", "cn-hangzhou"),
        Option("ENDPOINT", "dysmsapi.aliyuncs.com", host("dysmsapi.aliyuncs.com")),
        Option("SCHEME", "https", scheme),
    )
    receipt_formats = ("application/json",)
    sdk_loggers = (
        "aliyunsdkcore.client",
        "aliyunsdkcore.http.http_response",
        "aliyunsdkcore.auth.signers.access_key_signer",
        "aliyunsdkcore.vendored.requests.packages.urllib3.connectionpool",
    )

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from aliyunsdkcore.client import AcsClient

        # auto_retry off: a retried SendSms texts the user twice.
        self.client = AcsClient(
            settings["ACCESS_KEY_ID"],
            settings["ACCESS_KEY_SECRET"],
            settings["REGION"],
            auto_retry=False,
            max_retry_time=0,
            timeout=timeout,
            connect_timeout=timeout,
        )

    def format_phone(self, number: PhoneNumber) -> str:
        return national_or_international_00(number)

    def _common_request(self, action: str) -> Any:
        """A Dysmsapi 2017-05-25 RPC call to our endpoint; the parameters are added by the caller."""
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest()
        request.set_domain(self.settings["ENDPOINT"])
        request.set_protocol_type(self.settings["SCHEME"])
        request.set_version("2017-05-25")
        request.set_action_name(action)
        request.set_method("POST")
        request.set_accept_format("json")
        return request

    def build_request(self, phones: Sequence[str], payload: Payload) -> Any:
        request = self._common_request("SendSms")
        request.add_query_param("PhoneNumbers", ",".join(phones))
        request.add_query_param("SignName", self.sign_name(payload))
        request.add_query_param("TemplateCode", payload.template.id)
        if payload.params:
            param = json.dumps(dict(payload.params), ensure_ascii=False, separators=(",", ":"))
            request.add_query_param("TemplateParam", param)
        return request

    def call(self, request: Any) -> bytes:
        from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException

        try:
            reply: bytes = self.client.do_action_with_exception(request)
            return reply
        except ServerException as exc:
            status = exc.get_http_status() or 0
            if status >= 500:
                raise ProviderError(f"http_{status}", short(exc.get_error_msg())) from None
            raise ProviderError(exc.get_error_code(), short(exc.get_error_msg())) from None
        except ClientException as exc:
            raise transport_error(Exception(exc.get_error_msg())) from None

    def parse(self, raw: bytes, phones: Sequence[str]) -> Reply:
        body = load_json(raw, self.name)
        if not isinstance(body, dict) or "Code" not in body:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        if body["Code"] != "OK":
            raise ProviderError(str(body["Code"]), short(body.get("Message", "")))
        biz_id = str(body.get("BizId", ""))
        return Reply(accepted={phone: biz_id for phone in phones}, request_id=str(body.get("RequestId", "")))

    # -- delivery receipts: SmsReport HTTP batch push, QuerySendDetails -----------------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """A JSON array of ``{phone_number, send_time, report_time, success, err_code, err_msg, biz_id, out_id}``."""
        return json_array(body, cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: Any) -> DeliveryReport:
        success = item.get("success") if isinstance(item, dict) else None
        if isinstance(success, str) and success.lower() in ("true", "false"):
            success = success.lower() == "true"
        if not isinstance(success, bool):
            raise BadItem("success is not a boolean")
        return DeliveryReport(
            provider=cls.name,
            phone=e164_of(string(item, "phone_number", limit=32)),
            message_id=string(item, "biz_id"),
            out_id=string(item, "out_id", required=False),
            status="delivered" if success else "failed",
            code=string(item, "err_code", required=False),
            description=string(item, "err_msg", required=False),
            submitted_at=beijing(string(item, "send_time", required=False, limit=32), _TIME),
            delivered_at=beijing(string(item, "report_time", required=False, limit=32), _TIME),
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False).encode(), "application/json"

    def fetch_reports(
        self, *, phone: PhoneNumber | None = None, day: date | None = None, message_id: str | None = None
    ) -> list[DeliveryReport]:
        """QuerySendDetails for one number and one day (Beijing time) within the last 30 days, every page."""
        if phone is None:
            raise SmsError("aliyun's QuerySendDetails needs a phone number: fetch_reports('aliyun', phone=...)")
        today = today_in_beijing()
        day = day or today
        if not today - timedelta(days=_QUERY_DAYS - 1) <= day <= today:
            raise SmsError(f"aliyun's QuerySendDetails answers for the last {_QUERY_DAYS} days only (got {day})")
        wire = (
            national_or_international_00(phone)
            if is_mainland(phone)
            else f"{phone.country_code}{phone.national_number}"
        )
        reports: list[DeliveryReport] = []
        for page in range(1, _QUERY_PAGES + 1):
            body = self._query_page(wire, day, page, message_id)
            entries = (body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            if isinstance(entries, dict):  # a single entry, in older replies
                entries = [entries]
            reports.extend(r for r in (self._queried_report(e, message_id or "") for e in entries) if r is not None)
            total = int(body.get("TotalCount") or 0)
            if not entries or page * _PAGE_SIZE >= total:
                break
        return reports

    def _query_page(self, wire: str, day: date, page: int, message_id: str | None) -> dict[str, Any]:
        request = self._common_request("QuerySendDetails")
        request.add_query_param("PhoneNumber", wire)
        request.add_query_param("SendDate", day.strftime("%Y%m%d"))
        request.add_query_param("PageSize", str(_PAGE_SIZE))
        request.add_query_param("CurrentPage", str(page))
        if message_id:
            request.add_query_param("BizId", message_id)
        try:
            raw = self.call(request)
        except ProviderError as exc:
            raise SmsError(f"aliyun QuerySendDetails failed: {exc.code} {exc.message}".rstrip()) from None
        body = load_json(raw, self.name)
        if not isinstance(body, dict) or body.get("Code") != "OK":
            code = body.get("Code") if isinstance(body, dict) else "bad_reply"
            message = body.get("Message", "") if isinstance(body, dict) else short(body)
            raise SmsError(f"aliyun QuerySendDetails failed: {code} {short(message)}".rstrip())
        return body

    def _queried_report(self, entry: Any, message_id: str) -> DeliveryReport | None:
        """One SmsSendDetailDTO; ``None`` while it waits for its receipt (SendStatus 1) or cannot be read."""
        try:
            status = int(entry.get("SendStatus"))
            if status not in (2, 3):
                return None
            return DeliveryReport(
                provider=self.name,
                phone=e164_of(string(entry, "PhoneNum", limit=32)),
                message_id=message_id,
                out_id=string(entry, "OutId", required=False),
                status="delivered" if status == 3 else "failed",
                code=string(entry, "ErrCode", required=False),
                description="",
                submitted_at=beijing(string(entry, "SendDate", required=False, limit=32), _TIME),
                delivered_at=beijing(string(entry, "ReceiveDate", required=False, limit=32), _TIME),
            )
        except (BadItem, ValueError, TypeError, AttributeError):
            return None
