"""NetEase Yunxin SMS (网易云信短信) through its documented HTTP API (there is no maintained SDK).

``sendtemplate.action``: a form with ``templateid``, ``mobiles`` (a JSON
array of up to 100 numbers: mainland 11 digits, elsewhere ``+cc-number``)
and ``params`` (a JSON array of the template's values, in order). The reply
is ``{"code": 200, "msg": ..., "obj": <sendid>}``; errors keep HTTP 200 with
another ``code``.

Not ``sendcode.action``: it texts one number a code of its own (or ours in
``authCode``) and echoes that code in its reply; the template send fits the
template-and-values model every other vendor here uses and carries no code
back.

Auth: the ``AppKey``, ``Nonce``, ``CurTime`` headers and ``CheckSum =
sha1(AppSecret + Nonce + CurTime)`` in lower-case hex, valid five minutes.
The body is not signed: keep the endpoint ``https://``. There is no
correlation field: receipts are matched on the ``sendid``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar

from phonenumbers import PhoneNumber, national_significant_number

from ..errors import ProviderError, SmsError
from ..options import Option, host, scheme
from ..phones import e164, is_mainland
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import http_reply, short, transport_error
from .reports import (
    ForgedReceipt,
    ParsedReceipts,
    each_item,
    ident,
    identified,
    json_items,
    phone_of,
    status_of,
    text,
    when,
)

NeteaseRequest = tuple[dict[str, str], dict[str, str]]  # headers, form
NeteaseRaw = tuple[int, bytes]  # HTTP status, body
_OK = "200"


def checksum(app_secret: str, nonce: str, cur_time: str) -> str:
    """NetEase's ``CheckSum`` header: lower-case hex SHA-1 of secret, nonce and time."""
    return hashlib.sha1(f"{app_secret}{nonce}{cur_time}".encode()).hexdigest()


class NeteaseProvider(Provider[NeteaseRequest, NeteaseRaw]):
    name = "netease"
    # sendtemplate: "mobiles" takes at most 100 numbers.
    max_per_request = 100
    options = (
        Option("APP_KEY", secret=True, doc="the NetEase Yunxin AppKey"),
        Option("APP_SECRET", secret=True, doc="the AppSecret that goes with it (it signs each request's `CheckSum`)"),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → `{"id": "19000001", "params": ["code"]}` (`templateid`; values positional)',
        ),
        Option("ENDPOINT", "api.netease.im", host("api.netease.im"), doc="`host` or `host:port` of the API"),
        Option("SCHEME", "https", scheme, doc='`"http"` or `"https"`'),
    )
    sdk_loggers = ("urllib3.connectionpool",)
    # the console's 抄送 (data copy) of SMS status reports: JSON, answered {"code": 200}
    receipt_formats = ("application/json",)
    # the server API's code table; every other code fails over
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "416": "rejected",  # 频率控制: too many texts to this number
        "417": "rejected",  # 重复操作
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        self.session = self.http_session(f"{settings['SCHEME']}://{settings['ENDPOINT']}/")
        self.url = f"{settings['SCHEME']}://{settings['ENDPOINT']}/sms/sendtemplate.action"
        self.query_url = f"{settings['SCHEME']}://{settings['ENDPOINT']}/sms/querystatus.action"

    def format_phone(self, number: PhoneNumber) -> str:
        national = national_significant_number(number)
        return national if is_mainland(number) else f"+{number.country_code}-{national}"

    def _auth_headers(self) -> dict[str, str]:
        """``AppKey``, a fresh ``Nonce``, ``CurTime`` and their ``CheckSum``: every request carries them."""
        nonce, now = secrets.token_hex(16), str(int(time.time()))
        return {
            "AppKey": self.settings["APP_KEY"],
            "Nonce": nonce,
            "CurTime": now,
            "CheckSum": checksum(self.settings["APP_SECRET"], nonce, now),
        }

    def build_request(self, phones: Sequence[str], payload: Payload) -> NeteaseRequest:
        headers = self._auth_headers()
        form = {
            "templateid": payload.template.id,
            "mobiles": json.dumps(list(phones), separators=(",", ":")),
            "params": json.dumps(payload.values(), ensure_ascii=False, separators=(",", ":")),
        }
        return headers, form

    def call(self, request: NeteaseRequest) -> NeteaseRaw:
        headers, form = request
        response = self.session.post(self.url, data=form, headers=headers, timeout=self.timeout)
        return response.status_code, response.content

    def parse(self, raw: NeteaseRaw, phones: Sequence[str]) -> Reply:
        body = http_reply(*raw, self.name, _error)
        if not isinstance(body, dict) or str(body.get("code")) != _OK or body.get("obj") in (None, ""):
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        # one sendid for the request: every number's message id
        return Reply(accepted=dict.fromkeys(phones, str(body["obj"])))

    # -- delivery receipts: the 抄送 push (signed like Yunxin's other copies), querystatus.action -----
    @classmethod
    def verify_receipt(cls, settings: Mapping[str, Any] | None, headers: Mapping[str, str], body: bytes) -> None:
        """A push carrying ``CheckSum`` must match: ``MD5`` = md5(body), ``CheckSum`` = sha1(AppSecret + MD5 +
        CurTime), with the account's ``APP_SECRET``. One without ``CheckSum`` is read on the receipt token alone."""
        secret = (settings or {}).get("APP_SECRET")
        checksum = headers.get("checksum")
        if not secret or checksum is None:
            return
        digest = hashlib.md5(body).hexdigest()
        if not hmac.compare_digest(headers.get("md5", "").strip().lower().encode(), digest.encode()):
            raise ForgedReceipt("the MD5 header does not match the body")
        expected = hashlib.sha1(f"{secret}{digest}{headers.get('curtime', '')}".encode()).hexdigest()
        if not hmac.compare_digest(checksum.strip().lower().encode(), expected.encode()):
            raise ForgedReceipt("the CheckSum does not match SMS_NETEASE_APP_SECRET")

    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``{sendid, mobile, status, updatetime}`` (the shape querystatus answers), one object or an array."""
        return each_item(json_items(body), cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """``status`` 1 is delivered, 2 failed, 3 stopped as spam (failed); there is no correlation field."""
        phone = phone_of(item, "mobile")
        message_id = ident(item, "sendid")
        updated = when(item.get("updatetime"))
        identified(message_id, phone, updated)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id="",
            status=status_of(item.get("status"), ("1",), ("2", "3")),
            code=text(item, "status", 8),
            description="",
            submitted_at=None,
            delivered_at=updated,
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return b'{"code":200}', "application/json"

    def fetch_reports(
        self, *, phone: PhoneNumber | None = None, day: date | None = None, message_id: str | None = None
    ) -> list[DeliveryReport]:
        """``querystatus.action`` for one ``sendid`` (the message id of every number of one request)."""
        if not message_id:
            raise SmsError("netease's querystatus needs the sendid: fetch_reports('netease', message_id=...)")
        items = self._query_status(message_id)
        wanted = None if phone is None else e164(phone)
        reports = each_item([{**item, "sendid": message_id} for item in items if isinstance(item, dict)], self._queried)
        return [r for r in reports.reports if wanted is None or r.phone == wanted]

    def _query_status(self, sendid: str) -> list[Any]:
        try:
            response = self.session.post(
                self.query_url, data={"sendid": sendid}, headers=self._auth_headers(), timeout=self.timeout
            )
            body = http_reply(response.status_code, response.content, self.name, _error)
        except ProviderError as exc:
            raise SmsError(f"netease querystatus failed: {exc.code} {exc.message}".rstrip()) from None
        except Exception as exc:  # noqa: BLE001 -- a transport fault, said plainly
            raise SmsError(f"netease querystatus failed: {transport_error(exc)}") from None
        items = body.get("obj") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise SmsError(f"netease querystatus failed: unexpected reply {short(body)}")
        return items

    def _queried(self, item: dict[str, Any]) -> DeliveryReport | None:
        """A querystatus entry with a final status (0 is still waiting for its receipt)."""
        if text(item, "status", 8) in ("", "0"):
            return None
        return dataclasses.replace(self._pushed_report(item), provider=self.name)


def _error(body: Any) -> tuple[str, str] | None:
    if isinstance(body, dict) and "code" in body and str(body["code"]) != _OK:
        return str(body["code"]), str(body.get("msg") or body.get("desc") or "")
    return None
