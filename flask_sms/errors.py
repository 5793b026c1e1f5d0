"""Every exception flask_sms raises on purpose, one class per meaning.

All subclass :class:`SmsError`. Two kinds:

* **Domain errors** are plain exceptions: what ``send_sms`` and the sender raise outside any
  request (:class:`SendError`, :class:`PhoneRejected`, :class:`InvalidPhoneNumber`,
  :class:`UnknownPurpose`, :class:`MissingParameter`, :class:`ConfigError`).
* **Refusals** (:class:`SmsHTTPError`) are werkzeug HTTP exceptions of the matching status
  (``RateLimited`` is a ``TooManyRequests``): only the verification flow and the routes raise
  them, so an app's ``errorhandler(429)`` sees them, and left unhandled they render as the JSON
  error body ``{"ok": false, "error": ..., "message": ...}``. When the flow meets a domain error
  it raises that error's HTTP form (:func:`as_refusal`): a subclass of the domain class *and*
  of ``SmsHTTPError``, so ``except SendError`` still catches it.

``str()`` is for logs and may name vendor codes; the JSON body never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from werkzeug import exceptions as http
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from . import codes
from .messages import detail_for, json_error, message_for

if TYPE_CHECKING:
    from .results import Attempt, Outcome, SendResult


class SmsError(Exception):
    """Base class for every error flask_sms raises on purpose."""


class ConfigError(SmsError):
    """The ``SMS_*`` configuration is incomplete or wrong.

    Raised with every problem found, so a deploy fails with the whole list instead of one key
    at a time: by :meth:`SmsExtension.check <flask_sms.SmsExtension.check>` (``flask sms check``),
    and on each use of a misconfigured app (its routes answer 503 instead).
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"flask_sms is misconfigured:\n{lines}")


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


class ProviderError(SmsError):
    """One provider's request failed as a whole.

    ``code`` is the vendor's own error code when the vendor answered, or one of
    ``timeout``, ``connection_error``, ``http_<status>``, ``bad_reply``,
    ``sdk_error`` when it did not. ``outcome`` says what the failure means for the
    numbers (see :data:`~flask_sms.results.Outcome`): ``None`` until the provider's
    table of codes has classified it (:meth:`Provider.send <flask_sms.providers.Provider.send>`
    does that), so a provider module raises with the vendor's code and leaves it out.
    """

    def __init__(self, code: str, message: str = "", outcome: Outcome | None = None) -> None:
        self.code = str(code)
        self.message = str(message)
        self.outcome: Outcome | None = outcome
        super().__init__(f"{self.code} {self.message}".rstrip())


class SmsHTTPError(SmsError, HTTPException):
    """A refusal with a machine code (``error``) and an HTTP status (``code``).

    ``message`` replaces the catalogue text in the JSON body when given; it is
    shown to the client, so it must never hold vendor details.
    """

    error: ClassVar[str] = codes.INVALID_REQUEST

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        HTTPException.__init__(self, description=message)
        self.message = message
        self.retry_after = retry_after

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        return json_error(self.error, self.code or 400, self.retry_after, self.message)

    def __str__(self) -> str:
        return self.message or message_for(self.error, "en", retry_after=self.retry_after)


class InvalidRequest(SmsHTTPError, http.BadRequest):
    """The route's body is malformed: ``field`` names the field at fault, when one is (also in the JSON body)."""

    error = codes.INVALID_REQUEST

    def __init__(self, message: str | None = None, *, field: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        if status is not None:
            self.code = status  # 411 and 413 for bodies without a length or over the cap

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        extra = {"field": self.field} if self.field else {}
        return json_error(self.error, self.code or 400, None, self.message, **extra)


class InvalidPhoneNumber(SmsError, ValueError):
    """A number could not be parsed, is not a valid number, or is not allowed; nothing was sent."""

    error: ClassVar[str] = codes.INVALID_PHONE

    def __init__(
        self, phone: object = None, reason: str = "not a valid phone number", message: str | None = None
    ) -> None:
        super().__init__(message)
        self.phone = phone
        self.reason = reason
        #: what the route's JSON body says instead of the catalogue text (``None``: the catalogue's)
        self.message = message

    def __str__(self) -> str:
        return f"{self.phone!r}: {self.reason}"


class RegionNotAllowed(SmsHTTPError, http.BadRequest):
    error = codes.REGION_NOT_ALLOWED


class UnknownPurpose(SmsError, ValueError):
    """The purpose cannot be used: no provider has a template for it, or the route does not offer it."""

    error: ClassVar[str] = codes.INVALID_PURPOSE

    def __init__(self, purpose: object = None, reason: str | None = None) -> None:
        super().__init__()
        self.purpose = purpose
        self.reason = reason or (
            f"no provider has a template for purpose {purpose!r}; add it to SMS_<PROVIDER>_TEMPLATES"
        )

    def __str__(self) -> str:
        return self.reason


class SendRefused(SmsHTTPError, http.Forbidden):
    """Raise from a ``before_send`` hook (or return ``False``) to refuse a send.

    A werkzeug ``Forbidden`` (403), named so that it does not shadow werkzeug's own
    ``Forbidden`` in an app that imports both.
    """

    error = codes.FORBIDDEN


class CrossSiteRequest(SmsHTTPError, http.Forbidden):
    """A browser sent this request from another site (``Sec-Fetch-Site`` / ``Origin``): nothing was sent or counted."""

    error = codes.FORBIDDEN

    def __init__(self, origin: str | None = None) -> None:
        super().__init__(detail_for("cross_site"))
        self.origin = origin

    def __str__(self) -> str:
        return f"cross-site request refused (Origin: {self.origin or 'none'})"


class RateLimited(SmsHTTPError, http.TooManyRequests):  # type: ignore[misc]  # retry_after: always whole seconds here
    error = codes.RATE_LIMITED

    def __str__(self) -> str:
        return f"{self.error}: retry after {self.retry_after} s"


class SendError(SmsError):
    """No provider sent the text; ``attempts`` keeps each vendor's own code and message.

    Its HTTP form (from the flow) answers ``502 send_failed``: the vendor codes stay in
    ``str()`` and the log.
    """

    error: ClassVar[str] = codes.SEND_FAILED

    def __init__(self, attempts: Sequence[Attempt] = (), result: SendResult | None = None) -> None:
        super().__init__()
        self.attempts = list(attempts)
        self.result = result

    def __str__(self) -> str:
        failures: list[str] = []
        for attempt in self.attempts:
            text = str(attempt)
            if not attempt.ok and text not in failures:
                failures.append(text)
        return "; ".join(failures) or "no provider could send the message"


class PhoneRejected(SendError):
    """Every provider that answered refused the number for good (invalid, opted out, the vendor's
    own per-number cap): nothing was sent and no other provider was tried.

    Its HTTP form (from the flow) answers ``400 phone_rejected``; the vendor's code stays in
    ``str()``, ``attempts`` and the log.
    """

    error: ClassVar[str] = codes.PHONE_REJECTED


class StorageUnavailable(SmsHTTPError, http.ServiceUnavailable):  # type: ignore[misc]  # as RateLimited
    error = codes.UNAVAILABLE


class FraudSuspected(SmsHTTPError, http.Forbidden):
    """The fraud guard blocks this send's destination prefix, region or client network for now.

    Nothing was sent. ``retry_after`` (and the ``Retry-After`` header) says when the block ends.
    """

    error = codes.FRAUD_SUSPECTED


class ChallengeRequired(SmsHTTPError, http.PreconditionRequired):
    """A human check must pass first (the fraud guard asks, or ``SMS_CHALLENGE_MODE = "always"``):
    send the request again with a ``challenge`` object. Nothing was sent."""

    error = codes.CHALLENGE_REQUIRED


class ChallengeFailed(SmsHTTPError, http.BadRequest):
    """The ``challenge`` object did not pass the human check's own verification; nothing was sent or counted."""

    error = codes.CHALLENGE_FAILED


class ChallengeUnavailable(SmsHTTPError, http.ServiceUnavailable):  # type: ignore[misc]  # as RateLimited
    """The human check's verifier could not be reached: a challenged request is refused (fail closed)."""

    error = codes.UNAVAILABLE


# -- the HTTP forms of the domain errors: what the flow raises when it meets one ----------------------
class HTTPInvalidPhoneNumber(InvalidPhoneNumber, SmsHTTPError, http.BadRequest):
    """:class:`InvalidPhoneNumber` from the flow: ``400 invalid_phone``."""


class HTTPUnknownPurpose(UnknownPurpose, SmsHTTPError, http.BadRequest):
    """:class:`UnknownPurpose` from the flow: ``400 invalid_purpose``."""


class HTTPSendError(SendError, SmsHTTPError, http.BadGateway):
    """:class:`SendError` from the flow: ``502 send_failed``."""


class HTTPPhoneRejected(PhoneRejected, SmsHTTPError, http.BadRequest):
    """:class:`PhoneRejected` from the flow: ``400 phone_rejected``."""


def as_refusal(error: BaseException) -> BaseException:
    """The HTTP form of a domain error the flow met (the same class, and an :class:`SmsHTTPError` that renders
    as the route's JSON); any other exception as it is."""
    if isinstance(error, SmsHTTPError):
        return error
    if isinstance(error, PhoneRejected):
        return HTTPPhoneRejected(error.attempts, error.result)
    if isinstance(error, SendError):
        return HTTPSendError(error.attempts, error.result)
    if isinstance(error, InvalidPhoneNumber):
        return HTTPInvalidPhoneNumber(error.phone, error.reason, error.message)
    if isinstance(error, UnknownPurpose):
        return HTTPUnknownPurpose(error.purpose, error.reason)
    return error
