"""``POST {SMS_URL_PREFIX}/sms_receipts/<provider>?token=...`` (or ``.../<provider>/<token>``): vendors push here.

Registered when ``SMS_RECEIPT_TOKEN`` is set. Most vendors sign nothing, so the checks
are, in order: the source address (``SMS_RECEIPT_ALLOWED_IPS``), the token (constant-time;
a wrong one is counted per client, and a client over its count is refused unread, 429,
the right token too), the provider (checked against the registry before its name reaches
any log), the push count (``SMS_RECEIPT_LIMITS``) and the bytes stored
(``SMS_RECEIPT_MAX_STORED_BYTES``), the body size (before anything parses it), the
vendor's own signature where it signs one, then the vendor's own format. The view only reads the
request; ``sms.receipts.push`` (:class:`~flask_sms.receipts.Receipts`) does the rest.

Answers: malformed input 400, never 5xx; a storage outage, the storage bound reached
(``SMS_RECEIPT_MAX_STORED_BYTES``) or a report another worker is announcing 503, and a
``delivery_reported`` handler that raised 500, each so the vendor retries and nothing
is lost. Refusals that an outsider can repeat are logged at most once a minute, with a count.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from . import codes, reporting
from .backends import storage_errors
from .errors import ConfigError
from .interface import SmsInterface, current_sms
from .messages import detail_for, json_error
from .providers.reports import BadReceipt, ForgedReceipt
from .ratelimits import client_key

if TYPE_CHECKING:
    from .config import ReceiptSettings
    from .receipt_book import Accepted
    from .receipt_store import Admission, ReceiptBounds

logger = logging.getLogger("flask_sms")

receipts_blueprint = Blueprint("sms_receipts", __name__)

_MINUTE = 60


def _source_allowed(networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    if not networks:
        return True
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _shown(text: str) -> str:
    """A client-supplied value fit for one log line: printable characters only, short."""
    return "".join(ch if ch.isprintable() else "?" for ch in text[:64]) or "-"


def _read_body(max_bytes: int) -> bytes | None:
    """The body, or ``None`` when it is over ``max_bytes`` (read no further than one byte past)."""
    length = request.content_length
    if length is not None:
        # bounded by the length just checked; cached, so an app hook that read the body first does no harm
        return None if length > max_bytes else request.get_data(cache=True)
    body = request.stream.read(max_bytes + 1)  # chunked: no length given, so stop one byte past the cap
    return None if len(body) > max_bytes else body


@receipts_blueprint.post("/sms_receipts/<provider>")
@receipts_blueprint.post("/sms_receipts/<provider>/<token>")
def receive(provider: str, token: str | None = None) -> Response:
    sms = current_sms()
    receipts = sms.check().receipts
    if receipts is None:  # registered for a token that is no longer set: treat as unknown
        return json_error(codes.INVALID_REQUEST, 404)
    try:
        refused = _refused(sms, provider, receipts, request.args.get("token", "") if token is None else token)
        if refused is not None:
            return refused
    except storage_errors() as exc:
        reporting.once(
            "receipts:storage",
            logging.ERROR,
            "flask_sms answers 503 to receipt pushes: it could not count them in the storage (the vendor will "
            "retry; said once until a push is stored again): %s",
            exc,
        )
        return json_error(codes.UNAVAILABLE, 503)
    body = _read_body(receipts.receipt_max_bytes)
    if body is None:
        return json_error(
            codes.INVALID_REQUEST, 413, message=detail_for("body_too_large", max_bytes=receipts.receipt_max_bytes)
        )
    return _read_push(sms, provider, body)


def _refused(sms: SmsInterface, provider: str, receipts: ReceiptSettings, token: str) -> Response | None:
    """The answer to a push that may not be read at all (wrong source, wrong token, unknown vendor,
    over the push limit), else ``None``. These run before the body is read, so an outsider's push
    costs no parsing."""
    if not _source_allowed(receipts.receipt_allowed_ips):
        if sms.receipts.bounds.quiet("source", sms.clock()):
            logger.warning(
                "flask_sms refused a receipt push from %s: not in SMS_RECEIPT_ALLOWED_IPS",
                _shown(request.remote_addr or ""),
            )
        return json_error(codes.FORBIDDEN, 403, message="This address may not push delivery receipts.")
    bounds = sms.receipts.bounds
    now = sms.clock()
    client = client_key(request.remote_addr or "unknown", 64)
    if not hmac.compare_digest(token.encode(), receipts.receipt_token.encode()):
        return _wrong_token(sms, bounds, provider, client, now)
    admission = bounds.admit(client, now)
    if admission.limited:  # this client tried too many wrong tokens this minute: refused unread, the right one too
        return json_error(codes.RATE_LIMITED, 429, retry_after=math.ceil(_MINUTE - now % _MINUTE))
    if provider not in sms.receipts.providers:
        return json_error(codes.INVALID_REQUEST, 404, message="No receipt push is read for this provider.")
    return _over_bounds(bounds, admission, now)


def _over_bounds(bounds: ReceiptBounds, admission: Admission, now: float) -> Response | None:
    """429 over ``SMS_RECEIPT_LIMITS``, 503 once ``SMS_RECEIPT_MAX_STORED_BYTES`` is reached; else ``None``."""
    if admission.wait:
        if bounds.quiet("limit", now):
            logger.warning("flask_sms refused receipt pushes over SMS_RECEIPT_LIMITS (the vendors will retry)")
        return json_error(codes.RATE_LIMITED, 429, retry_after=admission.wait)
    if admission.full:
        reporting.once(
            "receipts:full",
            logging.ERROR,
            "flask_sms answers 503 to receipt pushes: the delivery reports stored reached "
            "SMS_RECEIPT_MAX_STORED_BYTES (the vendors will retry; raise it if real reports need the room; "
            "said once until a push is stored again)",
        )
        return json_error(codes.UNAVAILABLE, 503, retry_after=_MINUTE)
    return None


def _wrong_token(sms: SmsInterface, bounds: ReceiptBounds, provider: str, client: str, now: float) -> Response:
    """403, or 429 once the client is over its wrong tokens this minute; logged once a minute with a count."""
    over = bounds.wrong_token(client, now)
    said = bounds.quiet("token", now)
    if said:
        known = provider if provider in sms.receipts.providers else "an unknown provider"
        logger.warning(
            "flask_sms refused %d receipt push(es) with a missing or wrong token in the last minute "
            "(the latest from %s, to %s)",
            said,
            _shown(request.remote_addr or ""),
            known,
        )
    if over:
        return json_error(codes.RATE_LIMITED, 429, retry_after=math.ceil(_MINUTE - now % _MINUTE))
    return json_error(codes.FORBIDDEN, 403, message="The receipt token is missing or wrong.")


def _read_push(sms: SmsInterface, provider: str, body: bytes) -> Response:
    """Hand the body to the extension and answer the vendor: 400 for a body that is not its format, 5xx to retry."""
    content_type = request.mimetype or ""
    headers = {name.lower(): value for name, value in request.headers.items()}
    refusals: tuple[type[BaseException], ...] = (ForgedReceipt, BadReceipt, *storage_errors())
    try:
        parsed, accepted = sms.receipts.push(provider, body, content_type, headers)
    except refusals as exc:
        return _refusal(sms, provider, exc)
    for problem in ("receipts:storage", "receipts:full"):
        if reporting.forget(problem):
            reporting.say(logging.WARNING, "flask_sms stores delivery reports again")
    if parsed.dropped:
        reasons = ", ".join(f"{count} {reason}" for reason, count in parsed.dropped.most_common())
        logger.warning("flask_sms dropped %d report(s) from a %s push: %s", parsed.skipped, provider, reasons)
    if parsed.dropped and not parsed.reports:
        return json_error(codes.INVALID_REQUEST, 400, message=f"No readable report in this {provider} push.")
    return _answer(sms, provider, content_type, parsed.reports, accepted)


def _refusal(sms: SmsInterface, provider: str, exc: BaseException) -> Response:
    """The answer to a push that was read but not taken: 403 not the vendor's, 400 not its format, 503 retry."""
    quiet = sms.receipts.bounds.quiet
    if isinstance(exc, ForgedReceipt):
        if quiet("forged", sms.clock()):
            logger.warning("flask_sms refused a %s receipt push: %s", provider, exc)
        return json_error(codes.FORBIDDEN, 403, message=f"Not signed by {provider}: {exc}.")
    if isinstance(exc, BadReceipt):
        logger.info("flask_sms refused a %s receipt push: %s", provider, exc)
        return json_error(codes.INVALID_REQUEST, 400, message=f"Not a {provider} receipt push: {exc}.")
    reporting.once(
        "receipts:storage",
        logging.ERROR,
        "flask_sms answers 503 to receipt pushes: it could not store %s delivery reports (the vendor will "
        "retry; said once until a push is stored again): %s",
        provider,
        exc,
    )
    return json_error(codes.UNAVAILABLE, 503)


def _answer(
    sms: SmsInterface, provider: str, content_type: str, reports: Sequence[object], accepted: Accepted
) -> Response:
    """The vendor's own acknowledgement, only when every report of the push is settled."""
    if accepted.failures:  # logged with the traceback by the receipt book
        return json_error(codes.INTERNAL_ERROR, 500)
    if accepted.busy:
        return json_error(codes.UNAVAILABLE, 503, retry_after=1)
    answer, media_type = sms.receipts.answer(provider, content_type)
    logger.debug("flask_sms read %d report(s) from %s, %d new", len(reports), provider, accepted.fresh)
    return Response(answer, 200, mimetype=media_type)


@receipts_blueprint.errorhandler(ConfigError)
def misconfigured(exc: ConfigError) -> Response:
    reporting.once(
        f"config:{exc}",
        logging.ERROR,
        "flask_sms answers 503 to receipt pushes until its config is fixed: %s (run `flask sms check`)",
        exc,
    )
    return json_error(codes.UNAVAILABLE, 503)


@receipts_blueprint.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    """Werkzeug's own refusals (405, a body over MAX_CONTENT_LENGTH ...) as our JSON; bugs stay 500."""
    status = exc.code or 400
    if status >= 500:
        return json_error(codes.INTERNAL_ERROR, 500)
    return json_error(codes.INVALID_REQUEST, status)
