"""Aliyun Dysmsapi (阿里云短信服务) through ``aliyun-python-sdk-core``.

SendSms, API version 2017-05-25: up to 1000 comma-separated numbers, one
``TemplateParam`` JSON object, business errors as ``Code != "OK"`` in HTTP 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from ..errors import ProviderError, SmsError
from ..options import UNSET, Option, host, scheme
from ..phones import is_mainland
from ..results import DeliveryReport, Outcome
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
from .voice import VoiceProvider, shared

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
    # A mainland template cannot text other numbers (国内短信模板和国际短信模板不可以混用).
    separate_intl_templates = True
    # Dysmsapi's error codes (help.aliyun.com/document_detail/101346, API错误码): final for the
    # number, or a refusal of the template's values; every other code (account, balance, sign,
    # template, throttling) fails over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "isv.MOBILE_NUMBER_ILLEGAL": "rejected",  # 非法手机号
        "isv.BUSINESS_LIMIT_CONTROL": "rejected",  # 业务限流: the per-number cap (1/min, 5/h, 10/day)
        "isv.CUSTOMER_REFUSED": "rejected",  # 用户已退订推广短信
        "isv.BLACK_KEY_CONTROL_LIMIT": "content",  # 黑名单管控: 模板变量中存在黑名单关键字
        "isv.PARAM_NOT_SUPPORT_URL": "content",  # 不支持URL为变量
        "isv.INVALID_JSON_PARAM": "content",  # JSON参数不合法，只接受字符串值
        "isv.PARAM_LENGTH_LIMIT": "content",  # 参数超出长度限制
        "isv.SMS_CONTENT_ILLEGAL": "content",  # 短信内容包含禁止发送内容
        "isv.AMOUNT_NOT_ENOUGH": "failed",  # 账户余额不足
        "isv.OUT_OF_SERVICE": "failed",  # 业务停机
        "isv.DAY_LIMIT_CONTROL": "failed",  # the account's daily cap
        "isv.SMS_TEMPLATE_ILLEGAL": "failed",
        "isv.SMS_SIGNATURE_ILLEGAL": "failed",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": "failed",  # an international template and a mainland number
        "SignatureDoesNotMatch": "failed",
        "InvalidAccessKeyId.NotFound": "failed",
        "Throttling.User": "failed",
    }
    sdk_loggers = (
        "aliyunsdkcore.client",
        "aliyunsdkcore.http.http_response",
        "aliyunsdkcore.auth.signers.access_key_signer",
        "aliyunsdkcore.vendored.requests.packages.urllib3.connectionpool",
    )

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from aliyunsdkcore.client import AcsClient

        # auto_retry off: a retried SendSms texts the user twice. proxy: always a full mapping, None
        # for direct: given none, the SDK reads HTTP(S)_PROXY itself and ignores NO_PROXY.
        self.client = AcsClient(
            settings["ACCESS_KEY_ID"],
            settings["ACCESS_KEY_SECRET"],
            settings["REGION"],
            auto_retry=False,
            max_retry_time=0,
            timeout=timeout,
            connect_timeout=timeout,
            proxy=self.proxies_for(f"{settings['SCHEME']}://{settings['ENDPOINT']}/"),
        )

    def format_phone(self, number: PhoneNumber) -> str:
        """Mainland: the 11 digits; elsewhere country code + number, no ``00`` or ``+`` (852000012****)."""
        return _wire(number)

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
        if payload.out_id:
            request.add_query_param("OutId", payload.out_id)  # echoed as out_id in SmsReport
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
            # SDK.HttpError keeps only the text of the requests error ("Max retries exceeded ..."
            # when it never connected): the text decides failed or unknown
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
        day = _query_day(day)
        wire = _wire(phone)
        reports: list[DeliveryReport] = []
        for page in range(1, _QUERY_PAGES + 1):
            body = self._query_page(wire, day, page, message_id)
            entries = _detail_entries(body)
            reports.extend(self._queried_reports(entries, message_id or ""))
            total = int(body.get("TotalCount") or 0)
            if not entries or page * _PAGE_SIZE >= total:
                break
        return reports

    def _queried_reports(self, entries: list[Any], message_id: str) -> list[DeliveryReport]:
        """The page's entries that carry a final status (the others wait for their receipt or cannot be read)."""
        return [r for r in (self._queried_report(e, message_id) for e in entries) if r is not None]

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


def _query_day(day: date | None) -> date:
    """The day to query (today by default, Beijing time): QuerySendDetails answers for the last 30 days only."""
    today = today_in_beijing()
    day = day or today
    if not today - timedelta(days=_QUERY_DAYS - 1) <= day <= today:
        raise SmsError(f"aliyun's QuerySendDetails answers for the last {_QUERY_DAYS} days only (got {day})")
    return day


def _detail_entries(body: dict[str, Any]) -> Any:
    """A page's SmsSendDetailDTO entries, as a list (older replies give a single entry as an object)."""
    entries = (body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
    return [entries] if isinstance(entries, dict) else entries


def _wire(number: PhoneNumber) -> str:
    from phonenumbers import national_significant_number

    national = national_significant_number(number)
    return national if is_mainland(number) else f"{number.country_code}{national}"


# -- 语音服务 (Dyvmsapi): voice verification codes ----------------------------------------------------
#: OutId of SingleCallByTts: 1 to 15 bytes (a longer out_id is not sent; the CallId finds it in receipts)
_VOICE_OUT_ID_BYTES = 15


class AliyunVoiceProvider(VoiceProvider[Any, bytes]):
    """Dyvmsapi ``SingleCallByTts`` (API version 2017-05-25), through the same RPC client and signature as SendSms.

    ``TtsCode`` is the purpose's TTS template (``SMS_ALIYUN_VOICE_TEMPLATES``), ``TtsParam`` the
    template's values as JSON. One number per call; the vendor caps a number at 1 call a minute,
    5 an hour and 20 a day. The call's result comes as a VoiceReport push (a JSON array).
    """

    name = "aliyun"
    extra = "aliyun"
    sdk_module = "aliyunsdkcore.client"
    options = (
        Option("TEMPLATES", parse=templates),
        Option("ENDPOINT", "dyvmsapi.aliyuncs.com", host("dyvmsapi.aliyuncs.com")),
        # 被叫显号: only for templates of the dedicated mode (专属模式); the common mode leaves it out
        Option("SHOW_NUMBER", UNSET),
    )
    shared_options = shared(AliyunProvider.options, "ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "REGION", "SCHEME")
    receipt_formats = ("application/json",)
    sdk_loggers = AliyunProvider.sdk_loggers
    # Dyvmsapi answers with the error codes of Aliyun's communication APIs (the SMS table's names):
    # the per-number cap and an invalid number are final for the number; the rest fail over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "isv.MOBILE_NUMBER_ILLEGAL": "rejected",
        "isv.BUSINESS_LIMIT_CONTROL": "rejected",  # 1/min, 5/h, 20/24 h per called number
        "isv.BLACK_KEY_CONTROL_LIMIT": "rejected",
        "isv.AMOUNT_NOT_ENOUGH": "failed",
        "isv.OUT_OF_SERVICE": "failed",
        "isv.PRODUCT_UNSUBSCRIBE": "failed",
        "isv.TTS_TEMPLATE_ILLEGAL": "failed",
        "isv.DISPLAY_NUMBER_ILLEGAL": "failed",
        "SignatureDoesNotMatch": "failed",
        "InvalidAccessKeyId.NotFound": "failed",
        "Throttling.User": "failed",
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        # the RPC client, request shape and error reading of SendSms, pointed at Dyvmsapi's endpoint
        self.rpc = AliyunProvider(settings, timeout)

    def build_request(self, phones: Sequence[str], payload: Payload) -> Any:
        request = self.rpc._common_request("SingleCallByTts")
        request.add_query_param("CalledNumber", phones[0])
        request.add_query_param("TtsCode", payload.template.id)
        if payload.params:
            request.add_query_param("TtsParam", json.dumps(dict(payload.params), separators=(",", ":")))
        show_number = self.settings.get("SHOW_NUMBER")
        if show_number:
            request.add_query_param("CalledShowNumber", show_number)
        if payload.out_id and len(payload.out_id.encode()) <= _VOICE_OUT_ID_BYTES:
            request.add_query_param("OutId", payload.out_id)
        return request

    def parse(self, raw: bytes, phones: Sequence[str]) -> Reply:
        body = load_json(raw, self.name)
        if not isinstance(body, dict) or "Code" not in body:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        if body["Code"] != "OK":
            raise ProviderError(str(body["Code"]), short(body.get("Message", "")))
        call_id = str(body.get("CallId", ""))
        return Reply(accepted={phone: call_id for phone in phones}, request_id=str(body.get("RequestId", "")))

    def call(self, request: Any) -> bytes:
        return self.rpc.call(request)

    # -- call results: the VoiceReport push ---------------------------------------------------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """A JSON array of VoiceReport ``{call_id, start_time, end_time, duration, status_code, status_msg, out_id, callee}``.

        ``start_time`` is when the call was answered, empty when it never was: answered is
        ``delivered``, anything else ``failed``, with the vendor's ``status_code``.
        """
        return json_array(body, cls._pushed_call)

    @classmethod
    def _pushed_call(cls, item: Any) -> DeliveryReport:
        answered = string(item, "start_time", required=False, limit=32)
        return DeliveryReport(
            provider=cls.name,
            phone=e164_of(string(item, "callee", limit=32)),
            message_id=string(item, "call_id"),
            out_id=string(item, "out_id", required=False),
            status="delivered" if answered else "failed",
            code=string(item, "status_code", required=False),
            description=string(item, "status_msg", required=False),
            submitted_at=beijing(string(item, "originate_time", required=False, limit=32), _TIME),
            delivered_at=beijing(string(item, "end_time", required=False, limit=32), _TIME),
            channel="voice",
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return AliyunProvider.receipt_answer(content_type)
