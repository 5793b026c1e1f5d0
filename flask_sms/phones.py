"""Phone number parsing, shared by every provider.

Numbers are parsed once into :class:`phonenumbers.PhoneNumber`; each provider
then writes them the way its vendor documents. Results are keyed by E.164.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Union

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat

from .errors import InvalidPhoneNumber

PhoneInput = Union[str, int]
MAINLAND_CHINA = 86
_MAX_INPUT_LENGTH = 64  # phonenumbers itself caps at 250; nobody types more than this


def parse_phone(raw: object, default_region: str) -> PhoneNumber:
    """Parse one number, raising :class:`InvalidPhoneNumber` when it is not a real number."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise InvalidPhoneNumber(raw, "a phone number must be a string")
    text = str(raw).strip()
    if not text or len(text) > _MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber(raw)
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(raw, str(exc)) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw)
    return number


def parse_phones(raw: PhoneInput | Iterable[PhoneInput], default_region: str) -> list[PhoneNumber]:
    """Parse one number or many, dropping duplicates but keeping order."""
    if isinstance(raw, (str, int)):
        items: list[object] = [raw]
    elif isinstance(raw, Iterable) and not isinstance(raw, (bytes, bytearray, Mapping)):
        items = list(raw)
    else:
        raise InvalidPhoneNumber(raw, "expected a phone number or a list of them")
    if not items:
        raise InvalidPhoneNumber(raw, "no phone number given")
    numbers: dict[str, PhoneNumber] = {}
    for item in items:
        number = parse_phone(item, default_region)
        numbers.setdefault(e164(number), number)
    return list(numbers.values())


def e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def region_of(number: PhoneNumber) -> str | None:
    return phonenumbers.region_code_for_number(number)


def is_mainland(number: PhoneNumber) -> bool:
    return number.country_code == MAINLAND_CHINA


def national_or_international_00(number: PhoneNumber) -> str:
    """11 digits for mainland numbers, ``00`` + country code + number otherwise (Aliyun, Ronglian)."""
    national = phonenumbers.national_significant_number(number)
    if is_mainland(number):
        return national
    return f"00{number.country_code}{national}"
