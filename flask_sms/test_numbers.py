"""``SMS_TEST_NUMBERS``: numbers that never get a text or a call, and whose fixed code verifies.

For app-store reviewers, QA and end-to-end tests (Firebase's "fictional phone
numbers", Twilio's Safe List). The flow runs for them as for any number (the
cool-downs, the quotas, the IP limits and the attempt cap apply; the code lives in
the storage as an HMAC, single use), except that no vendor is asked and the code
is the fixed one. The sender holds them back from every provider on every
channel, so ``send_sms`` to one texts nobody either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers

from .options import Invalid, as_mapping

#: a fixed code is at least this long: it is public to whoever reads the config
MIN_CODE_DIGITS = 6
MAX_CODE_DIGITS = 10

#: the provider name a held-back number is "delivered" by (``SendResult.delivered``)
TEST_NUMBER = "test_number"


def test_numbers(value: Any) -> dict[str, str]:
    """``{"+8613800000000": "246810"}``: E.164 numbers (with ``+``) and their fixed codes, as digits."""
    value = as_mapping(value)
    if value is None or value == {}:
        return {}
    if not isinstance(value, Mapping):
        raise Invalid("must map E.164 numbers to fixed codes, e.g. {'+8613800000000': '246810'}")
    problems = [problem for number, code in value.items() for problem in _entry_problems(number, code)]
    if problems:
        raise Invalid(*problems, show_value=False)
    return {_e164(str(number)): str(code) for number, code in value.items()}


def _entry_problems(number: Any, code: Any) -> list[str]:
    problems = []
    if not isinstance(number, str) or not number.startswith("+") or _e164(number) == "":
        problems.append(f"has {number!r}, which is not a valid number in E.164 form ('+86...')")
    digits = isinstance(code, str) and code.isascii() and code.isdigit()
    if not (digits and MIN_CODE_DIGITS <= len(code) <= MAX_CODE_DIGITS):
        problems.append(
            f"[{number!r}] must be a code of {MIN_CODE_DIGITS} to {MAX_CODE_DIGITS} digits, as a string "
            "(a shorter one is too easy to guess)"
        )
    return problems


def _e164(text: str) -> str:
    """The number in E.164, or ``""`` when it is not a valid number."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def code_length_problems(numbers: Mapping[str, str], code_length: int) -> list[str]:
    """Each fixed code has ``SMS_CODE_LENGTH`` digits: the code box takes no more (and a reviewer types it)."""
    return [
        f"SMS_TEST_NUMBERS[{number!r}] has {len(code)} digits, but SMS_CODE_LENGTH is {code_length}: "
        "the code box takes SMS_CODE_LENGTH digits"
        for number, code in numbers.items()
        if len(code) != code_length
    ]


def warning(numbers: Mapping[str, str]) -> str:
    """What ``flask sms check`` (and the startup log) says outside debug and testing."""
    listed = ", ".join(numbers)
    return (
        f"SMS_TEST_NUMBERS lists {listed} outside debug and testing: anyone who knows a fixed code can verify "
        "that number, and no text or call reaches it. Keep them only on purpose (app-store review, monitoring)."
    )
