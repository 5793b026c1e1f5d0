"""Send SMS through China's vendors and verify phone numbers, in any Flask app."""

from __future__ import annotations

from .errors import (
    CaptchaError,
    ConfigError,
    Forbidden,
    InvalidPhone,
    InvalidPhoneNumber,
    InvalidPurpose,
    InvalidRequest,
    MissingParameter,
    RateLimited,
    RegionNotAllowed,
    SendError,
    SendFailed,
    SmsError,
    SmsHTTPError,
    StorageUnavailable,
    UnknownPurpose,
)
from .extension import SmsExtension, send_sms
from .flow import CodeSent, Verification
from .results import Attempt, SendResult, SmsMessage
from .signals import code_sent, code_verified, sms_failed, sms_sent, verification_failed

__all__ = [
    "Attempt",
    "CaptchaError",
    "CodeSent",
    "ConfigError",
    "Forbidden",
    "InvalidPhone",
    "InvalidPhoneNumber",
    "InvalidPurpose",
    "InvalidRequest",
    "MissingParameter",
    "RateLimited",
    "RegionNotAllowed",
    "SendError",
    "SendFailed",
    "SendResult",
    "SmsError",
    "SmsExtension",
    "SmsHTTPError",
    "SmsMessage",
    "StorageUnavailable",
    "UnknownPurpose",
    "Verification",
    "code_sent",
    "code_verified",
    "send_sms",
    "sms_failed",
    "sms_sent",
    "verification_failed",
]
