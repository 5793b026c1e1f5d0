"""Aliyun Dysmsapi (阿里云短信服务) through either generation of Aliyun's Python SDK.

SendSms, API version 2017-05-25: up to 1000 comma-separated numbers, one
``TemplateParam`` JSON object, business errors as ``Code != "OK"`` in HTTP 200.

``SMS_ALIYUN_SDK`` picks the SDK: ``"v1"`` (the default) is ``aliyun-python-sdk-core``
(``AcsClient`` + ``CommonRequest``, the RPC signature v1, HMAC-SHA1), which Aliyun
says "will soon enter the Basic Security Maintenance phase"; ``"v2"`` is
``alibabacloud_dysmsapi20170525`` on ``alibabacloud-tea-openapi`` (extra
``[aliyun-v2]``), which signs with ACS3-HMAC-SHA256 (the V3 request signature:
``x-acs-action``/``x-acs-version`` headers, the parameters in the query, the body's
SHA-256 signed). Both send the same parameters and are read into the same reply,
so outcomes, correlation (``OutId``) and QuerySendDetails are the same.
"""

from __future__ import annotations

import json
import os
import threading
import types
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from ..errors import ProviderError, SmsError
from ..options import UNSET, Option, choice, host, scheme
from ..phones import is_mainland
from ..results import DeliveryReport, Outcome, ReportStatus
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import load_json, short, transport_error
from .reports import (
    NO_STATUS,
    BadItem,
    ParsedReceipts,
    e164_of,
    ident,
    identified,
    json_array,
    phone_of,
    text,
    today_in_beijing,
    when,
)
from .voice import VoiceProvider, shared

_VERSION = "2017-05-25"
#: QuerySendDetails: the largest page, the oldest day it answers for
_PAGE_SIZE = 50
_QUERY_DAYS = 30
_QUERY_PAGES = 200  # 10,000 reports for one number and day: far past any real use, a stop for a looping reply

#: one Dysmsapi call: the action and its parameters (the same for both SDKs)
AliyunRequest = tuple[str, dict[str, str]]

#: the SDK generations, their import module and pip extra
_SDKS = {
    "v1": ("aliyunsdkcore.client", "aliyun"),
    "v2": ("alibabacloud_dysmsapi20170525.client", "aliyun-v2"),
}


class AliyunProvider(Provider[AliyunRequest, dict[str, Any]]):
    name = "aliyun"
    extra = "aliyun"
    sdk_module = "aliyunsdkcore.client"
    max_per_request = 1000
    takes_sign = True
    options = (
        Option(
            "ACCESS_KEY_ID", secret=True, doc="the AccessKey ID of an Aliyun account or RAM user allowed to send SMS"
        ),
        Option("ACCESS_KEY_SECRET", secret=True, doc="the AccessKey secret that goes with it"),
        Option(
            "SIGN_NAME",
            doc='the approved sign name (签名), e.g. `"我的应用"`; a template\'s own `"sign"` replaces it for that purpose',
        ),
        Option("TEMPLATES", parse=templates, doc='purpose → template code, e.g. `{"captcha": "SMS_153055065"}`'),
        Option("REGION", "cn-hangzhou", doc="the region the SDK signs for"),
        Option(
            "ENDPOINT",
            "dysmsapi.aliyuncs.com",
            host("dysmsapi.aliyuncs.com"),
            doc='`host` or `host:port` of the SMS API, e.g. `"dysmsapi.ap-southeast-1.aliyuncs.com"` for Singapore',
        ),
        Option("SCHEME", "https", scheme, doc='`"http"` or `"https"`'),
        Option(
            "SDK",
            "v1",
            choice("v1", "v2", describe='"v1" (aliyun-python-sdk-core) or "v2" (alibabacloud_dysmsapi20170525)'),
            doc='which of Aliyun\'s SDKs sends: `"v1"`, `aliyun-python-sdk-core` (extra `[aliyun]`), or `"v2"`, `alibabacloud_dysmsapi20170525` on `alibabacloud-tea-openapi` (extra `[aliyun-v2]`); the same outcomes, `OutId`, QuerySendDetails and breaker either way (see Vendor notes)',
        ),
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
        # the V2 SDK: its DEBUG=sdk dump (through a handler of its own) and the requests it sends
        "darabonba-core",
        "urllib3.connectionpool",
    )

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        proxy = self.proxy_for(f"{settings['SCHEME']}://{settings['ENDPOINT']}/")
        sdk = _SdkV2 if settings.get("SDK") == "v2" else _SdkV1
        self.sdk: _SdkV1 | _SdkV2 = sdk(settings, timeout, proxy)
        #: the SDK's own client (``AcsClient`` or the V2 ``Client``), built once
        self.client = self.sdk.client

    @classmethod
    def sdk_problem(cls, settings: Mapping[str, Any] | None = None) -> str | None:
        module, extra = _SDKS.get((settings or {}).get("SDK") or "v1", _SDKS["v1"])
        return _missing(module, f"provider {cls.name!r} needs its vendor SDK: pip install 'Flask-SMS-Captcha[{extra}]'")

    def format_phone(self, number: PhoneNumber) -> str:
        """Mainland: the 11 digits; elsewhere country code + number, no ``00`` or ``+`` (852000012****)."""
        return _wire(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> AliyunRequest:
        params = {
            "PhoneNumbers": ",".join(phones),
            "SignName": self.sign_name(payload),
            "TemplateCode": payload.template.id,
        }
        if payload.params:
            params["TemplateParam"] = json.dumps(dict(payload.params), ensure_ascii=False, separators=(",", ":"))
        if payload.out_id:
            params["OutId"] = payload.out_id  # echoed as out_id in SmsReport
        return "SendSms", params

    def call(self, request: AliyunRequest) -> dict[str, Any]:
        return self.sdk.call(*request)

    def parse(self, raw: dict[str, Any], phones: Sequence[str]) -> Reply:
        body = raw
        if "Code" not in body:
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
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """Read leniently: ``success`` as a boolean, ``"true"``/``"false"`` or ``1``/``0``; times in
        Aliyun's layout or ISO 8601; an ``out_id`` that is not text (``{}``) is no ``out_id``."""
        phone = phone_of(item, "phone_number")
        message_id = ident(item, "biz_id")
        reported = when(item.get("report_time"))
        identified(message_id, phone, reported)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "out_id"),
            status=_success(item.get("success")),
            code=text(item, "err_code", 64),
            description=text(item, "err_msg", 512),
            submitted_at=when(item.get("send_time")),
            delivered_at=reported,
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
        params = {"PhoneNumber": wire, "SendDate": day.strftime("%Y%m%d")}
        params.update(PageSize=str(_PAGE_SIZE), CurrentPage=str(page))
        if message_id:
            params["BizId"] = message_id
        try:
            body = self.call(("QuerySendDetails", params))
        except ProviderError as exc:
            raise SmsError(f"aliyun QuerySendDetails failed: {exc.code} {exc.message}".rstrip()) from None
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
                phone=e164_of(text(entry, "PhoneNum", 32)),
                message_id=message_id,
                out_id=text(entry, "OutId"),
                status="delivered" if status == 3 else "failed",
                code=text(entry, "ErrCode", 64),
                description="",
                submitted_at=when(entry.get("SendDate")),
                delivered_at=when(entry.get("ReceiveDate")),
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


def _success(value: Any) -> ReportStatus:
    """SmsReport's ``success``: documented as a boolean; ``"true"``/``"false"`` and ``1``/``0`` are read too."""
    if isinstance(value, str):
        value = {"true": True, "false": False, "1": True, "0": False}.get(value.strip().lower())
    elif type(value) is int and value in (0, 1):
        value = bool(value)
    if not isinstance(value, bool):
        raise BadItem(NO_STATUS)
    return "delivered" if value else "failed"


def _wire(number: PhoneNumber) -> str:
    from phonenumbers import national_significant_number

    national = national_significant_number(number)
    return national if is_mainland(number) else f"{number.country_code}{national}"


# -- 语音服务 (Dyvmsapi): voice verification codes ----------------------------------------------------
#: OutId of SingleCallByTts: 1 to 15 bytes (a longer out_id is not sent; the CallId finds it in receipts)
_VOICE_OUT_ID_BYTES = 15


class AliyunVoiceProvider(VoiceProvider[AliyunRequest, dict[str, Any]]):
    """Dyvmsapi ``SingleCallByTts`` (API version 2017-05-25), through the same RPC client and signature as SendSms.

    ``TtsCode`` is the purpose's TTS template (``SMS_ALIYUN_VOICE_TEMPLATES``), ``TtsParam`` the
    template's values as JSON. One number per call; the vendor caps a number at 1 call a minute,
    5 an hour and 20 a day. The call's result comes as a VoiceReport push (a JSON array).
    """

    name = "aliyun"
    extra = "aliyun"
    sdk_module = "aliyunsdkcore.client"
    options = (
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → the TTS template (`TtsCode`), its `params` the `TtsParam` variables, e.g. `{"captcha": {"id": "TTS_171115079", "params": ["code"]}}`',
        ),
        Option("ENDPOINT", "dyvmsapi.aliyuncs.com", host("dyvmsapi.aliyuncs.com"), doc="`host` or `host:port`"),
        # 被叫显号: only for templates of the dedicated mode (专属模式); the common mode leaves it out
        Option(
            "SHOW_NUMBER",
            UNSET,
            doc="`CalledShowNumber`, for templates of the dedicated mode (专属模式); the common mode leaves it out",
        ),
    )
    shared_options = shared(AliyunProvider.options, "ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "REGION", "SCHEME")
    receipt_formats = ("application/json",)
    sdk_loggers = AliyunProvider.sdk_loggers
    # Dyvmsapi answers with the error codes of Aliyun's communication APIs (the SMS table's names):
    # the per-number cap and an invalid number are final for the number; the rest fail over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "isv.MOBILE_NUMBER_ILLEGAL": "rejected",
        "isv.BUSINESS_LIMIT_CONTROL": "rejected",  # 1/min, 5/h, 20/24 h per called number
        "isv.BLACK_KEY_CONTROL_LIMIT": "content",  # a blacklisted keyword in the TTS values, as for SMS
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
        # (through aliyun-python-sdk-core: SMS_ALIYUN_SDK picks the SDK of SMS only)
        self.rpc = AliyunProvider(settings, timeout)

    def build_request(self, phones: Sequence[str], payload: Payload) -> AliyunRequest:
        params = {"CalledNumber": phones[0], "TtsCode": payload.template.id}
        if payload.params:
            params["TtsParam"] = json.dumps(dict(payload.params), separators=(",", ":"))
        show_number = self.settings.get("SHOW_NUMBER")
        if show_number:
            params["CalledShowNumber"] = show_number
        if payload.out_id and len(payload.out_id.encode()) <= _VOICE_OUT_ID_BYTES:
            params["OutId"] = payload.out_id
        return "SingleCallByTts", params

    def parse(self, raw: dict[str, Any], phones: Sequence[str]) -> Reply:
        body = raw
        if "Code" not in body:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        if body["Code"] != "OK":
            raise ProviderError(str(body["Code"]), short(body.get("Message", "")))
        call_id = str(body.get("CallId", ""))
        return Reply(accepted={phone: call_id for phone in phones}, request_id=str(body.get("RequestId", "")))

    def call(self, request: AliyunRequest) -> dict[str, Any]:
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
    def _pushed_call(cls, item: dict[str, Any]) -> DeliveryReport:
        phone = phone_of(item, "callee")
        message_id = ident(item, "call_id")
        ended = when(item.get("end_time"))
        identified(message_id, phone, ended)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "out_id"),
            status="delivered" if text(item, "start_time", 32) else "failed",
            code=text(item, "status_code", 64),
            description=text(item, "status_msg", 512),
            submitted_at=when(item.get("originate_time")),
            delivered_at=ended,
            channel="voice",
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return AliyunProvider.receipt_answer(content_type)


def _missing(module: str, problem: str) -> str | None:
    """``problem`` when ``module`` cannot be imported."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return problem
    return None


class _SdkV1:
    """Dysmsapi through ``aliyun-python-sdk-core``: a ``CommonRequest`` per call on one ``AcsClient``."""

    def __init__(self, settings: Mapping[str, Any], timeout: float, proxy: str | None) -> None:
        from aliyunsdkcore.client import AcsClient

        from .base import proxies_mapping

        self.settings = settings
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
            proxy=proxies_mapping(proxy),
        )

    def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest()
        request.set_domain(self.settings["ENDPOINT"])
        request.set_protocol_type(self.settings["SCHEME"])
        request.set_version(_VERSION)
        request.set_action_name(action)
        request.set_method("POST")
        request.set_accept_format("json")
        for name, value in params.items():
            request.add_query_param(name, value)
        try:
            raw: bytes = self.client.do_action_with_exception(request)
        except ServerException as exc:
            status = exc.get_http_status() or 0
            if status >= 500:
                raise ProviderError(f"http_{status}", short(exc.get_error_msg())) from None
            raise ProviderError(exc.get_error_code(), short(exc.get_error_msg())) from None
        except ClientException as exc:
            # SDK.HttpError keeps only the text of the requests error ("Max retries exceeded ..."
            # when it never connected): the text decides failed or unknown
            raise transport_error(Exception(exc.get_error_msg())) from None
        return _body(load_json(raw, "aliyun"))


def _body(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProviderError("bad_reply", f"unexpected reply: {short(value)}")
    return value


class _SdkV2:
    """Dysmsapi through ``alibabacloud_dysmsapi20170525`` (V2.0): the SDK's own typed request and method
    per call, on one ``Client``.

    Its defaults are kept where they are safe: no retries (``RuntimeOptions`` without ``autoretry``
    makes one attempt), ACS3-HMAC-SHA256. Two are not: given no proxy it reads ``HTTP(S)_PROXY``
    itself and ignores ``NO_PROXY``; and a reply that is not JSON raises without its HTTP status.
    So its request function runs with private globals (nothing process-wide changes, other code
    that uses the SDK is unaffected): an environment without proxy variables (the decided proxy
    is passed in the config), and the status of the last response kept for this thread.
    """

    def __init__(self, settings: Mapping[str, Any], timeout: float, proxy: str | None) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        milliseconds = int(timeout * 1000)
        config = Config(
            access_key_id=settings["ACCESS_KEY_ID"],
            access_key_secret=settings["ACCESS_KEY_SECRET"],
            region_id=settings["REGION"],
            endpoint=settings["ENDPOINT"],
            protocol=settings["SCHEME"],
            read_timeout=milliseconds,
            connect_timeout=milliseconds,
            http_proxy=proxy,
            https_proxy=proxy,
            # it verifies with certifi's bundle alone: the one requests would read from the environment
            ca=os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None,
        )
        self.status = threading.local()
        self.client = _routed_v2_client(Client, self.status)(config)

    def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        from alibabacloud_dysmsapi20170525 import models
        from darabonba.runtime import RuntimeOptions

        model, method = {
            "SendSms": (models.SendSmsRequest, self.client.send_sms_with_options),
            "QuerySendDetails": (models.QuerySendDetailsRequest, self.client.query_send_details_with_options),
        }[action]
        self.status.code = 0
        try:
            response = method(model().from_map(dict(params)), RuntimeOptions())
        except Exception as exc:  # noqa: BLE001 -- the SDK's own exception types, read below
            raise self._error(exc) from None
        return _body(response.body.to_map() if response.body is not None else None)

    def _error(self, exc: Exception) -> ProviderError:
        """The vendor's code for a refusal (HTTP 4xx/5xx with a JSON body); the transport's fault; else the
        HTTP status or an unreadable reply."""
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
        from darabonba.exceptions import RetryError, UnretryableException

        if isinstance(exc, AlibabaCloudException):
            return _vendor_error(exc)
        inner = exc.inner_exception if isinstance(exc, UnretryableException) else exc
        if isinstance(inner, RetryError):  # the request failed in transport: its requests error, as text
            return transport_error(Exception(str(inner.message)))
        status = int(getattr(self.status, "code", 0) or 0)
        if not status:  # no reply came, and not a transport error (requests raises IOError for those): the
            # request could not be made (its TLS set-up, say), so nothing was sent
            return ProviderError("connection_error", short(f"{type(inner).__name__}: {inner}"), "failed")
        if status >= 300:  # a body that is not JSON, with an error status: a proxy's 502 page
            return ProviderError(f"http_{status}", short(str(inner)))
        return ProviderError("bad_reply", f"aliyun sent a reply that could not be read: {short(str(inner), 120)}")


def _vendor_error(exc: Any) -> ProviderError:
    """A refusal the V2 SDK read from the reply: Aliyun's code and message (HTTP 5xx: ``http_<status>``)."""
    status = int(exc.status_code or 0)
    data = exc.data if isinstance(exc.data, dict) else {}
    message = short(data.get("Message") or exc.message or "")
    return ProviderError(f"http_{status}" if status >= 500 else str(exc.code), message)


class _NoProxyEnviron(dict[str, str]):
    """``os.environ`` for the V2 SDK's request function: the proxy variables are decided for it."""

    _PROXY = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})

    def get(self, key: str, default: Any = None) -> Any:
        return default if key.lower() in self._PROXY else os.environ.get(key, default)


def _routed_v2_client(client_class: type[Any], status: threading.local) -> type[Any]:
    """A subclass of the V2 SDK's ``Client`` whose requests read no proxy variable and keep their status.

    ``DaraCore.do_action`` (the HTTP call) and the OpenAPI client's ``do_request`` that calls it run
    with private copies of their module globals, as for Ronglian and Baidu.
    """
    import alibabacloud_tea_openapi.client as openapi_client
    import darabonba.core as dara_core

    core_globals = dict(vars(dara_core))
    core_globals["os"] = types.SimpleNamespace(environ=_NoProxyEnviron(), getenv=os.getenv)
    original = dara_core.DaraCore.__dict__["do_action"].__func__
    do_action = types.FunctionType(
        original.__code__, core_globals, original.__name__, original.__defaults__, original.__closure__
    )

    def do_action_keeping_status(request: Any, runtime_option: Any = None) -> Any:
        response = do_action(request, runtime_option)
        status.code = response.status_code
        return response

    core = type("RoutedDaraCore", (dara_core.DaraCore,), {"do_action": staticmethod(do_action_keeping_status)})
    client_globals = dict(vars(openapi_client))
    client_globals["DaraCore"] = core
    method = openapi_client.Client.do_request
    routed = types.FunctionType(
        method.__code__, client_globals, method.__name__, method.__defaults__, method.__closure__
    )
    return type("RoutedDysmsapiClient", (client_class,), {"do_request": routed})
