"""The machine error codes of the JSON API, defined once.

Exceptions, the message catalogue, the code store (its Lua scripts take them as
arguments) and the routes all use these names; a client matches on the strings.
"""

from __future__ import annotations

from typing import Final

INVALID_REQUEST: Final = "invalid_request"
INVALID_PHONE: Final = "invalid_phone"
REGION_NOT_ALLOWED: Final = "region_not_allowed"
INVALID_PURPOSE: Final = "invalid_purpose"
INVALID_CODE: Final = "invalid_code"
CODE_EXPIRED: Final = "code_expired"
TOO_MANY_ATTEMPTS: Final = "too_many_attempts"
FORBIDDEN: Final = "forbidden"
RATE_LIMITED: Final = "rate_limited"
SEND_FAILED: Final = "send_failed"
PHONE_REJECTED: Final = "phone_rejected"
UNAVAILABLE: Final = "unavailable"
INTERNAL_ERROR: Final = "internal_error"
CSRF_FAILED: Final = "csrf_failed"
FRAUD_SUSPECTED: Final = "fraud_suspected"
CHALLENGE_REQUIRED: Final = "challenge_required"
CHALLENGE_FAILED: Final = "challenge_failed"

#: what checking a code can say besides "ok"
VERIFY_FAILURES: Final = (INVALID_CODE, CODE_EXPIRED, TOO_MANY_ATTEMPTS)
