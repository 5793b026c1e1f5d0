"""Phone number parsing, shared by every provider.

Numbers are parsed once into :class:`phonenumbers.PhoneNumber`; each provider
then writes them the way its vendor documents. Results are keyed by E.164.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Union

import phonenumbers
from phonenumbers import PhoneNumber

from .errors import InvalidPhoneNumber

PhoneInput = Union[str, int]
MAINLAND_CHINA = 86
MAINLAND_REGION = "CN"
_MAX_INPUT_LENGTH = 64  # phonenumbers itself caps at 250; nobody types more than this


_SEPARATORS = str.maketrans("", "", " -()")
_FAST_PATTERNS: dict[bool, re.Pattern[str]] = {}


def _fast_pattern(local: bool) -> re.Pattern[str]:
    """phonenumbers' own CN mobile pattern, behind the prefixes people write (built once)."""
    pattern = _FAST_PATTERNS.get(local)
    if pattern is None:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(MAINLAND_REGION)
        assert metadata is not None and metadata.mobile is not None  # CN ships with phonenumbers
        mobile = metadata.mobile.national_number_pattern
        prefix = r"(?:\+86|0086|86)?" if local else r"\+86"  # how people in mainland China write numbers
        pattern = _FAST_PATTERNS[local] = re.compile(f"{prefix}((?:{mobile}))")
    return pattern


def _fast_mainland_mobile(text: str, default_region: str) -> PhoneNumber | None:
    """Mainland mobile numbers, the common case, without phonenumbers' full parser.

    Bulk sends parse thousands of numbers; this is ~20x faster and gives the
    same answer (it accepts only what matches phonenumbers' own CN mobile
    pattern, and leaves everything else to the full parser).
    """
    if not text.isdigit():
        text = text.translate(_SEPARATORS)
    match = _fast_pattern(default_region == MAINLAND_REGION).fullmatch(text)
    if match is None:
        return None
    return PhoneNumber(country_code=MAINLAND_CHINA, national_number=int(match.group(1)))


_CN_MOBILE: list[re.Pattern[str]] = []


def number_type(number: PhoneNumber) -> int:
    """phonenumbers' ``PhoneNumberType`` of a number; mainland mobiles (the common case) without its full scan."""
    if number.country_code == MAINLAND_CHINA and not number.italian_leading_zero:
        if not _CN_MOBILE:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(MAINLAND_REGION)
            assert metadata is not None and metadata.mobile is not None
            assert metadata.mobile.national_number_pattern is not None
            _CN_MOBILE.append(re.compile(metadata.mobile.national_number_pattern))
        if _CN_MOBILE[0].fullmatch(str(number.national_number)):
            return phonenumbers.PhoneNumberType.MOBILE
    return int(phonenumbers.number_type(number))


def parse_phone(raw: object, default_region: str) -> PhoneNumber:
    """Parse one number, raising :class:`InvalidPhoneNumber` when it is not a real number."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise InvalidPhoneNumber(raw, "a phone number must be a string")
    text = str(raw).strip()
    if not text or len(text) > _MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber(raw)
    fast = _fast_mainland_mobile(text, default_region)
    if fast is not None:
        return fast
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(raw, str(exc)) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw)
    return number


def parse_phones(raw: PhoneInput | Iterable[PhoneInput], default_region: str) -> dict[str, PhoneNumber]:
    """Parse one number or many: E.164 -> number, duplicates dropped, order kept."""
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
    return numbers


def e164(number: PhoneNumber) -> str:
    # What format_number(number, E164) returns, without its generic formatting machinery.
    return f"+{number.country_code}{phonenumbers.national_significant_number(number)}"


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
