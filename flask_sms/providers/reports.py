"""Helpers for reading delivery reports (pushed or polled), shared by the provider modules.

A push body as a whole is either usable or :class:`BadReceipt` (the route answers
400). Inside a usable batch each item is read on its own: an item that cannot be
read is counted in ``skipped`` and the others are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

import phonenumbers

from ..results import BEIJING, DeliveryReport


class BadReceipt(ValueError):
    """A push body that is not the vendor's documented shape at all."""


class BadItem(ValueError):
    """One report in a batch that cannot be read."""


@dataclass
class ParsedReceipts:
    reports: list[DeliveryReport] = field(default_factory=list)
    skipped: int = 0


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadReceipt("the body is not JSON") from None


def json_array(body: bytes, read: Callable[[Any], DeliveryReport]) -> ParsedReceipts:
    """A push whose body is a JSON array of reports (Aliyun, Tencent), each item read on its own."""
    items = json_body(body)
    if not isinstance(items, list):
        raise BadReceipt("the body is not a JSON array")
    return each_item(items, read)


def each_item(items: Iterable[Any], read: Callable[[Any], DeliveryReport]) -> ParsedReceipts:
    """Read every item; a bad one is skipped, the good ones are kept."""
    parsed = ParsedReceipts()
    append = parsed.reports.append
    for item in items:
        if type(item) is not dict:
            parsed.skipped += 1
            continue
        try:
            append(read(item))
        except (BadItem, ValueError, TypeError, KeyError, AttributeError, OverflowError):
            parsed.skipped += 1
    return parsed


def string(item: Any, name: str, *, required: bool = True, limit: int = 256) -> str:
    """A short string field (numbers are read as their digits); missing or too long is a bad item.

    ``item`` is a dict (:func:`each_item` checks); anything else raises ``AttributeError``, also a bad item.
    """
    value = item.get(name)
    if type(value) is str and 0 < len(value) <= limit:  # the common case, first
        return value.strip()
    if value is None or value == "":
        if required:
            raise BadItem(f"{name} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadItem(f"{name} is not a string")
    text = str(value).strip()
    if len(text) > limit:
        raise BadItem(f"{name} is too long")
    return text


_COMPACT_SECONDS = re.compile(r"\d{14}")


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


def from_unix(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, bool):
        raise BadItem("not a time")
    return datetime.fromtimestamp(int(value), tz=timezone.utc).astimezone(BEIJING)


_MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")


def e164_of(digits: str, country_code: str = "") -> str:
    """A vendor's number (``13800138000``, ``8613800138000``, ``+86...``, ``0086...``) as E.164."""
    raw = digits.strip()
    if country_code in ("", "86", "+86") and _MAINLAND_MOBILE.fullmatch(raw):
        return "+86" + raw  # the common case, without phonenumbers' full parse
    if country_code:
        raw = f"+{country_code.lstrip('+')}{raw}"
    elif raw.startswith("00"):
        raw = "+" + raw[2:]
    elif not raw.startswith("+"):
        raw = raw if len(raw) == 11 and raw.startswith("1") else "+" + raw
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise BadItem("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise BadItem("not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def beijing_day(day: date) -> tuple[datetime, datetime]:
    """The first and last second of a Beijing calendar day."""
    start = datetime.combine(day, time.min, BEIJING)
    return start, datetime.combine(day, time(23, 59, 59), BEIJING)


def today_in_beijing() -> date:
    return datetime.now(BEIJING).date()
