"""Qiniu Cloud SMS (七牛云短信) through the official ``qiniu`` package.

``POST /v1/message``: a JSON body with ``template_id``, the ``mobiles`` list
(mainland numbers, 11 digits), the template values as an object, an optional
``signature_id`` (for templates with no bound sign) and ``seq``, echoed in the
status push (our correlation id). Success is ``{"job_id": ...}``; every error
is ``{"error": <name>, "message": ...}`` with HTTP 4xx/5xx. Per-number results
come only in receipts.

Numbers abroad go to ``POST /v1/message/oversea`` (sms/10488): ``+`` E.164
numbers, an international template (``SMS_QINIU_INTL_TEMPLATES``), the values
and an optional ``sender_id``; it answers ``{"message_id": ...}`` and takes no
``seq``.

Auth is Qiniu's "Qiniu" token (HMAC-SHA1 over method, path, host,
content type, ``X-Qiniu-*`` headers and the JSON body), computed by the
package's ``QiniuMacAuth``/``QiniuMacRequestsAuth``.

Why not the package's ``Sms.sendMessage``: it cannot send ``seq`` or
``signature_id``; its timeout is one process-wide setting
(``qiniu.config``), shared with every other Qiniu use in the app; and it
never raises (a timeout and a refused connection come back as ``status -1``).
So the documented body goes over one pooled ``requests`` session, as for
Ihuyi, signed by the package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from phonenumbers import PhoneNumber, national_significant_number

from ..errors import ProviderError
from ..options import UNSET, Option, host, scheme
from ..phones import e164, is_mainland
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import http_reply, short
from .reports import ParsedReceipts, each_item, ident, identified, json_items, phone_of, status_of, text, when

QiniuRequest = tuple[str, bytes]  # url, JSON body
QiniuRaw = tuple[int, bytes, str]  # HTTP status, body, X-Reqid


class QiniuProvider(Provider[QiniuRequest, QiniuRaw]):
    name = "qiniu"
    extra = "qiniu"
    sdk_module = "qiniu"
    # The send API publishes no maximum for "mobiles"; 100 is a cautious batch.
    max_per_request = 100
    takes_sign = True  # a template's "sign" is the purpose's own signature_id
    options = (
        Option("ACCESS_KEY", secret=True, doc="the Qiniu AccessKey"),
        Option("SECRET_KEY", secret=True, doc="the SecretKey that goes with it"),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → `{"id": "1374401547327758336", "params": ["code"]}` (sent as `parameters`, a JSON object; Qiniu takes no Chinese in values); a `"sign"` here is a signature id',
        ),
        Option("SIGNATURE_ID", UNSET, doc="sent as `signature_id`: only for templates with no bound sign"),
        Option(
            "SENDER_ID",
            UNSET,
            doc="sent as `sender_id` with numbers abroad (`/v1/message/oversea`): the SenderID they see",
        ),  # oversea: the SenderID shown abroad, when the account has one
        Option("ENDPOINT", "sms.qiniuapi.com", host("sms.qiniuapi.com"), doc="`host` or `host:port` of the SMS API"),
        Option("SCHEME", "https", scheme, doc='`"http"` or `"https"`'),
    )
    sdk_loggers = ("qiniu", "urllib3.connectionpool")
    # sms/5910 消息推送: the 状态回调 is {"items": [...]}, answered HTTP 200 (else retried within 10 minutes)
    receipt_formats = ("application/json",)
    # sms/5849: the send API's errors are account- or request-level, so all of them fail over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {}
    # International and mainland templates are separate (sms/10488: an oversea template per send)
    separate_intl_templates = True

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from qiniu import QiniuMacAuth
        from qiniu.auth import QiniuMacRequestsAuth

        self.session = self.http_session(f"{settings['SCHEME']}://{settings['ENDPOINT']}/")
        self.auth = QiniuMacRequestsAuth(QiniuMacAuth(settings["ACCESS_KEY"], settings["SECRET_KEY"]))
        self.url = f"{settings['SCHEME']}://{settings['ENDPOINT']}/v1/message"
        self.oversea_url = f"{self.url}/oversea"

    def format_phone(self, number: PhoneNumber) -> str:
        """Mainland: the 11 digits (``/v1/message``); abroad: E.164 with ``+`` (``/v1/message/oversea``)."""
        return national_significant_number(number) if is_mainland(number) else e164(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> QiniuRequest:
        body: dict[str, Any] = {
            "template_id": payload.template.id,
            "mobiles": list(phones),
            "parameters": dict(payload.params),
        }
        if phones and phones[0].startswith("+"):  # a request is all mainland or all abroad
            if self.settings.get("SENDER_ID"):
                body["sender_id"] = self.settings["SENDER_ID"]
            return self.oversea_url, _json(body)
        sign = payload.template.sign or self.settings.get("SIGNATURE_ID")
        if sign:
            body["signature_id"] = sign
        if payload.out_id:
            body["seq"] = payload.out_id
        return self.url, _json(body)

    def call(self, request: QiniuRequest) -> QiniuRaw:
        url, body = request
        response = self.session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json"},
            auth=self.auth,
            timeout=self.timeout,
        )
        return response.status_code, response.content, response.headers.get("X-Reqid", "")

    def parse(self, raw: QiniuRaw, phones: Sequence[str]) -> Reply:
        status, content, request_id = raw
        body = http_reply(status, content, self.name, _error)
        # /v1/message answers a job_id, /v1/message/oversea a message_id
        job_id = (body.get("job_id") or body.get("message_id")) if isinstance(body, dict) else None
        if not job_id:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        # one job for the request: its id is every number's message id
        return Reply(accepted=dict.fromkeys(phones, str(job_id)), request_id=request_id)

    # -- delivery receipts: the status callback; no query API is read -------------------------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``{"items": [{mobile, message_id, status, delivrd_at, error, job_id, seq}]}``."""
        return each_item(json_items(body, "items"), cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """``DELIVRD`` or ``FAILED``; the id is the ``job_id`` a batch send answered (what the send recorded),
        else the ``message_id`` of a single send."""
        phone = phone_of(item, "mobile")
        message_id = ident(item, "job_id") or ident(item, "message_id")
        delivered = when(item.get("delivrd_at"))
        identified(message_id, phone, delivered)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "seq"),
            status=status_of(item.get("status"), ("DELIVRD",), ("FAILED",)),
            code=text(item, "error", 64) or text(item, "status", 16).upper(),
            description="",
            submitted_at=None,
            delivered_at=delivered,
        )


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error(body: Any) -> tuple[str, str] | None:
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"]), str(body.get("message") or "")
    return None
