"""``POST {SMS_URL_PREFIX}/sms_receipts/<provider>?token=...``: vendors push delivery reports here.

Registered when ``SMS_RECEIPT_TOKEN`` is set. Vendors post server to server and
sign nothing, so the checks are: the source address (``SMS_RECEIPT_ALLOWED_IPS``),
the token (constant-time), the body size (before anything parses it), then the
vendor's own format. The view only reads the request; ``SmsExtension.receive_receipts``
does the rest. Malformed input answers 400, never 5xx; a storage outage answers
503 so the vendor retries.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from . import codes, reporting
from .backends import storage_errors
from .errors import ConfigError
from .messages import detail_for, json_error
from .providers.reports import BadReceipt

if TYPE_CHECKING:
    from .config import ReceiptSettings
    from .extension import SmsExtension

logger = logging.getLogger("flask_sms")

receipts_blueprint = Blueprint("sms_receipts", __name__)


def _sms() -> SmsExtension:
    extension: SmsExtension = current_app.extensions["sms"]
    return extension


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


def _read_body(max_bytes: int) -> bytes | None:
    """The body, or ``None`` when it is over ``max_bytes`` (read no further than one byte past)."""
    length = request.content_length
    if length is not None:
        # bounded by the length just checked; cached, so an app hook that read the body first does no harm
        return None if length > max_bytes else request.get_data(cache=True)
    body = request.stream.read(max_bytes + 1)  # chunked: no length given, so stop one byte past the cap
    return None if len(body) > max_bytes else body


@receipts_blueprint.post("/sms_receipts/<provider>")
def receive(provider: str) -> Response:
    sms = _sms()
    receipts = sms.settings().receipts
    if receipts is None:  # registered for a token that is no longer set: treat as unknown
        return json_error(codes.INVALID_REQUEST, 404)
    refused = _refused(sms, provider, receipts)
    if refused is not None:
        return refused
    body = _read_body(receipts.receipt_max_bytes)
    if body is None:
        return json_error(
            codes.INVALID_REQUEST, 413, message=detail_for("body_too_large", max_bytes=receipts.receipt_max_bytes)
        )
    return _read_push(sms, provider, body)


def _refused(sms: SmsExtension, provider: str, receipts: ReceiptSettings) -> Response | None:
    """The answer to a push that may not be read at all (wrong source, wrong token, unknown vendor), else ``None``.

    These run before the body is read, so an outsider's push costs no parsing.
    """
    if not _source_allowed(receipts.receipt_allowed_ips):
        logger.warning("flask_sms refused a receipt push from %s: not in SMS_RECEIPT_ALLOWED_IPS", request.remote_addr)
        return json_error(codes.FORBIDDEN, 403, message="This address may not push delivery receipts.")
    token = request.args.get("token", "")
    if not hmac.compare_digest(token.encode(), receipts.receipt_token.encode()):
        logger.warning("flask_sms refused a receipt push to %s: missing or wrong token", provider)
        return json_error(codes.FORBIDDEN, 403, message="The receipt token is missing or wrong.")
    if provider not in sms.receipt_providers():
        return json_error(codes.INVALID_REQUEST, 404, message=f"No receipt push is read for {provider!r}.")
    return None


def _read_push(sms: SmsExtension, provider: str, body: bytes) -> Response:
    """Hand the body to the extension and answer the vendor: 400 for a body that is not its format, 503 to retry."""
    content_type = request.mimetype or ""
    try:
        parsed, fresh = sms.receive_receipts(provider, body, content_type)
    except BadReceipt as exc:
        logger.info("flask_sms refused a %s receipt push: %s", provider, exc)
        return json_error(codes.INVALID_REQUEST, 400, message=f"Not a {provider} receipt push: {exc}.")
    except storage_errors() as exc:
        reporting.once(
            "receipts:storage",
            logging.ERROR,
            "flask_sms answers 503 to receipt pushes: it could not store %s delivery reports (the vendor will "
            "retry; said once until a push is stored again): %s",
            provider,
            exc,
        )
        return json_error(codes.UNAVAILABLE, 503)
    if reporting.forget("receipts:storage"):
        reporting.say(logging.WARNING, "flask_sms stores delivery reports again")
    if parsed.skipped:
        logger.warning("flask_sms skipped %d unreadable report(s) in a %s push", parsed.skipped, provider)
    if parsed.skipped and not parsed.reports:
        return json_error(codes.INVALID_REQUEST, 400, message=f"No readable report in this {provider} push.")
    answer, media_type = sms.receipt_answer(provider, content_type)
    logger.debug("flask_sms read %d report(s) from %s, %d new", len(parsed.reports), provider, fresh)
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
