"""``POST /sms_captcha/`` and ``POST /sms_captcha/verify``.

The views only read the request and pass what they read (fields and the
client's address) to ``SmsExtension.send_code`` / ``verify_code`` and on to the
flow (``sms.codes``), where every rule lives. They see the extension through
:class:`~flask_sms.interface.SmsInterface`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Response

from . import codes, reporting
from .challenge import read_challenge
from .dev_inbox import inbox_for
from .errors import ConfigError, InvalidRequest, SmsHTTPError
from .interface import current_sms
from .messages import current_locale, detail_for, error_texts, json_error, ui_texts

logger = logging.getLogger("flask_sms")

#: ``url_for("sms.static", filename="sms.js")`` is the front-end helper; the templates hold the Jinja macro
blueprint = Blueprint(
    "sms",
    __name__,
    static_folder="static",
    static_url_path="/sms_captcha/static",
    template_folder="templates",
)

_MAX_FIELD = 256
#: the largest body the two routes read: their fields, a CSRF token, a human check's token and room to spare
MAX_BODY = 8192
#: the deepest JSON they parse; their bodies are one flat object
_MAX_DEPTH = 8
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


def _body_checked() -> None:
    """Refuse a body over :data:`MAX_BODY` (413), or of unknown length (411), before anything parses it."""
    length = request.content_length
    if length is None and request.headers.get("Transfer-Encoding"):
        raise InvalidRequest(detail_for("length_required"), status=411)
    if length is not None and length > MAX_BODY:
        raise InvalidRequest(detail_for("body_too_large", max_bytes=MAX_BODY), status=413)


def _too_deep(raw: bytes) -> bool:
    """Whether JSON nests deeper than :data:`_MAX_DEPTH` (strings skipped); ``json`` would recurse once per level."""
    depth = 0
    for byte in _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        if depth > _MAX_DEPTH:
            return True
    return False


def _json_body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if _too_deep(raw):
        raise InvalidRequest(detail_for("body_too_deep"))
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest(detail_for("body_not_json")) from None
    if not isinstance(data, dict):
        raise InvalidRequest(detail_for("body_not_object"))
    return data


def _fields(*names: str, required: tuple[str, ...]) -> dict[str, str | None]:
    """Read a JSON object or form fields; every value must be a short string. Bad input names its field."""
    _body_checked()
    data: Any = _json_body() if request.is_json else request.form
    values: dict[str, str | None] = {}
    for name in names:
        value = data.get(name)
        if value is None or value == "":
            if name in required:
                raise InvalidRequest(detail_for("field_missing", field=name), field=name)
            values[name] = None
            continue
        if not isinstance(value, str) or len(value) > _MAX_FIELD:
            raise InvalidRequest(detail_for("field_invalid", field=name, max_length=_MAX_FIELD), field=name)
        values[name] = value
    return values


def _challenge() -> dict[str, str] | None:
    """The request's ``challenge`` object (a JSON object, or a form field holding one), when it has one."""
    data: Any = _json_body() if request.is_json else request.form
    found = read_challenge(data.get("challenge"))
    if found == {}:
        raise InvalidRequest(detail_for("field_invalid", field="challenge", max_length=4096), field="challenge")
    return found


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@blueprint.app_template_global("flask_sms_widget")
def widget(locale: str | None = None) -> dict[str, Any]:
    """What the ``sms_code_fields`` macro needs: the send URL, texts in the page's language, code length."""
    try:
        settings = current_sms().check()
    except ConfigError:
        settings = None  # the page still renders; the route answers 503 until the config is fixed
    captcha = settings.captcha if settings else None
    return {
        "send_url": url_for("sms.send_code"),
        "lang": locale or current_locale(),
        "texts": {**error_texts(locale), **ui_texts(locale)},
        "code_length": captcha.code_length if captcha else 6,
        # whether the "call me instead" control is rendered (sms.js shows it when an answer says voice_after)
        "voice": settings is not None and settings.voice is not None,
    }


@blueprint.before_request
def configured() -> None:
    """A config with problems answers 503 on the routes (raises the ConfigError, handled below).

    A cross-site browser request to either route is refused here, before its body is read.
    """
    if request.endpoint not in ("sms.static", "sms.dev_inbox"):
        sms = current_sms()
        sms.check()
        if request.method == "POST":
            sms.codes.check_origin(request)


@blueprint.errorhandler(ConfigError)
def misconfigured(exc: ConfigError) -> Response:
    """503 ``unavailable``; the problems are said once per process (not once per request), on ``app.logger``
    unless the app's logging config shows the ``flask_sms`` logger."""
    reporting.once(
        f"config:{exc}",
        logging.ERROR,
        "flask_sms answers 503 to %s %s (and to every request of its routes) until its config is fixed: %s "
        "(run `flask sms check` to list the problems)",
        request.method,
        request.path,
        exc,
    )
    return json_error(codes.UNAVAILABLE, 503)


@blueprint.post("/sms_captcha/")
def send_code() -> Response:
    fields = _fields("phone", "purpose", "channel", required=("phone",))
    challenge = _challenge()
    sent = current_sms().send_code(
        fields["phone"] or "",
        fields["purpose"],
        client_ip=_client_ip(),
        channel=fields["channel"] or "sms",
        challenge=challenge,
    )
    answer: dict[str, Any] = {"ok": True, "expires_in": sent.expires_in, "resend_after": sent.resend_after}
    if sent.channel != "sms":
        answer["channel"] = sent.channel
    if sent.voice_after is not None:  # a call may be asked for instead, that many seconds from now
        answer["voice_after"] = sent.voice_after
    if sent.nonce:  # echoed by the verify request: this client asked for the code
        answer["nonce"] = sent.nonce
    return jsonify(answer)


@blueprint.post("/sms_captcha/verify")
def verify_code() -> Response:
    fields = _fields("phone", "code", "purpose", "nonce", required=("phone", "code"))
    challenge = _challenge()
    sms = current_sms()
    result = sms.verify_code(
        fields["phone"] or "",
        fields["code"] or "",
        fields["purpose"],
        client_ip=_client_ip(),
        nonce=fields["nonce"],
        challenge=challenge,
    )
    if result:
        assert result.phone is not None
        flow = sms.codes
        token = flow.issue_token(result.phone, result.purpose)
        return jsonify(ok=True, token=token, expires_in=flow.settings.token_ttl)
    return json_error(result.reason or codes.INVALID_CODE, 400)


@blueprint.get("/sms_dev/inbox")
def dev_inbox() -> Response:
    """The console provider's recent texts and calls, with their codes (``SMS_DEV_INBOX``; 404 when it is off)."""
    inbox = inbox_for(current_app._get_current_object())  # type: ignore[attr-defined]
    if inbox is None:
        raise NotFound()
    entries = inbox.entries(current_sms().receipts.status)
    accepted = request.accept_mimetypes
    if accepted["text/html"] > accepted["application/json"]:  # a browser; JSON for */*, no Accept, or both
        response = current_app.make_response(render_template("flask_sms/dev_inbox.html", entries=entries))
    else:
        response = jsonify(ok=True, messages=entries)
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    return response


@blueprint.route("/sms_captcha/", methods=["GET", "PUT", "PATCH", "DELETE"])
@blueprint.route("/sms_captcha/verify", methods=["GET", "PUT", "PATCH", "DELETE"])
def wrong_method() -> Response:
    response = json_error(codes.INVALID_REQUEST, 405)
    response.headers["Allow"] = "POST"
    return response


@blueprint.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    """Our refusals, and werkzeug's own 4xx (e.g. a body over MAX_CONTENT_LENGTH), as JSON.

    One handler for all: Flask files HTTP exception handlers by status code, so a
    handler for one of our 400s would not see ``RateLimited`` (429).
    """
    if isinstance(exc, SmsHTTPError):
        return exc.get_response()
    status = exc.code or 400
    if status >= 500:  # a bug (Flask logged it): 503 ``unavailable`` stays "the storage is down"
        return json_error(codes.INTERNAL_ERROR, 500)
    if status == 429:  # e.g. a limit the app itself put on the blueprint
        return json_error(codes.RATE_LIMITED, 429, _retry_after(exc))
    if _is_csrf_error(exc):
        logger.info("flask_sms refused %s %s: %s", request.method, request.path, exc.description)
        return json_error(codes.CSRF_FAILED, 400)
    return json_error(codes.INVALID_REQUEST, status)


def _is_csrf_error(exc: HTTPException) -> bool:
    """Flask-WTF's ``CSRFError`` (a ``BadRequest``), without importing Flask-WTF: only an app that imported it
    can raise one."""
    csrf = sys.modules.get("flask_wtf.csrf")
    return csrf is not None and isinstance(exc, csrf.CSRFError)


def _retry_after(exc: HTTPException) -> int:
    """Whole seconds to wait, from the exception, Flask-Limiter's current limit, or the limit's window."""
    wait: Any = getattr(exc, "retry_after", None)
    if isinstance(wait, datetime):
        wait = (wait - datetime.now(timezone.utc)).total_seconds()
    if wait is None:
        for limiter in current_app.extensions.get("limiter", ()):
            current = getattr(limiter, "current_limit", None)
            if current is not None and getattr(current, "breached", True):
                wait = current.reset_at - time.time()
                break
    if wait is None:
        limit = getattr(getattr(exc, "limit", None), "limit", None)
        wait = limit.get_expiry() if limit is not None else 60
    return max(1, math.ceil(float(wait)))
