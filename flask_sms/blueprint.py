"""``POST /sms_captcha/`` and ``POST /sms_captcha/verify``.

The views only read the request; every rule lives in ``SmsExtension.send_code``
and ``SmsExtension.verify_code``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .errors import CaptchaError, InvalidRequest
from .messages import error_response, json_error

blueprint = Blueprint("sms", __name__)

_MAX_FIELD = 256
_STATUS = {
    "invalid_phone": 400,
    "region_not_allowed": 400,
    "invalid_purpose": 400,
    "invalid_code": 400,
    "code_expired": 400,
    "too_many_attempts": 400,
}


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


def _sms() -> Any:
    return current_app.extensions["sms"]


@blueprint.post("/sms_captcha/")
def send_code() -> Response:
    fields = _fields("phone", "purpose", required=("phone",))
    sent = _sms().send_code(fields["phone"], fields["purpose"])
    return jsonify(ok=True, expires_in=sent.expires_in, resend_after=sent.resend_after)


@blueprint.post("/sms_captcha/verify")
def verify_code() -> Response:
    sms = _sms()
    sms.check_verify_limit(request.remote_addr or "unknown")
    fields = _fields("phone", "code", "purpose", required=("phone", "code"))
    result = sms.verify_code(fields["phone"], fields["code"], fields["purpose"])
    if result:
        return jsonify(ok=True)
    return json_error(result.reason, _STATUS.get(result.reason, 400))


@blueprint.route("/sms_captcha/", methods=["GET", "PUT", "PATCH", "DELETE"])
@blueprint.route("/sms_captcha/verify", methods=["GET", "PUT", "PATCH", "DELETE"])
def wrong_method() -> Response:
    response = json_error("invalid_request", 405)
    response.headers["Allow"] = "POST"
    return response


@blueprint.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    """Our refusals, and werkzeug's own 4xx (e.g. a body over MAX_CONTENT_LENGTH), as JSON.

    One handler for all: Flask files HTTP exception handlers by status code, so a
    handler for ``CaptchaError`` (400) would not see ``RateLimited`` (429).
    """
    if isinstance(exc, CaptchaError):
        return error_response(exc)
    status = exc.code or 400
    if status >= 500:
        return json_error("unavailable", 503)
    return json_error("invalid_request", status)
