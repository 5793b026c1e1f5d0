"""Reading the request for the flow: a code posted in a form (``sms.codes.verify_form_code``), the client.

A code is single use: checking it inside a WTForms validator burns it even when
the same post fails its CSRF check. So the code is checked only once the
request's CSRF token is known good: Flask-WTF's ``CSRFProtect`` passed it, or,
when the form (or the app) uses Flask-WTF's CSRF, the token is checked here with
Flask-WTF's own ``validate_csrf`` before the code is touched.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context, request

from . import codes, messages


def current_request() -> Any:
    """The request being handled (the object, not Flask's proxy), or ``None`` outside one."""
    return request._get_current_object() if has_request_context() else None  # type: ignore[attr-defined]


def client_address(current: Any, given: str | None = None) -> str | None:
    """Who a per-IP limit counts: ``given``, else the request's address; ``None`` outside a request."""
    if given is not None or current is None:
        return given
    return current.remote_addr or "unknown"


def refusal(form_phone: Any, form_code: Any, phone: str, code: str, purpose: str, *, check_csrf: bool) -> str | None:
    """Why a posted form must not reach the code check (bad CSRF, a blank field), else ``None``.

    CSRF comes first so a forged post never uses up a code; the reason goes on the field at fault.
    """
    if check_csrf and not csrf_passed(form_code):
        add_error(form_code, messages.message_for(codes.CSRF_FAILED))
        return codes.CSRF_FAILED
    if not phone:
        add_error(form_phone, messages.ui_texts()["phone_required"])
        return codes.INVALID_PHONE
    if not code:
        add_error(form_code, messages.message_for(codes.INVALID_CODE))
        return codes.INVALID_CODE
    return None


def field_value(field: Any) -> str:
    """A WTForms field's data, or a plain value, as a stripped string."""
    value = getattr(field, "data", field)
    return value.strip() if isinstance(value, str) else ""


def add_error(field: Any, message: str) -> None:
    """Append to a WTForms field's errors (a tuple until the form was validated); plain values have none."""
    if hasattr(field, "errors"):
        field.errors = [*field.errors, message]


def csrf_passed(field: Any) -> bool:
    """Whether this request's CSRF token is known good, when Flask-WTF's CSRF applies to it.

    It applies when the app has ``CSRFProtect`` or the field belongs to a form with
    CSRF on (``meta.csrf``), and ``WTF_CSRF_ENABLED`` is not false. Otherwise the
    caller's own CSRF check is trusted (the docs: call this after it).
    """
    meta = getattr(field, "meta", None)
    if not _csrf_applies(meta) or g.get("csrf_valid", False):  # csrf_valid: CSRFProtect checked this request
        return True
    if not has_request_context():
        return False
    return _posted_token_valid(meta)


def _csrf_applies(meta: Any) -> bool:
    """Whether Flask-WTF's CSRF covers this form: the app's ``CSRFProtect`` or the form's ``meta.csrf``, not disabled."""
    app_protects = "csrf" in current_app.extensions
    form_wants = bool(getattr(meta, "csrf", False))
    return (app_protects or form_wants) and bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def _posted_token_valid(meta: Any) -> bool:
    """Flask-WTF's own check of the token this request posted, so its rules (expiry, session binding) apply."""
    try:
        from flask_wtf.csrf import validate_csrf
        from wtforms import ValidationError
    except ImportError:  # pragma: no cover - "csrf" in app.extensions means Flask-WTF is there
        return False
    try:
        validate_csrf(_posted_token(meta))
    except ValidationError:
        return False
    return True


def _posted_token(meta: Any) -> Any:
    """The CSRF token from the form field, else from the first CSRF header that carries one."""
    name = getattr(meta, "csrf_field_name", None) or current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = request.form.get(name)
    for header in current_app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"]):
        token = token or request.headers.get(header)
    return token
