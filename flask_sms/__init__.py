"""Send SMS through China's vendors and verify phone numbers, in any Flask app."""

from __future__ import annotations

from .errors import (
    Attempt,
    ConfigError,
    InvalidPhoneNumber,
    MissingParameter,
    SendError,
    SmsError,
    UnknownPurpose,
)
from .extension import SmsExtension, send_sms
from .sending import SendResult, SmsMessage
from .signals import sms_failed, sms_sent

__all__ = [
    "Attempt",
    "ConfigError",
    "InvalidPhoneNumber",
    "MissingParameter",
    "SendError",
    "SendResult",
    "SmsError",
    "SmsExtension",
    "SmsMessage",
    "UnknownPurpose",
    "send_sms",
    "sms_failed",
    "sms_sent",
]
