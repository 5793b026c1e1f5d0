"""Tencent Cloud SMS (腾讯云短信) through ``tencentcloud-sdk-python-sms``.

SendSms, API version 2021-01-11: up to 200 E.164 numbers, positional
``TemplateParamSet``, a ``Code`` per number in ``SendStatusSet``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from ..errors import ProviderError, SmsError
from ..options import Option, host, scheme
from ..phones import e164
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, Template, templates
from .replies import short, transport_error
from .reports import (
    NO_STATUS,
    BadItem,
    BadReceipt,
    ParsedReceipts,
    beijing_day,
    e164_of,
    each_item,
    from_unix,
    ident,
    identified,
    json_array,
    json_body,
    phone_of,
    status_of,
    text,
    when,
)
from .voice import CODE_ONLY, VoiceProvider, shared, voice_code

#: the callback's ``report_status`` values (read in any case)
_DELIVERED, _FAILED = ("SUCCESS",), ("FAIL",)
#: PullSmsSendStatus*: the most one call returns; PullSmsSendStatusByPhoneNumber looks back 7 days at most
_PULL_LIMIT = 100
_PULL_DAYS = 7
_PULL_ROUNDS = 100  # a stop for a queue or a reply that never runs dry

_TRANSPORT_CODES = {"ClientNetworkError"}
# The SDK reads the body outside its own try and names what went wrong by the exception's class:
# the vendor had begun to answer, so the text may be out.
_BODY_READ_CODES = {"ConnectionError", "ChunkedEncodingError", "SSLError", "ContentDecodingError", "ProtocolError"}
_SDK_PARSE_CODES = {"JSONDecodeError", "ValueError", "KeyError", "TypeError", "AttributeError"}


class TencentProvider(Provider[Any, Any]):
    name = "tencent"
    extra = "tencent"
    sdk_module = "tencentcloud.sms.v20210111.sms_client"
    max_per_request = 200
    takes_sign = True
    options = (
        Option("SECRET_ID", secret=True, doc="the SecretId of a Tencent Cloud API key (访问密钥)"),
        Option("SECRET_KEY", secret=True, doc="the SecretKey that goes with it"),
        Option(
            "SDK_APP_ID",
            doc='the SMS application\'s `SmsSdkAppId`, e.g. `"1400000001"` (read as a string from the environment)',
        ),
        Option(
            "SIGN_NAME", doc='the approved sign name (签名); a template\'s own `"sign"` replaces it for that purpose'
        ),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → `{"id": "5750123", "params": ["code", "minutes"]}` (Tencent\'s parameters are positional)',
        ),
        Option("REGION", "ap-guangzhou", doc="the region the SDK signs for"),
        Option(
            "ENDPOINT",
            "sms.tencentcloudapi.com",
            host("sms.tencentcloudapi.com"),
            doc="`host` or `host:port` of the SMS API",
        ),
        Option("SCHEME", "https", scheme, doc='`"http"` or `"https"`'),
    )
    receipt_formats = ("application/json",)
    # International numbers need an international template and a request of their own.
    separate_intl_templates = True
    # SendSms 2021-01-11 codes (cloud.tencent.com/document/api/382/59177; the SDK's errorcodes.py)
    # final for the number, or a refusal of the template's values; every other code fails over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "InvalidParameterValue.IncorrectPhoneNumber": "rejected",  # 手机号格式错误
        "FailedOperation.PhoneNumberParseFail": "rejected",  # 号码解析失败
        "FailedOperation.PhoneNumberInBlacklist": "rejected",  # 免打扰名单: opted out
        "LimitExceeded.PhoneNumberThirtySecondLimit": "rejected",
        "LimitExceeded.PhoneNumberOneHourLimit": "rejected",
        "LimitExceeded.PhoneNumberDailyLimit": "rejected",
        "LimitExceeded.PhoneNumberSameContentDailyLimit": "rejected",
        "LimitExceeded.DeliveryFrequencyLimit": "rejected",  # the console's per-number frequency policy
        "UnsupportedOperation.UnsupportedRegion": "failed",  # 不支持该地区短信下发: Tencent's coverage, not the number
        "FailedOperation.ContainSensitiveWord": "content",  # 短信内容中含有敏感词
        "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": "content",  # 禁止在模板变量中使用 URL
        "InvalidParameterValue.TemplateParameterFormatError": "content",  # 验证码变量只能是0-6位纯数字
        "InvalidParameterValue.TemplateParameterLengthLimit": "content",  # 单个模板变量字符数超过限制
        "InvalidParameterValue.ContentLengthLimit": "content",  # 短信内容太长
        "FailedOperation.InsufficientBalanceInSmsPackage": "failed",
        "UnauthorizedOperation.ServiceSuspendDueToArrears": "failed",
        "LimitExceeded.AppDailyLimit": "failed",  # the account's cap, not the number's
        "ServerNetworkError": "failed",  # any status but 200
        "AuthFailure.SignatureFailure": "failed",
    }
    sdk_loggers = ("tencentcloud_sdk_common", "urllib3.connectionpool")

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from tencentcloud.sms.v20210111.sms_client import SmsClient

        self.client = sdk_client(self, SmsClient, settings, timeout)

    def format_phone(self, number: PhoneNumber) -> str:
        return e164(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> Any:
        from tencentcloud.sms.v20210111.models import SendSmsRequest

        request = SendSmsRequest()
        request.PhoneNumberSet = list(phones)
        request.SmsSdkAppId = self.settings["SDK_APP_ID"]
        request.SignName = self.sign_name(payload)
        request.TemplateId = payload.template.id
        request.TemplateParamSet = payload.values()
        if payload.out_id:
            request.SessionContext = payload.out_id  # echoed in SendStatus and (when enabled) receipts
        return request

    def call(self, request: Any) -> Any:
        return sdk_call(self.client.SendSms, request)

    def parse(self, raw: Any, phones: Sequence[str]) -> Reply:
        statuses = getattr(raw, "SendStatusSet", None)
        if not statuses:
            raise ProviderError("bad_reply", "the reply has no SendStatusSet")
        reply = Reply(request_id=str(raw.RequestId or ""))
        for status in statuses:
            phone = str(status.PhoneNumber or "")
            if status.Code == "Ok":
                reply.accepted[phone] = str(status.SerialNo or "")
            else:
                reply.rejected[phone] = (str(status.Code), short(status.Message or ""))
        return reply

    # -- delivery receipts: the status callback, PullSmsSendStatus(ByPhoneNumber) ---------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """A JSON array of ``{user_receive_time, nationcode, mobile, report_status, errmsg, description, sid, ext}``."""
        return json_array(body, cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """Read leniently: ``mobile`` with or without ``+86``, a Unix or ISO receive time, any case of
        ``report_status``; an ``ext`` that is not text (``{}``) is no ``out_id``."""
        status = status_of(item.get("report_status"), _DELIVERED, _FAILED)
        phone = phone_of(item, "mobile", text(item, "nationcode", 8))
        message_id = ident(item, "sid")
        received = when(item.get("user_receive_time"))
        identified(message_id, phone, received)
        return DeliveryReport(  # positional: a push carries up to 100 of these
            cls.name,
            phone,
            message_id,
            text(item, "ext", 512),
            status,
            text(item, "errmsg", 64),
            text(item, "description", 512),
            None,
            received,
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return json.dumps({"result": 0, "errmsg": "OK"}).encode(), "application/json"

    def fetch_reports(
        self, *, phone: PhoneNumber | None = None, day: date | None = None, message_id: str | None = None
    ) -> list[DeliveryReport]:
        """By phone: PullSmsSendStatusByPhoneNumber (one Beijing day, or the last 7 days); else the
        PullSmsSendStatus queue (what it returns it never returns again), drained."""
        if phone is not None:
            items = self._pull_by_phone(e164(phone), day)
        else:
            items = self._pull_queue()
        reports = [report for report in (self._pulled_report(item) for item in items) if report is not None]
        return _matching(reports, day, message_id)

    def _pull(self, action: str, request: Any) -> list[Any]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        try:
            reply = getattr(self.client, action)(request)
        except TencentCloudSDKException as exc:
            raise SmsError(f"tencent {action} failed: {exc.get_code()} {short(exc.get_message())}".rstrip()) from None
        except Exception as exc:  # noqa: BLE001 -- a transport fault, said plainly
            raise SmsError(f"tencent {action} failed: {transport_error(exc)}") from None
        return list(getattr(reply, "PullSmsSendStatusSet", None) or [])

    def _pull_queue(self) -> list[Any]:
        from tencentcloud.sms.v20210111.models import PullSmsSendStatusRequest

        items: list[Any] = []
        for _ in range(_PULL_ROUNDS):
            request = PullSmsSendStatusRequest()
            request.Limit = _PULL_LIMIT
            request.SmsSdkAppId = self.settings["SDK_APP_ID"]
            batch = self._pull("PullSmsSendStatus", request)
            items.extend(batch)
            if len(batch) < _PULL_LIMIT:
                break
        return items

    def _pull_by_phone(self, phone: str, day: date | None) -> list[Any]:
        from tencentcloud.sms.v20210111.models import PullSmsSendStatusByPhoneNumberRequest

        now = int(time.time())
        if day is None:
            begin, end = now - _PULL_DAYS * 86400 + 60, now
        else:
            first, last = beijing_day(day)
            oldest = now - _PULL_DAYS * 86400 + 60
            begin, end = max(int(first.timestamp()), oldest), min(int(last.timestamp()), now)
            if end < oldest or begin > now:
                raise SmsError(f"tencent's PullSmsSendStatusByPhoneNumber answers for the last {_PULL_DAYS} days only")
        items: dict[tuple[str, str], Any] = {}
        for _ in range(_PULL_ROUNDS):
            request = PullSmsSendStatusByPhoneNumberRequest()
            request.BeginTime, request.EndTime = begin, end
            request.Offset, request.Limit = 0, _PULL_LIMIT
            request.PhoneNumber = phone
            request.SmsSdkAppId = self.settings["SDK_APP_ID"]
            batch = self._pull("PullSmsSendStatusByPhoneNumber", request)
            for item in batch:
                items.setdefault((str(item.SerialNo), str(item.ReportStatus)), item)
            if len(batch) < _PULL_LIMIT:
                break
            # Offset is fixed at 0: the next window starts at the newest time seen.
            latest = max(int(item.UserReceiveTime or 0) for item in batch)
            if latest <= begin:
                break
            begin = latest
        return list(items.values())

    def _pulled_report(self, item: Any) -> DeliveryReport | None:
        try:
            status = str(item.ReportStatus or "")
            if status not in ("SUCCESS", "FAIL"):
                return None
            phone = str(item.PhoneNumber or "") or f"+{item.CountryCode}{item.SubscriberNumber}"
            return DeliveryReport(
                provider=self.name,
                phone=e164_of(phone),
                message_id=str(item.SerialNo or ""),
                out_id=str(item.SessionContext or ""),
                status="delivered" if status == "SUCCESS" else "failed",
                code=str(item.Description or ""),
                description="",
                submitted_at=None,
                delivered_at=from_unix(item.UserReceiveTime),
            )
        except (BadItem, ValueError, TypeError, OverflowError):
            return None


def sdk_client(provider: Provider[Any, Any], client_class: Any, settings: Mapping[str, Any], timeout: float) -> Any:
    """A Tencent Cloud SDK client (SMS or VMS) with our timeout, kept-alive connections and the decided proxy route."""
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    # The SDK's default is a 60 s timeout and a new connection per call.
    url = f"{settings['SCHEME']}://{settings['ENDPOINT']}/"
    http_profile = HttpProfile(
        protocol=settings["SCHEME"],
        endpoint=settings["ENDPOINT"],
        reqTimeout=timeout,
        keepAlive=True,
        proxy=provider.proxy_for(url),
    )
    client = client_class(
        Credential(settings["SECRET_ID"], settings["SECRET_KEY"]),
        settings["REGION"],
        ClientProfile(httpProfile=http_profile),
    )
    # Given no proxy, the SDK reads HTTP(S)_PROXY itself and tests NO_PROXY as a substring
    # (NO_PROXY=.tencentcloudapi.com does not match): set the decided route on its connection.
    connection = getattr(client.request, "conn", None)
    if connection is not None and hasattr(connection, "proxy"):
        connection.proxy = provider.proxies_for(url)
        session = getattr(connection, "_session", None)
        if session is not None:
            # the route is decided; the SDK passes its own CA bundle: nothing is left for
            # requests to read from the environment on every send
            session.trust_env = False
    return client


def sdk_call(action: Any, request: Any) -> Any:
    """One SDK call, its failures as a :class:`ProviderError` with the vendor's code (or the transport's)."""
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    try:
        return action(request)
    except TencentCloudSDKException as exc:
        code, message = str(exc.get_code()), str(exc.get_message())
        if code in _TRANSPORT_CODES:
            raise transport_error(exc.__context__ or Exception(message)) from None
        if code in _BODY_READ_CODES:
            raise ProviderError("connection_error", short(message), "unknown") from None
        if code in _SDK_PARSE_CODES:
            raise ProviderError("bad_reply", short(message)) from None
        raise ProviderError(code, short(message)) from None


def _matching(reports: list[DeliveryReport], day: date | None, message_id: str | None) -> list[DeliveryReport]:
    """The reports of that day (one still undelivered counts) and that message id: the pulls return more."""
    if day is not None:
        reports = [r for r in reports if r.delivered_at is None or r.delivered_at.date() == day]
    if message_id:
        reports = [r for r in reports if r.message_id == message_id]
    return reports


# -- 语音消息 (VMS): voice verification codes --------------------------------------------------------
class TencentVoiceProvider(VoiceProvider[Any, Any]):
    """VMS ``SendCodeVoice`` (API version 2020-09-02) through ``tencentcloud-sdk-python-vms``, TC3-signed.

    No template: the call says "您的验证码是" and then the digits of ``CodeMessage``. The
    number goes as E.164; ``SessionContext`` carries the send's ``out_id``. The call's
    result comes as the voice code status callback (语音验证码状态通知).
    """

    name = "tencent"
    extra = "tencent_voice"
    sdk_module = "tencentcloud.vms.v20200902.vms_client"
    options = (
        Option(
            "SDK_APP_ID", doc="the VMS application's `VoiceSdkAppid` (语音消息控制台)"
        ),  # VoiceSdkAppid: the voice console's application, not the SMS one
        Option("ENDPOINT", "vms.tencentcloudapi.com", host("vms.tencentcloudapi.com"), doc="`host` or `host:port`"),
    )
    shared_options = shared(TencentProvider.options, "SECRET_ID", "SECRET_KEY", "REGION", "SCHEME")
    needs_templates = False
    receipt_formats = ("application/json",)
    sdk_loggers = TencentProvider.sdk_loggers
    # SendCodeVoice's codes (tencentcloud/vms/v20200902/errorcodes.py); unlisted codes fail over
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "InvalidParameterValue.CalledNumberVerifyFail": "rejected",  # 被叫手机号码格式校验失败
        "LimitExceeded.DeliveryFrequencyLimit": "rejected",  # 命中频率限制策略 (per number)
        "FailedOperation.InsufficientBalanceInVoicePackage": "failed",
        "UnauthorizedOperation.ServiceSuspendDueToArrears": "failed",
        "UnauthorizedOperation.SdkAppidIsDisabled": "failed",
        "UnauthorizedOperation.VoiceSdkAppidVerifyFail": "failed",
        "InvalidParameterValue.SdkAppidNotExist": "failed",
        "InternalError.UpstreamError": "failed",
        "AuthFailure.SignatureFailure": "failed",
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from tencentcloud.vms.v20200902.vms_client import VmsClient

        self.client = sdk_client(self, VmsClient, settings, timeout)

    def template_for(self, purpose: str, international: bool = False) -> Template:
        return Template(purpose, CODE_ONLY)

    def wire_number(self, number: PhoneNumber) -> str:
        return e164(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> Any:
        from tencentcloud.vms.v20200902.models import SendCodeVoiceRequest

        request = SendCodeVoiceRequest()
        request.CodeMessage = voice_code(payload)
        request.CalledNumber = phones[0]
        request.VoiceSdkAppid = self.settings["SDK_APP_ID"]
        if payload.out_id:
            request.SessionContext = payload.out_id
        return request

    def call(self, request: Any) -> Any:
        return sdk_call(self.client.SendCodeVoice, request)

    def parse(self, raw: Any, phones: Sequence[str]) -> Reply:
        status = getattr(raw, "SendStatus", None)
        call_id = str(getattr(status, "CallId", "") or "")
        if not call_id:
            raise ProviderError("bad_reply", "the reply has no SendStatus.CallId")
        return Reply(accepted={phone: call_id for phone in phones}, request_id=str(raw.RequestId or ""))

    # -- call results: the voice code status callback and the failure-reason callback ---------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``{"voicecode_callback": {result, callid, mobile, nationcode, start_calltime, end_calltime, ...}}``
        (``result`` 0: answered), or ``{"voice_failure_callback": {callid, mobile, failure_code, failure_reason}}``."""
        data = json_body(body)
        if isinstance(data, dict) and isinstance(data.get("voicecode_callback"), dict):
            return each_item([data["voicecode_callback"]], cls._call_status)
        if isinstance(data, dict) and isinstance(data.get("voice_failure_callback"), dict):
            return each_item([data["voice_failure_callback"]], cls._call_failure)
        raise BadReceipt("not a voicecode_callback or voice_failure_callback push")

    @classmethod
    def _call_status(cls, item: dict[str, Any]) -> DeliveryReport:
        result = text(item, "result", 8)
        if not result:
            raise BadItem(NO_STATUS)
        phone = phone_of(item, "mobile", text(item, "nationcode", 8))
        message_id = ident(item, "callid")
        ended = when(item.get("end_calltime"))
        identified(message_id, phone, ended)
        return DeliveryReport(
            cls.name,
            phone,
            message_id,
            "",
            "delivered" if result == "0" else "failed",
            result,
            {"0": "answered", "1": "not answered"}.get(result, "call failed"),
            when(item.get("start_calltime")),
            ended,
            "voice",
        )

    @classmethod
    def _call_failure(cls, item: dict[str, Any]) -> DeliveryReport:
        phone = phone_of(item, "mobile", text(item, "nationcode", 8))
        message_id = ident(item, "callid")
        identified(message_id, phone, None)
        return DeliveryReport(
            cls.name,
            phone,
            message_id,
            "",
            "failed",
            text(item, "failure_code", 64),
            text(item, "failure_reason", 512),
            None,
            None,
            "voice",
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return TencentProvider.receipt_answer(content_type)
