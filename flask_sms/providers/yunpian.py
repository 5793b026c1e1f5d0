"""Yunpian (云片) through its documented HTTP API v2 (there is no maintained SDK).

``single_send.json`` for one number, ``batch_send.json`` for up to 1000
mainland numbers (comma-separated, 11 digits). International numbers
(``+`` and country code) go one per request, as Yunpian requires. Form
fields: ``apikey``, ``mobile``, ``text`` (the whole message, 【sign】
included, matching an approved template) and, with ``SMS_YUNPIAN_SEND_UID``,
``uid``, echoed in the status push (our correlation id): Yunpian keeps ``uid``
off on an account until its support enables it, so it is sent only when asked.
The text is built from a content template with ``str.format`` fields, as for
Ihuyi. Numbers abroad need international templates of their own
(``SMS_YUNPIAN_INTL_TEMPLATES``).

Auth is the ``apikey`` form field itself: there is no request signature, so
the endpoint must stay ``https://``. Errors come with HTTP 400 as
``{"code", "msg", "detail"}``; a batch answers one item per number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar
from urllib.parse import unquote

from phonenumbers import PhoneNumber, national_significant_number

from ..errors import ProviderError, SmsError
from ..options import UNSET, Option, boolean, host, scheme, url_with_scheme
from ..phones import e164, is_mainland
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, Template, templates, text_payload
from .replies import http_reply, per_number, short, transport_error
from .reports import (
    BadItem,
    BadReceipt,
    ParsedReceipts,
    beijing_day,
    form_fields,
    ident,
    identified,
    json_array,
    phone_of,
    status_of,
    text,
    today_in_beijing,
    when,
)

YunpianRequest = tuple[str, dict[str, str]]  # url, form
YunpianRaw = tuple[int, bytes]  # HTTP status, body
#: get_record.json: its largest page; a stop for a reply that never runs dry
_RECORD_PAGE, _RECORD_PAGES = 100, 100


class YunpianProvider(Provider[YunpianRequest, YunpianRaw]):
    name = "yunpian"
    # batch_send: "一次不要超过1000个"; international numbers go one per request (batches()).
    max_per_request = 1000
    options = (
        Option("API_KEY", secret=True, doc="the Yunpian APIKEY"),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → the whole text with named fields, 【sign】 included, matching an approved template, e.g. `"【云片网】您的验证码是{code}"`',
        ),
        Option(
            "ENDPOINT",
            "sms.yunpian.com",
            host("sms.yunpian.com"),
            doc="`host` or `host:port` of the v2 API (overseas: `us.yunpian.com`)",
        ),
        Option("SCHEME", "https", scheme, doc='`"http"` or `"https"`'),
        Option(
            "CALLBACK_URL",
            UNSET,
            url_with_scheme("https://", "http://", describe="be an http(s) URL"),
            doc="sent as `callback_url`: where Yunpian pushes this text's status report (your receipt URL, `https://example.com/sms_receipts/yunpian?token=…`)",
        ),
        # uid (our out_id, echoed in pushes) is off on an account until Yunpian enables it
        Option(
            "SEND_UID",
            False,
            boolean,
            doc="send the `out_id` as `uid` (echoed in pushes): Yunpian keeps `uid` off on an account until its support enables it, so turn this on only then",
        ),
    )
    sdk_loggers = ("urllib3.connectionpool",)
    # domestic_push_report / intl_push_report: the form field sms_status, answered with the text SUCCESS
    receipt_formats = ("application/x-www-form-urlencoded",)
    # the official code table (returnvalue_common; the official SDKs' Code constants): final for
    # the number, or a refusal of the text; every other code fails over, Yunpian's coverage
    # included (20 REGION_NOT_SUPPORT, 23 REGION_NOT_IN_TPL_LIST, 28 CARRIER_FAILED: the
    # account's and the template's reach, not the number).
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "8": "rejected",  # 同一手机号30秒内重复提交相同的内容
        "9": "rejected",  # 同一手机号5分钟内重复提交相同内容超过3次
        "10": "rejected",  # 手机号黑名单过滤
        "17": "rejected",  # 24小时内同一手机号发送次数超过限制
        "22": "rejected",  # 1小时内同一手机号发送次数超过限制
        "20": "failed",  # 不支持的国家地区
        "23": "failed",  # 发往模板支持的国家列表之外的地区
        "28": "failed",  # 不支持的运营商
        "4": "content",  # 关键词屏蔽 (BLACK_WORD)
    }
    # International SMS needs templates of its own (国际短信模板): a mainland text cannot go abroad.
    separate_intl_templates = True

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        self.session = self.http_session(f"{settings['SCHEME']}://{settings['ENDPOINT']}/")
        self.session.headers["Accept"] = "application/json;charset=utf-8"
        self.base = f"{settings['SCHEME']}://{settings['ENDPOINT']}/v2/sms"

    def format_phone(self, number: PhoneNumber) -> str:
        return national_significant_number(number) if is_mainland(number) else e164(number)

    def batches(self, phones: list[str]) -> list[list[str]]:
        """Mainland numbers in runs of 1000; "国际短信接口每次调用只能发送一条短信"."""
        mainland = [phone for phone in phones if not phone.startswith("+")]
        abroad = [[phone] for phone in phones if phone.startswith("+")]
        return super().batches(mainland) + abroad

    def render(self, purpose: str, template: Template, params: Mapping[str, Any]) -> Payload:
        """Yunpian takes the whole text: fill the content template's ``str.format`` fields."""
        return text_payload(template, params, self.name, purpose)

    def build_request(self, phones: Sequence[str], payload: Payload) -> YunpianRequest:
        form = {"apikey": self.settings["API_KEY"], "mobile": ",".join(phones), "text": payload.text}
        if payload.out_id and self.settings.get("SEND_UID"):
            form["uid"] = payload.out_id
        if self.settings.get("CALLBACK_URL"):
            form["callback_url"] = self.settings["CALLBACK_URL"]
        endpoint = "single_send.json" if len(phones) == 1 else "batch_send.json"
        return f"{self.base}/{endpoint}", form

    def call(self, request: YunpianRequest) -> YunpianRaw:
        url, form = request
        response = self.session.post(url, data=form, timeout=self.timeout)
        return response.status_code, response.content

    def parse(self, raw: YunpianRaw, phones: Sequence[str]) -> Reply:
        body = http_reply(*raw, self.name, _error)  # errors: HTTP 400 with "code" (0 is success)
        if isinstance(body, dict) and "data" in body:  # batch_send: one item per number
            return per_number(body["data"], phones, "0", "sid", _message)
        if not isinstance(body, dict) or str(body.get("code")) != "0" or len(phones) != 1:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        return Reply(accepted={phones[0]: str(body.get("sid", ""))})

    # -- delivery receipts: the status push (推送状态报告), get_record.json ---------------------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``sms_status`` = a url-encoded JSON array (up to 100) of ``{sid, uid, user_receive_time,
        error_msg, error_detail, mobile, report_status}``; encoded twice by some senders, read either way."""
        raw = form_fields(body).get("sms_status")
        if raw is None:
            raise BadReceipt("no sms_status field")
        if raw.lstrip().startswith("%"):
            raw = unquote(raw)
        return json_array(raw.encode("utf-8"), cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """``report_status`` ``SUCCESS`` or ``FAIL``; ``mobile`` has no ``+86``; ``uid`` is our ``out_id``."""
        phone = phone_of(item, "mobile")
        message_id = ident(item, "sid")
        received = when(item.get("user_receive_time"))
        identified(message_id, phone, received)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "uid"),
            status=status_of(item.get("report_status"), ("SUCCESS",), ("FAIL",)),
            code=text(item, "error_msg", 64),
            description=text(item, "error_detail", 512),
            submitted_at=when(item.get("send_time")),
            delivered_at=received,
        )

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        return b"SUCCESS", "text/plain"

    def fetch_reports(
        self, *, phone: PhoneNumber | None = None, day: date | None = None, message_id: str | None = None
    ) -> list[DeliveryReport]:
        """``get_record.json`` for one number over one Beijing day (default today), every page of 100."""
        if phone is None:
            raise SmsError("yunpian's get_record needs a phone number: fetch_reports('yunpian', phone=...)")
        first, last = beijing_day(day or today_in_beijing())
        form = {
            "apikey": self.settings["API_KEY"],
            "mobile": self.format_phone(phone),
            "start_time": first.strftime("%Y-%m-%d %H:%M:%S"),
            "end_time": last.strftime("%Y-%m-%d %H:%M:%S"),
            "page_size": str(_RECORD_PAGE),
            "type": "all",
        }
        reports: list[DeliveryReport] = []
        for page in range(1, _RECORD_PAGES + 1):
            items = self._record_page({**form, "page_num": str(page)})
            reports.extend(report for report in map(_recorded_report, items) if report is not None)
            if len(items) < _RECORD_PAGE:
                break
        return [
            dataclasses.replace(r, provider=self.name) for r in reports if not message_id or r.message_id == message_id
        ]

    def _record_page(self, form: dict[str, str]) -> list[Any]:
        try:
            response = self.session.post(f"{self.base}/get_record.json", data=form, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 -- a transport fault, said plainly
            raise SmsError(f"yunpian get_record failed: {transport_error(exc)}") from None
        try:
            body = http_reply(response.status_code, response.content, self.name, _error)
        except ProviderError as exc:
            raise SmsError(f"yunpian get_record failed: {exc.code} {exc.message}".rstrip()) from None
        if not isinstance(body, list):
            raise SmsError(f"yunpian get_record failed: unexpected reply {short(body)}")
        return body


def _recorded_report(item: Any) -> DeliveryReport | None:
    """One get_record entry with a final ``report_status``; ``None`` while UNKNOWN or when unreadable."""
    if not isinstance(item, dict) or text(item, "report_status", 16).upper() not in ("SUCCESS", "FAIL"):
        return None
    try:
        return YunpianProvider._pushed_report(item)
    except (BadItem, ValueError, TypeError):
        return None


def _error(body: Any) -> tuple[str, str] | None:
    if isinstance(body, dict) and "code" in body and str(body["code"]) != "0":
        return str(body["code"]), _message(body)
    return None


def _message(body: Mapping[str, Any]) -> str:
    """``msg`` with its ``detail`` (which names the field at fault, e.g. the mobile number's format)."""
    text, detail = str(body.get("msg") or ""), str(body.get("detail") or "")
    return f"{text}: {detail}" if detail and detail != text else text
