"""Volcengine SMS (火山引擎短信服务) through its documented signed HTTP API.

SendSms, API version 2020-01-01: up to 200 numbers, comma-separated, the
sign text, a JSON-object ``TemplateParam`` string and a ``Tag`` echoed in the
receipt as ``ext`` (our correlation id). One reply per request: a
``MessageID`` per number in order, or ``ResponseMetadata.Error``.

Why not the official ``volcengine`` SDK: it covers every Volcengine service
(about 23 MB installed, 13 extra distributions) to compute one HMAC; every
SMS call in it is wrapped in a blind retry (a second text after a read
timeout or a 5xx); its ``SmsService`` is a process-wide singleton, so a
second account silently replaces the first's keys; and it reads credentials
from the environment and ``~/.volc`` when none are given. The signature
(Volcengine OpenAPI HMAC-SHA256, docs 6369/67269) is a few lines of stdlib,
sent over one pooled ``requests`` session as for Ihuyi.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any, ClassVar

from phonenumbers import PhoneNumber, national_significant_number

from ..errors import ProviderError, SmsError
from ..options import Option, host, scheme
from ..phones import e164, is_mainland
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import load_json, short
from .reports import ParsedReceipts, ident, identified, json_array, phone_of, status_of, text, when

_SERVICE = "volcSMS"
_QUERY = "Action=SendSms&Version=2020-01-01"  # already in canonical form: encoded, sorted by name
_SIGNED_HEADERS = "content-type;host;x-content-sha256;x-date"

VolcengineRequest = tuple[str, dict[str, str], bytes]  # url, headers, body
VolcengineRaw = tuple[int, bytes]  # HTTP status, body


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sign(
    access_key_id: str, secret: str, region: str, host_name: str, body: bytes, x_date: str, query: str = _QUERY
) -> dict[str, str]:
    """The headers of a signed ``POST /?<query>`` (Volcengine OpenAPI HMAC-SHA256); ``query`` in canonical form."""
    body_hash = _sha256(body)
    headers = {
        "Content-Type": "application/json",
        "Host": host_name,
        "X-Content-Sha256": body_hash,
        "X-Date": x_date,
    }
    canonical_headers = "".join(f"{name.lower()}:{value.strip()}\n" for name, value in headers.items())
    canonical = f"POST\n/\n{query}\n{canonical_headers}\n{_SIGNED_HEADERS}\n{body_hash}"
    scope = f"{x_date[:8]}/{region}/{_SERVICE}/request"
    to_sign = "\n".join(["HMAC-SHA256", x_date, scope, _sha256(canonical.encode("utf-8"))])
    key = secret.encode("utf-8")
    for part in (x_date[:8], region, _SERVICE, "request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={_SIGNED_HEADERS}, Signature={signature}"
    )
    return headers


class VolcengineProvider(Provider[VolcengineRequest, VolcengineRaw]):
    name = "volcengine"
    # SendSms: PhoneNumbers takes at most 200 comma-separated numbers.
    max_per_request = 200
    takes_sign = True
    options = (
        Option("ACCESS_KEY_ID", secret=True, doc="the Volcengine AccessKey ID"),
        Option("SECRET_ACCESS_KEY", secret=True, doc="the Secret Access Key that goes with it"),
        Option(
            "SMS_ACCOUNT",
            hint=" (the message group id, 消息组ID, e.g. '7a2b1c3d')",
            doc="the message group id (消息组ID, sent as `SmsAccount`)",
        ),
        Option("SIGN_NAME", doc='the sign text; a template\'s own `"sign"` replaces it for that purpose'),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → `{"id": "ST_7d2a1b3c", "params": ["code"]}` (sent as a JSON object)',
        ),
        Option("REGION", "cn-north-1", doc="the region the request is signed for"),
        Option(
            "ENDPOINT",
            "sms.volcengineapi.com",
            host("sms.volcengineapi.com"),
            doc="`host` or `host:port` of the SMS API",
        ),
        Option("SCHEME", "https", scheme, doc='`"http"` or `"https"`'),
    )
    sdk_loggers = ("urllib3.connectionpool",)
    # 6361/171584: the 状态报告地址 of 回执配置 receives a JSON array
    receipt_formats = ("application/json",)
    # docs 6361/173288 (发送接口错误码); every other code fails over, RE:0011 included:
    # "请在允许的地区内进行下发或者申请对应地区的短信下发" is the message group's permission.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "RE:0006": "rejected",  # 手机号格式错误
        "RE:0011": "failed",  # 不支持对应地区下发
    }
    # Templates are typed CN_* (mainland) or I18N_* (abroad): a mainland one cannot text a number abroad.
    separate_intl_templates = True

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        self.session = self.http_session(f"{settings['SCHEME']}://{settings['ENDPOINT']}/")
        self.url = f"{settings['SCHEME']}://{settings['ENDPOINT']}/?{_QUERY}"

    def format_phone(self, number: PhoneNumber) -> str:
        """Mainland ``+86`` and the 11 digits; abroad country code + number, no ``+`` (RE:0006: "国际/港澳台消息：
        国际区号+号码，例如8520000****")."""
        if is_mainland(number):
            return e164(number)
        return f"{number.country_code}{national_significant_number(number)}"

    def build_request(self, phones: Sequence[str], payload: Payload) -> VolcengineRequest:
        fields: dict[str, str] = {
            "SmsAccount": self.settings["SMS_ACCOUNT"],
            "Sign": self.sign_name(payload),
            "TemplateID": payload.template.id,
            "PhoneNumbers": ",".join(phones),
        }
        if payload.params:
            fields["TemplateParam"] = json.dumps(dict(payload.params), ensure_ascii=False, separators=(",", ":"))
        if payload.out_id:
            fields["Tag"] = payload.out_id
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        x_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        headers = sign(
            self.settings["ACCESS_KEY_ID"],
            self.settings["SECRET_ACCESS_KEY"],
            self.settings["REGION"],
            self.settings["ENDPOINT"],
            body,
            x_date,
        )
        return self.url, headers, body

    def call(self, request: VolcengineRequest) -> VolcengineRaw:
        url, headers, body = request
        response = self.session.post(url, data=body, headers=headers, timeout=self.timeout)
        return response.status_code, response.content

    def parse(self, raw: VolcengineRaw, phones: Sequence[str]) -> Reply:
        status, content = raw
        metadata = _metadata(content)
        _raise_for_error(metadata, status, content)
        body = load_json(content, self.name)  # not JSON: bad_reply
        result = body.get("Result") if isinstance(body, dict) else None
        ids = result.get("MessageID") if isinstance(result, dict) else None
        if not isinstance(ids, list):
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        request_id = str(metadata.get("RequestId") or "") if isinstance(metadata, dict) else ""
        # one MessageID per number, in the order sent
        accepted = {phone: str(ids[index]) if index < len(ids) else "" for index, phone in enumerate(phones)}
        return Reply(accepted=accepted, request_id=request_id)

    # -- delivery receipts: the status-report callback; GetSmsSendDetails is not read ----------------
    def fetch_reports(
        self, *, phone: PhoneNumber | None = None, day: date | None = None, message_id: str | None = None
    ) -> list[DeliveryReport]:
        raise SmsError(
            "volcengine: no query API is read (GetSmsSendDetails' parameters could not be confirmed in its "
            "docs): use its push (POST .../sms_receipts/volcengine) or its console"
        )

    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """A JSON array of ``{message_id, mobile, status_code, description, ext, send_time, recv_time, ...}``."""
        return json_array(body, cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """``status_code`` ``"0"`` is delivered, any other is the failure's code; the times are epoch milliseconds."""
        phone = phone_of(item, "mobile")
        message_id = ident(item, "message_id")
        received = when(item.get("recv_time"))
        identified(message_id, phone, received)
        status = status_of(item.get("status_code"), ("0",))
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "ext"),
            status=status,
            code=text(item, "status_code", 64),
            description=text(item, "description", 512),
            submitted_at=when(item.get("send_time")),
            delivered_at=received,
        )


def _metadata(content: bytes) -> Any:
    """The reply's ``ResponseMetadata``, read before the status so a gateway error body (HTTP 4xx/5xx) is read too."""
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    return body.get("ResponseMetadata") if isinstance(body, dict) else None


def _raise_for_error(metadata: Any, status: int, content: bytes) -> None:
    """The vendor's own error code first (SMS codes, and gateway codes with HTTP 4xx/5xx), else the HTTP status."""
    error = metadata.get("Error") if isinstance(metadata, dict) else None
    if isinstance(error, dict) and error.get("Code"):
        raise ProviderError(str(error["Code"]), short(error.get("Message") or ""))
    if status != 200:
        raise ProviderError(f"http_{status}", short(content.decode("utf-8", "replace")))
