"""Send SMS through China's vendors and verify phone numbers, in any Flask app."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import (
    ChallengeFailed,
    ChallengeRequired,
    ChallengeUnavailable,
    ConfigError,
    CrossSiteRequest,
    FraudSuspected,
    InvalidPhoneNumber,
    InvalidRequest,
    MissingParameter,
    PhoneRejected,
    RateLimited,
    RegionNotAllowed,
    SendError,
    SendRefused,
    SmsError,
    SmsHTTPError,
    StorageUnavailable,
    UnknownPurpose,
)
from .extension import SmsExtension, send_sms
from .flow import CodeFlow, CodeSent, Verification
from .idempotency import DuplicateSend
from .providers import register_provider
from .receipts import Receipts
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

try:
    #: the installed distribution's version (``Flask-SMS-Captcha``), from its metadata
    __version__ = version("Flask-SMS-Captcha")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"

# No handler and no level of our own: the app's logging config decides (docs: "Logging"). Without one,
# Python's last-resort handler shows WARNING and up, and problems that break a route go to app.logger
# (see flask_sms.reporting).

__all__ = [
    "Attempt",
    "ChallengeFailed",
    "ChallengeRequired",
    "ChallengeUnavailable",
    "CodeFlow",
    "CodeSent",
    "ConfigError",
    "CrossSiteRequest",
    "DeliveryReport",
    "DuplicateSend",
    "FraudSuspected",
    "InvalidPhoneNumber",
    "InvalidRequest",
    "MissingParameter",
    "PhoneRejected",
    "RateLimited",
    "Receipts",
    "RegionNotAllowed",
    "SendError",
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
