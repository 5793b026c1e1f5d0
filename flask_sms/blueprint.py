"""``POST /sms_captcha/`` and ``POST /sms_captcha/verify``.

The views only read the request and pass what they read (fields and the
client's address) to ``SmsExtension.send_code`` / ``verify_code``, where every
rule lives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from . import codes
from .errors import InvalidRequest, SmsHTTPError
from .messages import json_error

if TYPE_CHECKING:
    from .extension import SmsExtension

blueprint = Blueprint("sms", __name__)

_MAX_FIELD = 256


def _fields(*names: str, required: tuple[str, ...]) -> dict[str, str | None]:
    """Read a JSON object or form fields; every value must be a short string."""
    if request.is_json:
        data: Any = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidRequest()
    else:
        data = request.form
    values: dict[str, str | None] = {}
    for name in names:
        value = data.get(name)
        if value is None or value == "":
            if name in required:
                raise InvalidRequest()
            values[name] = None
            continue
        if not isinstance(value, str) or len(value) > _MAX_FIELD:
            raise InvalidRequest()
        values[name] = value
    return values


def _sms() -> SmsExtension:
    extension: SmsExtension = current_app.extensions["sms"]
    return extension


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@blueprint.post("/sms_captcha/")
def send_code() -> Response:
    fields = _fields("phone", "purpose", required=("phone",))
    sent = _sms().send_code(fields["phone"] or "", fields["purpose"], client_ip=_client_ip())
    return jsonify(ok=True, expires_in=sent.expires_in, resend_after=sent.resend_after)


@blueprint.post("/sms_captcha/verify")
def verify_code() -> Response:
    fields = _fields("phone", "code", "purpose", required=("phone", "code"))
    result = _sms().verify_code(fields["phone"] or "", fields["code"] or "", fields["purpose"], client_ip=_client_ip())
    if result:
        return jsonify(ok=True)
    return json_error(result.reason or codes.INVALID_CODE, 400)


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
    if status >= 500:
        return json_error(codes.UNAVAILABLE, 503)
    return json_error(codes.INVALID_REQUEST, status)
