"""Helpers for reading delivery reports (pushed or polled), shared by the provider modules.

A push body as a whole is either usable or :class:`BadReceipt` (the route answers
400). Inside a usable batch each item is read on its own, leniently: a field the
report does not need that cannot be read is left empty (a description over the
length cap is cut, an ``out_id`` that is an object is ``""``, a time in another
layout is read or left ``None``), and the documented variants are read as such
(a ``+86`` number, a Unix time, a status in lower case). An item is dropped only
without what identifies it — a message id, or else the phone and a time — or
without a status; each drop is counted under its reason (``ParsedReceipts.dropped``)
and the route logs the counts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone, tzinfo
from typing import Any

import phonenumbers

from ..results import BEIJING, DeliveryReport, ReportStatus


class BadReceipt(ValueError):
    """A push body that is not the vendor's documented shape at all."""


class ForgedReceipt(ValueError):
    """A push whose vendor signature (Baidu's ``signature``, NetEase's ``CheckSum``) does not match: not the vendor's."""


class BadItem(ValueError):
    """One report in a batch that cannot be read; the text is the reason it is dropped."""


#: the reasons an item is dropped, as the log counts them
NOT_AN_OBJECT = "not an object"
NO_ID = "without a message id (or a phone and a time)"
NO_STATUS = "without a status"
UNREADABLE = "unreadable"


@dataclass
class ParsedReceipts:
    reports: list[DeliveryReport] = field(default_factory=list)
    #: reason -> how many items were dropped for it
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(self.dropped.values())

    def drop(self, reason: str) -> None:
        self.dropped[reason] += 1


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadReceipt("the body is not JSON") from None


_MAX_FORM_FIELDS = 64


def form_fields(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (Huawei, Yunpian) as a dict (the last of a repeated name)."""
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadReceipt("the body is not a form") from None
    return dict(pairs)


def json_items(body: bytes, field_name: str | None = None) -> list[Any]:
    """The reports of a JSON push: the array itself, the array under ``field_name``, or one object as one report."""
    data = json_body(body)
    if field_name is not None and isinstance(data, dict):
        data = data.get(field_name)
        if not isinstance(data, list):
            raise BadReceipt(f"the body has no {field_name} array")
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise BadReceipt("the body is not a JSON object or array")
    return data


def json_array(body: bytes, read: Callable[[Any], DeliveryReport]) -> ParsedReceipts:
    """A push whose body is a JSON array of reports (Aliyun, Tencent, Volcengine), each item read on its own."""
    items = json_body(body)
    if not isinstance(items, list):
        raise BadReceipt("the body is not a JSON array")
    return each_item(items, read)


def each_item(items: Iterable[Any], read: Callable[[Any], DeliveryReport | None]) -> ParsedReceipts:
    """Read every item; a bad one is dropped under its reason, the good ones are kept.

    ``read`` returns ``None`` for an item that is not a final report (a vendor's
    "accepted" status): it is dropped under that reason too, not an error.
    """
    parsed = ParsedReceipts()
    append = parsed.reports.append
    for item in items:
        if type(item) is not dict:
            parsed.drop(NOT_AN_OBJECT)
            continue
        try:
            report = read(item)
        except BadItem as exc:
            parsed.drop(str(exc))
            continue
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            parsed.drop(UNREADABLE)
            continue
        if report is None:
            parsed.drop("not a final status")
        else:
            append(report)
    return parsed


# -- fields --------------------------------------------------------------------------------------
ID_LIMIT = 256  # the storage keys are built from ids (receipts._digest)


def ident(item: dict[str, Any], name: str) -> str:
    """An identifying field (a message id): a string or a number, ``""`` when absent; too long is a bad item."""
    value = item.get(name)
    if type(value) is str:
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)  # Yunpian's sid is a 64-bit number
    else:
        return ""
    if len(text) > ID_LIMIT:
        raise BadItem(f"{name} is too long")
    return text


def text(item: dict[str, Any], name: str, limit: int = 256) -> str:
    """A field the report carries but nothing depends on: whatever cannot be read is ``""``, a long one is cut."""
    value = item.get(name)
    if type(value) is str:
        return value.strip()[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)[:limit]
    return ""


def status_of(value: Any, delivered: Collection[str], failed: Collection[str] | None = None) -> ReportStatus:
    """``"delivered"`` or ``"failed"`` from a vendor's status, in any case; ``failed=None``: any other value fails.

    A missing status, or one neither list knows, is a bad item.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadItem(NO_STATUS)
    word = str(value).strip().upper()
    if not word:
        raise BadItem(NO_STATUS)
    if word in delivered:
        return "delivered"
    if failed is None or word in failed:
        return "failed"
    raise BadItem(NO_STATUS)


def identified(message_id: str, phone: str, when: datetime | None) -> None:
    """A report must say which text it is about: its message id, or else its phone and a time."""
    if not message_id and not (phone and when is not None):
        raise BadItem(NO_ID)


# -- times ---------------------------------------------------------------------------------------
_COMPACT_SECONDS = re.compile(r"\d{14}")
_DIGITS = re.compile(r"\d{9,13}")


def beijing(text: str, pattern: str) -> datetime | None:
    """A vendor time without offset (Beijing time), as an aware datetime; ``""`` is ``None``.

    The two layouts the vendors use are read without ``strptime`` (a batch of 100 reports
    would spend a third of its time there); anything else goes through ``strptime``.
    """
    if not text:
        return None
    if pattern == "%Y-%m-%d %H:%M:%S" and len(text) == 19 and text[10] == " " and text.isascii():
        return datetime.fromisoformat(text).replace(tzinfo=BEIJING)
    if pattern == "%Y%m%d%H%M%S" and _COMPACT_SECONDS.fullmatch(text):
        year, month, day = int(text[0:4]), int(text[4:6]), int(text[6:8])
        return datetime(year, month, day, int(text[8:10]), int(text[10:12]), int(text[12:14]), tzinfo=BEIJING)
    return datetime.strptime(text, pattern).replace(tzinfo=BEIJING)


def when(value: Any, naive: tzinfo = BEIJING) -> datetime | None:
    """A report's time in whatever layout a vendor uses; ``None`` when absent or unreadable.

    ``2017-01-01 00:00:00`` and ``20170101000000`` (read in ``naive``: the vendors write
    Beijing time without an offset), ISO 8601 with a ``T``, a ``Z`` or an offset, Unix
    seconds or milliseconds (a number or its digits).
    """
    if isinstance(value, bool) or value in (None, "", 0):
        return None
    try:
        if isinstance(value, (int, float)):
            return _from_epoch(float(value))
        return _from_text(value, naive) if isinstance(value, str) else None
    except (ValueError, OverflowError, OSError):
        return None


def _from_text(value: str, naive: tzinfo) -> datetime:
    if len(value) == 19 and value[10] in " T":  # the common layouts, first
        return datetime.fromisoformat(value).replace(tzinfo=naive)
    raw = value.strip()
    if _DIGITS.fullmatch(raw):
        return _from_epoch(float(raw))
    if _COMPACT_SECONDS.fullmatch(raw):
        parsed = datetime.strptime(raw, "%Y%m%d%H%M%S")
    else:
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    return parsed.replace(tzinfo=naive) if parsed.tzinfo is None else parsed.astimezone(BEIJING)


def _from_epoch(seconds: float) -> datetime:
    """Unix seconds, or milliseconds when the number is too large to be seconds (after the year 5138)."""
    if seconds > 1e11:
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone(BEIJING)


def from_unix(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, bool):
        raise BadItem("not a time")
    return datetime.fromtimestamp(int(value), tz=timezone.utc).astimezone(BEIJING)


# -- phones --------------------------------------------------------------------------------------
_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()]")


def e164_of(digits: str, country_code: str = "") -> str:
    """A vendor's number (``13800138000``, ``8613800138000``, ``+86...``, ``0086...``, ``+852-6123...``) as E.164."""
    if country_code in ("", "86") and _MAINLAND_MOBILE.fullmatch(digits):
        return "+86" + digits  # the common case, without phonenumbers' full parse
    raw = _SEPARATORS.sub("", digits)
    code = country_code.strip().lstrip("+")
    if code in ("", "86") and _MAINLAND_MOBILE.fullmatch(raw):
        return "+86" + raw
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    elif raw.startswith("+"):
        pass  # a full number: a country code given beside it is the same one
    elif code:
        raw = f"+{code}{raw}"
    elif not (len(raw) == 11 and raw.startswith("1")):
        raw = "+" + raw
    return _possible_e164(raw)


def _possible_e164(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise BadItem("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise BadItem("not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_of(item: dict[str, Any], name: str, country_code: str = "") -> str:
    """The number in field ``name`` as E.164, ``""`` when absent; a value that is no phone number is a bad item."""
    value = item.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if type(value) is not str or not value.strip():
        return ""
    if len(value) > 64:
        raise BadItem("not a phone number")
    return e164_of(value, country_code)


def beijing_day(day: date) -> tuple[datetime, datetime]:
    """The first and last second of a Beijing calendar day."""
    start = datetime.combine(day, time.min, BEIJING)
    return start, datetime.combine(day, time(23, 59, 59), BEIJING)


def today_in_beijing() -> date:
    return datetime.now(BEIJING).date()
