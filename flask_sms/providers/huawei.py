"""Huawei Cloud Message & SMS (华为云消息&短信, MSGSMS) through ``huaweicloudsdksmsapi``.

batchSendSms v1: up to 500 ``+cc`` numbers per request, the channel number
(``from``) bound to a sign, a JSON array of positional template values, a
``statusCallback`` URL per request and ``extend``, echoed in the status report
(our correlation id). One ``code`` per request and one ``status`` per number.

Auth: the App Key/App Secret pair, signed the way the official SDK signs,
"特殊AK/SK" (SDK-HMAC-SHA256, Huawei's recommended scheme). The X-WSSE scheme
of Huawei's hand-written samples signs nothing but a nonce and a time; AK/SK
also signs the method, path and headers. Neither signs this form body (the
SDK sends ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD``): numbers and values are
protected by TLS alone, so keep the endpoint ``https://``.

The SDK's logger (``HuaweiCloud-SDK-SMSApiClient``) is set to propagate:
by default it writes its connection errors straight to stderr; this way the
app's logging config decides, through the redacting filter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import timezone
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from ..errors import ProviderError
from ..options import UNSET, Option, url_with_scheme
from ..phones import e164
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import short, transport_error
from .reports import (
    BadReceipt,
    ParsedReceipts,
    each_item,
    form_fields,
    ident,
    identified,
    json_items,
    phone_of,
    status_of,
    text,
    when,
)

_SDK_LOGGER = "HuaweiCloud-SDK-SMSApiClient"
_OK = "000000"

# A number's status carries no text; these are the documented ones (sms_05_0050).
_STATUS_TEXT = {
    "E200015": "待发送短信数量太大",
    "E200018": "国内短信发送方通道校验失败",
    "E200024": "没有国际短信能力",
    "E200025": "国际短信接收方通道校验失败",
    "E200026": "国际短信接收方匹配通道失败",
    "E200027": "匹配网关失败",
    "E200028": "模板变量校验失败",
    "E200029": "模板类型校验失败",
    "E200030": "模板未激活",
    "E200031": "协议校验失败",
    "E200032": "短信需要模板",
    "E200033": "模板类型不正确",
    "E200041": "同一短信内容接收号码重复",
}


def _endpoint(value: Any) -> str:
    url: str = url_with_scheme("https://", "http://", describe="be the app's access address, https://host[:port]")(
        value
    )
    return url.rstrip("/")


class HuaweiProvider(Provider[Any, Any]):
    name = "huawei"
    extra = "huawei"
    sdk_module = "huaweicloudsdksmsapi.v1"
    # batchSendSms: "to" takes at most 500 comma-separated numbers.
    max_per_request = 500
    takes_sign = True
    options = (
        Option("APP_KEY", secret=True, doc="the Huawei application's App Key (console: 应用管理)"),
        Option("APP_SECRET", secret=True, doc="the application's App Secret"),
        Option(
            "SENDER",
            hint=" (the channel number, 通道号, e.g. 'csms12345678')",
            doc='the channel number (通道号, `from`), e.g. `"csms12345678"`; the sign is bound to it',
        ),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → `{"id": "8ff55eac1d0b478ab3c06c3c6a492300", "params": ["code"]}` (positional)',
        ),
        Option("SIGN_NAME", UNSET, doc="sent as `signature`: only for a 通用模板 (general template) on mainland SMS"),
        Option(
            "ENDPOINT",
            "https://smsapi.cn-north-4.myhuaweicloud.com:443",
            _endpoint,
            doc="the application's access address (APP接入地址), `https://host[:port]`",
        ),
        Option(
            "STATUS_CALLBACK",
            UNSET,
            url_with_scheme("https://", "http://", describe="be an http(s) URL"),
            doc="URL Huawei posts each text's status report to (`statusCallback`, per request): your receipt URL, `https://example.com/sms_receipts/huawei?token=…`",
        ),
    )
    sdk_loggers = (_SDK_LOGGER, "urllib3.connectionpool")
    # sms_05_0003: one report per push, form fields, to STATUS_CALLBACK; sms_05_0063: up to 50
    # as JSON {"statusReportList": [...]}, to the app's batch address (when no statusCallback is sent)
    receipt_formats = ("application/x-www-form-urlencoded", "application/json")
    # International SMS is its own capability with its own templates (and, on Huawei, its own
    # application): a mainland template cannot text a number abroad.
    separate_intl_templates = True
    # sms_05_0050 and the per-number statuses of batchSendSms (sms_05_0051); every other code
    # fails over, the international-capability statuses included: "未开通国际短信能力" (E200024)
    # and the channel's coverage (E200025 "请联系华为云客服确认发送范围", E200026) describe the
    # account, not the number, and another vendor may reach it.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "E200024": "failed",  # 没有国际短信能力 (未开通国际短信能力)
        "E200025": "failed",  # 国际短信接收方通道校验失败
        "E200026": "failed",  # 国际短信接收方匹配通道失败
        "E200041": "rejected",  # 同一短信内容接收号码重复
        "E200028": "content",  # 模板变量校验失败: a value that does not fit the variable's type or length
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from huaweicloudsdksmsapi.v1 import SMSApiClient
        from huaweicloudsdksmsapi.v1.smsapi_credentials import SMSApiCredentials

        # retry_times=0: a retried send texts the user twice. The default timeout is (60, 120).
        config = _routed_config(self.proxies_for(settings["ENDPOINT"]))(timeout=(timeout, timeout), retry_times=0)
        self.client = (
            SMSApiClient.new_builder()
            .with_credentials(SMSApiCredentials(settings["APP_KEY"], settings["APP_SECRET"]))
            .with_endpoints([settings["ENDPOINT"]])
            .with_http_config(config)
            .build()
        )
        logging.getLogger(_SDK_LOGGER).propagate = True

    def format_phone(self, number: PhoneNumber) -> str:
        return e164(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> Any:
        from huaweicloudsdksmsapi.v1 import BatchSendSmsRequest, BatchSendSmsRequestBody

        fields: dict[str, Any] = {
            "_from": self.settings["SENDER"],
            "to": ",".join(phones),
            "template_id": payload.template.id,
        }
        if payload.params:
            fields["template_paras"] = json.dumps(payload.values(), ensure_ascii=False, separators=(",", ":"))
        if self.settings.get("STATUS_CALLBACK"):
            fields["status_callback"] = self.settings["STATUS_CALLBACK"]
        if payload.out_id:
            fields["extend"] = payload.out_id
        sign = self.sign_name(payload)
        if sign:
            fields["signature"] = sign
        return BatchSendSmsRequest(body=BatchSendSmsRequestBody(**fields))

    def call(self, request: Any) -> Any:
        from huaweicloudsdkcore.exceptions.exceptions import ConnectionException, SdkException, ServiceResponseException

        try:
            return self.client.batch_send_sms(request)
        except ServiceResponseException as exc:
            raise _http_error(exc) from None
        except ConnectionException as exc:
            # the SDK re-raises requests' error as its own, losing the type: classify the original
            raise transport_error(exc.__context__ or exc) from None
        except SdkException as exc:
            raise transport_error(Exception(str(exc.error_msg))) from None

    def parse(self, raw: Any, phones: Sequence[str]) -> Reply:
        code = getattr(raw, "code", None)
        if not code:
            raise ProviderError("bad_reply", "the reply has no code")
        if code != _OK:
            raise ProviderError(str(code), short(getattr(raw, "description", "") or ""))
        reply = _statuses(getattr(raw, "result", None) or [])
        if not reply.accepted and not reply.rejected:
            raise ProviderError("bad_reply", "the reply has no result")
        return reply

    # -- delivery receipts: 接收状态报告 (form) and 批量接收状态报告 (JSON); no query API is documented ----
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``smsMsgId, status, statusDesc, updateTime, extend, to, ...`` as form fields, or a list of
        them under ``statusReportList`` in JSON."""
        if "json" in content_type.lower() or body.lstrip().startswith((b"{", b"[")):
            return each_item(json_items(body, "statusReportList"), cls._pushed_report)
        form = form_fields(body)
        if "smsMsgId" not in form and "status" not in form:
            raise BadReceipt("not a status report (no smsMsgId, no status)")
        return each_item([form], cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport | None:
        """``DELIVRD`` is delivered, ``ACCEPTD`` (accepted, not final) is no report yet, anything else failed.

        ``updateTime`` is UTC; ``to`` comes only with ``extend`` (flask_sms always sends one).
        """
        word = text(item, "status", 16).upper()
        if word == "ACCEPTD":
            return None
        phone = phone_of(item, "to")
        message_id = ident(item, "smsMsgId")
        updated = when(item.get("updateTime"), timezone.utc)
        identified(message_id, phone, updated)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "extend", 128),
            status=status_of(word, ("DELIVRD",)),
            code=word,
            description=text(item, "statusDesc", 512),
            submitted_at=None,
            delivered_at=updated,
        )


def _statuses(results: Any) -> Reply:
    """Huawei answers one status per number: ``000000`` took it, any other code refused it (with our text for it)."""
    reply = Reply()
    for status in results:
        phone = str(status.origin_to or "")
        if status.status == _OK:
            reply.accepted[phone] = str(status.sms_msg_id or "")
        else:
            code = str(status.status)
            reply.rejected[phone] = (code, _STATUS_TEXT.get(code, ""))
    return reply


def _routed_config(proxies: Mapping[str, str | None]) -> Any:
    """An ``HttpConfig`` class whose proxies are the provider's decision.

    The SDK's own setting is one ``https`` proxy from host/port parts, used for
    ``https://`` endpoints only; with none, ``requests`` applies the environment.
    """
    from huaweicloudsdkcore.http.http_config import HttpConfig

    class RoutedHttpConfig(HttpConfig):  # type: ignore[misc]
        def get_proxy(self) -> dict[str, str | None]:
            return dict(proxies)

    return RoutedHttpConfig


def _http_error(exc: Any) -> ProviderError:
    """Huawei answers request-level errors as ``{"code": "E000xxx", "description": ...}`` with HTTP 4xx/5xx.

    The SDK reads only ``code``/``message`` pairs, so it leaves that JSON in ``error_msg``.
    """
    status = int(getattr(exc, "status_code", 0) or 0)
    text = str(getattr(exc, "error_msg", "") or "")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"]:
        return ProviderError(body["code"], short(body.get("description") or ""))
    return ProviderError(f"http_{status}", short(text))
