"""Send SMS through China's vendors and verify phone numbers, in any Flask app."""

from __future__ import annotations

from .errors import (
    CaptchaError,
    ChallengeFailed,
    ChallengeRequired,
    ChallengeUnavailable,
    ConfigError,
    CrossSiteRequest,
    FraudSuspected,
    InvalidPhone,
    InvalidPhoneNumber,
    InvalidPurpose,
    InvalidRequest,
    MissingParameter,
    PhoneRejected,
    RateLimited,
    RegionNotAllowed,
    SendError,
    SendFailed,
    SendRefused,
    SmsError,
    SmsHTTPError,
    StorageUnavailable,
    UnknownPurpose,
)
from .extension import SmsExtension, send_sms
from .flow import CodeSent, Verification
from .idempotency import DuplicateSend
from .providers import register_provider
from .results import Attempt, DeliveryReport, SendResult, SmsMessage
from .signals import (
    code_sent,
    code_verified,
    delivery_reported,
    fraud_suspected,
    provider_down,
    provider_up,
    sms_failed,
    sms_sent,
    verification_failed,
)

# No handler and no level of our own: the app's logging config decides (README, "Logging"). Without one,
# Python's last-resort handler shows WARNING and up, and problems that break a route go to app.logger
# (see flask_sms.reporting).

__all__ = [
    "Attempt",
    "CaptchaError",
    "ChallengeFailed",
    "ChallengeRequired",
    "ChallengeUnavailable",
    "CodeSent",
    "ConfigError",
    "CrossSiteRequest",
    "DeliveryReport",
    "DuplicateSend",
    "FraudSuspected",
    "InvalidPhone",
    "InvalidPhoneNumber",
    "InvalidPurpose",
    "InvalidRequest",
    "MissingParameter",
    "PhoneRejected",
    "RateLimited",
    "RegionNotAllowed",
    "SendError",
    "SendFailed",
    "SendRefused",
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
    "delivery_reported",
    "fraud_suspected",
    "provider_down",
    "provider_up",
    "register_provider",
    "send_sms",
    "sms_failed",
    "sms_sent",
    "verification_failed",
]


def __getattr__(name: str) -> object:
    """Deprecated names (``Forbidden``) resolve with a DeprecationWarning."""
    from . import errors

    if name in errors._DEPRECATED:
        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
