"""Helpers for checking a code posted in a form (``SmsExtension.verify_form_code``).

A code is single use: checking it inside a WTForms validator burns it even when
the same post fails its CSRF check. So the code is checked only once the
request's CSRF token is known good: Flask-WTF's ``CSRFProtect`` passed it, or,
when the form (or the app) uses Flask-WTF's CSRF, the token is checked here with
Flask-WTF's own ``validate_csrf`` before the code is touched.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context, request


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
    caller's own CSRF check is trusted (README: call this after it).
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
