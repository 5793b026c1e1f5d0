"""Exceptions raised by flask_sms.

Library errors subclass :class:`SmsError`, so one ``except SmsError`` catches
everything this package raises on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response


class SmsError(Exception):
    """Base class for every error flask_sms raises on purpose."""


class ConfigError(SmsError):
    """The ``SMS_*`` configuration is incomplete or wrong.

    Raised once, at ``init_app``, with every problem found, so a deploy fails
    with the whole list instead of one key at a time.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"flask_sms is misconfigured:\n{lines}")


class InvalidPhoneNumber(SmsError, ValueError):
    """A number could not be parsed or is not a valid number; nothing was sent."""

    def __init__(self, phone: object, reason: str = "not a valid phone number") -> None:
        self.phone = phone
        self.reason = reason
        super().__init__(f"{phone!r}: {reason}")


class MissingParameter(SmsError, ValueError):
    """A template needs a named parameter the caller did not pass."""

    def __init__(self, provider: str, purpose: str, name: str) -> None:
        self.provider = provider
        self.purpose = purpose
        self.parameter = name
        super().__init__(
            f"the {provider} template for purpose {purpose!r} needs the parameter {name!r}; "
            f"pass it in params={{{name!r}: ...}}"
        )


class UnknownPurpose(SmsError, ValueError):
    """No configured provider has a template for this purpose."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        super().__init__(f"no provider has a template for purpose {purpose!r}; add it to SMS_<PROVIDER>_TEMPLATES")


@dataclass(frozen=True)
class Attempt:
    """One request to one provider: what the vendor said, in its own words."""

    provider: str
    ok: bool
    code: str = ""
    message: str = ""
    phones: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.ok:
            return f"{self.provider}: OK"
        return f"{self.provider}: {self.code} {self.message}".rstrip()


class SendError(SmsError):
    """Every provider failed; ``attempts`` keeps each vendor's own code and message."""

    def __init__(self, attempts: Sequence[Attempt], result: object | None = None) -> None:
        self.attempts = list(attempts)
        self.result = result
        failures: list[str] = []
        for attempt in self.attempts:
            text = str(attempt)
            if not attempt.ok and text not in failures:
                failures.append(text)
        super().__init__("; ".join(failures) or "no provider could send the message")


class ProviderError(SmsError):
    """One provider's request failed as a whole; the send loop moves to the next one.

    ``code`` is the vendor's own error code when the vendor answered, or one of
    ``timeout``, ``connection_error``, ``http_<status>``, ``bad_reply``,
    ``sdk_error`` when it did not.
    """

    def __init__(self, code: str, message: str = "") -> None:
        self.code = str(code)
        self.message = str(message)
        super().__init__(f"{self.code} {self.message}".rstrip())


class CaptchaError(SmsError, HTTPException):
    """A refusal of the verification flow, with a machine code and an HTTP status.

    These are werkzeug HTTP exceptions, so an app view that calls
    ``sms.send_code`` can let them propagate: Flask answers with the JSON body
    ``{"ok": false, "error": ..., "message": ...}`` (see :func:`error_response`).
    """

    code = 400
    error = "invalid_request"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        HTTPException.__init__(self, description=message)

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        from .messages import error_response

        return error_response(self)


class InvalidRequest(CaptchaError):
    error = "invalid_request"


class InvalidPhone(CaptchaError):
    error = "invalid_phone"


class RegionNotAllowed(CaptchaError):
    error = "region_not_allowed"


class InvalidPurpose(CaptchaError):
    error = "invalid_purpose"


class Forbidden(CaptchaError):
    """Raise from a ``before_send`` hook (or return ``False``) to refuse a send."""

    code = 403
    error = "forbidden"


class RateLimited(CaptchaError):
    code = 429
    error = "rate_limited"


class SendFailed(CaptchaError):
    code = 502
    error = "send_failed"


class StorageUnavailable(CaptchaError):
    code = 503
    error = "unavailable"
