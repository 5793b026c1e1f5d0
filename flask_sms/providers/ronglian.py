"""Ronglian 容联云 (cloopen) through ``ronglian_sms_sdk``.

The SDK signs the request correctly but, on every call, prints the URL, the
headers, the body and the signature plaintext (which holds the AUTH TOKEN) to
stdout, uses ``requests.post`` with a fixed ``(2, 5)`` timeout and no session,
and swallows network errors into ``{"statusCode": "172001"}`` after printing a
traceback.

We run the SDK's own functions with a private globals dict in which ``print``
discards its arguments, ``requests`` is a kept-alive session with our timeout,
and ``traceback.print_exc`` re-raises. Nothing process-wide changes
(``sys.stdout`` is untouched), so this is safe under threads, and other code
that uses the SDK directly is unaffected.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import types
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from ..errors import ProviderError
from ..options import UNSET, Invalid, Option, url_with_scheme
from ..phones import national_or_international_00
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, Template, templates
from .replies import load_json, short
from .reports import (
    NO_STATUS,
    BadItem,
    BadReceipt,
    ParsedReceipts,
    each_item,
    ident,
    identified,
    json_body,
    phone_of,
    status_of,
    text,
    when,
)
from .voice import CODE_ONLY, VoiceProvider, shared, voice_code

_XML_ANSWER = b'<?xml version="1.0" encoding="UTF-8"?><Response><statuscode>000000</statuscode></Response>'

RonglianRequest = tuple[str, str, "Datas"]  # template id, comma-separated numbers, positional values


class Datas(list[str]):
    """The template's values, carrying the request's ``reqId`` to the body builder: ``sendMessage``
    takes no ``reqId``, and a value on the call itself stays with its thread."""

    req_id = ""


def new_req_id() -> str:
    """A ``reqId`` for one request: 32 random hex characters (128 bits).

    Ronglian takes "第三方自定义消息id，最大支持32位英文数字" that must not repeat "同账号下同一
    自然天内" (a repeat answers 160054): one per request, never the send's ``out_id`` (a send
    makes one request per 200 numbers and per number abroad, and a caller may reuse an
    ``out_id`` the same day). A receipt finds its ``out_id`` from its ``smsMessageSid``, which
    the send recorded against the ``out_id``.
    """
    return secrets.token_hex(16)


def _discard(*args: Any, **kwargs: Any) -> None:
    """Stands in for ``print`` inside the SDK."""


class _ReraisingTraceback:
    """Stands in for the ``traceback`` module inside the SDK: surface the error instead."""

    @staticmethod
    def print_exc(*args: Any, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            raise error


class _SessionTransport:
    """Stands in for the ``requests`` module inside the SDK: one session (routed by
    ``SMS_PROXY``/``NO_PROXY`` when the provider gives its own), our timeout."""

    def __init__(self, timeout: float, session: Any = None) -> None:
        import requests

        self.codes = requests.codes
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout

    def post(self, url: str, **kwargs: Any) -> Any:
        kwargs["timeout"] = self.timeout
        return self.session.post(url, **kwargs)


def _base_url(value: Any) -> str:
    url: str = url_with_scheme("http://", "https://", describe="be http(s)://host[:port] without a trailing slash")(
        value
    )
    if url.endswith("/"):
        raise Invalid("must be http(s)://host[:port] without a trailing slash")
    return url


def contained_sdk_class(timeout: float, session: Any = None) -> type[Any]:
    """A subclass of ``SmsSDK`` whose methods run with quiet, session-backed globals."""
    from ronglian_sms_sdk import SmsSDK

    sdk_globals = dict(sys.modules[SmsSDK.__module__].__dict__)
    transport = _SessionTransport(timeout, session)
    sdk_globals.update(print=_discard, requests=transport, traceback=_ReraisingTraceback)
    methods: dict[str, Any] = {
        name: types.FunctionType(value.__code__, sdk_globals, name, value.__defaults__, value.__closure__)
        for name, value in vars(SmsSDK).items()
        if isinstance(value, types.FunctionType)
    }
    build_body = methods["_SmsSDK__buildSendMessageBody"]

    def body_with_req_id(self: Any, tid: str, mobile: str, datas: Any) -> str:
        """The SDK's own body, plus ``reqId`` (echoed in the SMSArrived push; a repeat the same day answers 160054)."""
        body: str = build_body(self, tid, mobile, list(datas))
        req_id = getattr(datas, "req_id", "")
        if not req_id:
            return body
        return json.dumps({**json.loads(body), "reqId": req_id})

    methods["_SmsSDK__buildSendMessageBody"] = body_with_req_id
    return type("ContainedSmsSDK", (SmsSDK,), methods)


class RonglianProvider(Provider[RonglianRequest, str]):
    name = "ronglian"
    extra = "ronglian"
    sdk_module = "ronglian_sms_sdk"
    # TemplateSMS: "to" takes at most 200 comma-separated numbers.
    max_per_request = 200
    options = (
        Option("ACCOUNT_SID", secret=True, doc="the main account's ACCOUNT SID (控制台首页)"),
        Option("AUTH_TOKEN", secret=True, doc="the main account's AUTH TOKEN"),
        Option("APP_ID", doc="the application's AppID"),
        Option("TEMPLATES", parse=templates, doc='purpose → `{"id": "1", "params": ["code", "minutes"]}`'),
        Option("BASE_URL", "https://app.cloopen.com:8883", _base_url, doc="`http(s)://host[:port]`"),
    )
    receipt_formats = ("application/json", "application/xml")
    sdk_loggers = ("urllib3.connectionpool",)
    # statusCode values (doc.yuntongxun.com/p/5a533de33b8496dd00dce07c, through copies of the
    # table) final for the number; every other code fails over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "160042": "rejected",  # 号码格式有误
        "160013": "rejected",  # 号码格式不对，或者该号码不支持
        "160034": "rejected",  # 号码黑名单
        "112317": "rejected",  # 号码在黑名单中
        "160051": "rejected",  # 营销退订号码
        "160038": "rejected",  # 短信验证码发送过频繁
        "160039": "rejected",  # 发送数量超出同模板同号天发送次数上限
        "160040": "rejected",  # 验证码超出同模板同号码天发送上限
        "160041": "rejected",  # 通知超出同模板同号码天发送上限
        "160015": "rejected",  # 限制对单号码的发送次数
        "160021": "rejected",  # 相同的内容发给同一手机一天中只能发一次
        "160022": "rejected",  # 对同一个手机一天发送的短信超过限制次数
        "160056": "rejected",  # 同号码请求内容重复
        "160061": "failed",  # 暂不支持的国家码号: Ronglian's coverage, another vendor may reach it
        "160054": "unknown",  # 请求重复: a request with this reqId was taken already (each request has its own)
        "160014": "failed",  # 短信通道余额不足
        "160059": "failed",  # 国际短信暂不支持群发
    }

    def batches(self, phones: list[str]) -> list[list[str]]:
        """International numbers one per request: the vendor refuses a group send abroad (160059)."""
        abroad = [phone for phone in phones if phone.startswith("00")]
        mainland = [phone for phone in phones if not phone.startswith("00")]
        return super().batches(mainland) + [[phone] for phone in abroad]

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        sdk_class = contained_sdk_class(timeout, self.http_session(settings["BASE_URL"]))
        self.client = sdk_class(settings["ACCOUNT_SID"], settings["AUTH_TOKEN"], settings["APP_ID"])
        self.client.url = settings["BASE_URL"]

    def format_phone(self, number: PhoneNumber) -> str:
        return national_or_international_00(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> RonglianRequest:
        datas = Datas(payload.values())
        datas.req_id = new_req_id()
        return payload.template.id, ",".join(phones), datas

    def call(self, request: RonglianRequest) -> str:
        template_id, to, datas = request
        reply: str = self.client.sendMessage(template_id, to, datas)
        return reply

    def parse(self, raw: str, phones: Sequence[str]) -> Reply:
        body = load_json(raw, self.name)
        if not isinstance(body, dict) or "statusCode" not in body:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        status = str(body["statusCode"])
        if status == "000000":
            sms = body.get("templateSMS") or {}
            message_id = str(sms.get("smsMessageSid", "")) if isinstance(sms, dict) else ""
            return Reply(accepted={phone: message_id for phone in phones})
        if len(status) == 3 and status.isdigit():  # the SDK's stand-in for a non-200 HTTP status
            raise ProviderError(f"http_{status}", "")
        raise ProviderError(status, short(body.get("statusMsg", "")))

    # -- delivery receipts: the SMSArrived push (JSON or XML); no query API is documented ----
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``{"Request": {"action": "SMSArrived", "content": <smsMessageSid>, "fromNum", "status", ...}}``, or the
        same fields as XML under ``<Request>``."""
        if _is_xml(body, content_type):
            request = _xml_request(body)
        else:
            data = json_body(body)
            request = data.get("Request") if isinstance(data, dict) else None
        if not isinstance(request, dict) or request.get("action") != "SMSArrived":
            raise BadReceipt("not an SMSArrived push")
        return each_item([request], cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """``status`` ``"0"`` (or ``0``) is delivered, any other value failed."""
        phone = phone_of(item, "fromNum")
        message_id = ident(item, "content")
        received = when(item.get("recvTime"))
        identified(message_id, phone, received)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            # reqId is a per-request id (new_req_id), not the out_id: the receipt book finds the
            # out_id from the message id the send recorded
            out_id="",
            status=status_of(item.get("status"), ("0",)),
            code=text(item, "deliverCode", 64),
            description="",
            submitted_at=when(item.get("dateSent")),
            delivered_at=received,
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        if "xml" in content_type.lower():
            return _XML_ANSWER, "application/xml"
        return b'{"statusCode":"000000"}', "application/json"


def _is_xml(body: bytes, content_type: str) -> bool:
    return "xml" in content_type.lower() or body.lstrip().startswith(b"<")


def _xml_request(body: bytes) -> dict[str, str] | None:
    """``<Request><action>SMSArrived</action>...</Request>`` as a flat dict; no DTD or entity is ever expanded."""
    from xml.etree import ElementTree

    if b"<!" in body:  # DOCTYPE and ENTITY declarations (billion laughs, external entities): refused unread
        raise BadReceipt("XML with a DOCTYPE or an entity declaration")
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError):
        raise BadReceipt("the body is not XML") from None
    if root.tag != "Request" or len(root) > 64:
        return None
    return {child.tag: (child.text or "").strip() for child in root}


# -- 语音验证码: Calls/VoiceVerify ------------------------------------------------------------------
RonglianVoiceRequest = tuple[str, dict[str, str], str]  # URL, headers, JSON body

_resp_url = url_with_scheme("http://", "https://", describe="be an http(s):// URL")


class RonglianVoiceProvider(VoiceProvider[RonglianVoiceRequest, str]):
    """``POST /2013-12-26/Accounts/{sid}/Calls/VoiceVerify?sig=...``, signed as TemplateSMS is.

    ``ronglian_sms_sdk`` has no voice call, so the request is built here, with the SDK's own
    ``sig`` and ``Authorization`` (its TemplateSMS signing, run in the same quiet globals)
    and a session routed like the SMS one. ``userData`` carries the send's ``out_id``
    (echoed in the push); VoiceVerify documents no ``reqId``, so no request is ever dropped
    as a repeat. The result is pushed (XML ``VoiceCode``) to ``SMS_RONGLIAN_VOICE_RESP_URL``.
    """

    name = "ronglian"
    extra = "ronglian"
    sdk_module = "ronglian_sms_sdk"
    options = (
        Option(
            "DISPLAY_NUMBER", UNSET, doc="`displayNum`, the number the called phone shows"
        ),  # displayNum: the number shown to the called phone
        Option(
            "RESP_URL",
            UNSET,
            _resp_url,
            doc="`respUrl`: where Ronglian pushes the call's result, e.g. `https://example.com/sms_receipts/ronglian-voice?token=…`",
        ),  # respUrl: where the call's result is pushed
    )
    shared_options = shared(RonglianProvider.options, "ACCOUNT_SID", "AUTH_TOKEN", "APP_ID", "BASE_URL")
    needs_templates = False
    receipt_formats = ("application/xml", "text/plain")
    sdk_loggers = RonglianProvider.sdk_loggers
    # VoiceVerify's statusCode values are not in a table we could check: every refusal fails over
    error_classes: ClassVar[Mapping[str, Outcome]] = {}

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        self.http = self.http_session(settings["BASE_URL"])
        # the SDK's signing (sig, Authorization), quiet, for a request it has no method for
        self.client = contained_sdk_class(timeout, self.http)(
            settings["ACCOUNT_SID"], settings["AUTH_TOKEN"], settings["APP_ID"]
        )

    def template_for(self, purpose: str, international: bool = False) -> Template:
        return Template(purpose, CODE_ONLY)

    def build_request(self, phones: Sequence[str], payload: Payload) -> RonglianVoiceRequest:
        timestamp = time.strftime("%Y%m%d%H%M%S", time.localtime())  # as the SDK stamps TemplateSMS
        sign = self.client._SmsSDK__buildSign(timestamp)
        url = f"{self.settings['BASE_URL']}/2013-12-26/Accounts/{self.settings['ACCOUNT_SID']}/Calls/VoiceVerify"
        body = {"appId": self.settings["APP_ID"], "verifyCode": voice_code(payload), "playTimes": "3", "to": phones[0]}
        body.update(_optional(displayNum=self.settings.get("DISPLAY_NUMBER"), respUrl=self.settings.get("RESP_URL")))
        body.update(_optional(userData=payload.out_id))
        return f"{url}?sig={sign}", dict(self.client._SmsSDK__buildHeaders(timestamp)), json.dumps(body)

    def call(self, request: RonglianVoiceRequest) -> str:
        url, headers, body = request
        response = self.http.post(url, headers=headers, data=body.encode(), timeout=self.timeout)
        if response.status_code != 200:
            raise ProviderError(f"http_{response.status_code}", short(response.text))
        text: str = response.text
        return text

    def parse(self, raw: str, phones: Sequence[str]) -> Reply:
        body = load_json(raw, self.name)
        if not isinstance(body, dict) or "statusCode" not in body:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        status = str(body["statusCode"])
        if status != "000000":
            raise ProviderError(status, short(body.get("statusMsg", "")))
        call = body.get("VoiceVerify") or {}
        call_sid = str(call.get("callSid", "")) if isinstance(call, dict) else ""
        return Reply(accepted={phone: call_sid for phone in phones})

    # -- call results: the VoiceCode push to respUrl ------------------------------------------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``<Request><action>VoiceCode</action><number/><callSid/><state/><duration/><userData/></Request>``
        (``state`` 0: answered; 1: not answered; 2: the call failed)."""
        request = _xml_request(body)
        if not isinstance(request, dict) or request.get("action") != "VoiceCode":
            raise BadReceipt("not a VoiceCode push")
        return each_item([request], cls._pushed_call)

    @classmethod
    def _pushed_call(cls, item: dict[str, Any]) -> DeliveryReport:
        state = text(item, "state", 8)
        if not state:
            raise BadItem(NO_STATUS)
        phone = phone_of(item, "number")
        message_id = ident(item, "callSid")
        identified(message_id, phone, None)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "userData"),
            status="delivered" if state == "0" else "failed",
            code=state,
            description={"0": "answered", "1": "not answered"}.get(state, "call failed"),
            submitted_at=None,
            delivered_at=None,
            channel="voice",
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return _XML_ANSWER, "application/xml"


def _optional(**values: Any) -> dict[str, str]:
    """The fields that have a value (VoiceVerify's optional ones are left out, not sent empty)."""
    return {name: str(value) for name, value in values.items() if value}
