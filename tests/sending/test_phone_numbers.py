"""Our fast path for mainland mobiles must agree with phonenumbers on every input."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_sms import InvalidPhoneNumber
from flask_sms.phones import e164, parse_phone

digits = st.text(alphabet="0123456789", min_size=9, max_size=12)
prefixes = st.sampled_from(["", "+86", "0086", "86", "+86 ", "+86-", "(+86) ", "+1", "+852", "00", "+"])
separators = st.sampled_from(["", " ", "-"])


def reference(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def ours(text: str, region: str) -> str | None:
    try:
        return e164(parse_phone(text, region))
    except InvalidPhoneNumber:
        return None


@settings(max_examples=3000, deadline=None)
@given(
    prefix=prefixes,
    head=st.sampled_from(["1", "13", "19", "14", "10", "2", ""]),
    body=digits,
    sep=separators,
    region=st.sampled_from(["CN", "HK", "US", "GB"]),
)
def test_same_answer_as_phonenumbers(prefix, head, body, sep, region):
    text = prefix + head + sep + body
    assert ours(text, region) == reference(text, region)


@pytest.mark.parametrize("text", ["+44 20 7946 0958", "+81 90-1234-5678", "+852 6123 4567", "+1 (650) 253-0000"])
def test_other_countries_use_the_full_parser(text):
    assert ours(text, "CN") == reference(text, "CN") is not None
