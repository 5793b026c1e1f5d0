"""The demo pages: ask for a code, sign in with it, sign out.

The code is requested by the page's script from flask_sms's own
``POST /sms_captcha/``. Signing in is the two-step pattern: the page's script
checks the code with ``POST /sms_captcha/verify``, puts the verification token
it answers into the login form and posts the form; ``/login`` redeems the token
with ``sms.redeem_token`` (single use, signed, short-lived). Without JavaScript
the form posts the code itself and ``/login`` checks it with
``sms.verify_form_code`` after its CSRF check, the one-step pattern.

Every post answers with a redirect (post/redirect/get): the outcome of a
sign-in attempt is kept in the session for one page view, so reloading the page
never posts the code again.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from typing import Any

import phonenumbers
from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from flask_sms import ConfigError, SmsExtension
from flask_sms.dev_inbox import inbox_for

from .i18n import SCRIPT_KEYS, current_language, error_text, texts

blueprint = Blueprint("demo", __name__)

CSRF_FIELD = "csrf_token"
SESSION_PHONE = "phone"
#: the outcome of the last post, shown once by the next page view (post/redirect/get)
SESSION_NOTICE = "notice"
_MAX_FIELD = 64
_MAX_TOKEN = 1024


# -- CSRF: a per-session token in a hidden field ----------------------------------------------
def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


def _new_csrf_token() -> None:
    """A fresh token whenever the signed-in state changes."""
    session.pop(CSRF_FIELD, None)


# -- rendering ---------------------------------------------------------------------------------
def _sms() -> SmsExtension:
    return current_app.extensions["sms"]


def display_phone(phone: str) -> str:
    """``+8613800138000`` -> ``+86 138 0013 8000``."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return phone


def clock_time(sent_at: str) -> tuple[str, str]:
    """``("14:03:22 UTC+08:00", "2026-11-22T14:03:22+08:00")``: the server's local time, with its offset.

    The page may be read from another time zone than the server's: a bare
    ``14:03:22`` would not say whose clock that is.
    """
    moment = datetime.fromisoformat(sent_at).astimezone()
    offset = moment.strftime("%z")  # "+0800"
    return f"{moment:%H:%M:%S} UTC{offset[:3]}:{offset[3:]}", moment.isoformat(timespec="seconds")


def inbox_entry(entry: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    """One text of flask_sms's dev inbox for the template: the code, and the words around it."""
    params = entry["params"]
    time, iso = clock_time(entry["sent_at"])
    view = {
        "time": time,
        "iso": iso,
        "phone": entry["phone"],
        "purpose": entry["purpose"],
        "status": entry["status"],
        "status_text": table["status_" + entry["status"]],
        "status_code": entry["status_code"],
    }
    if "code" in params:
        wording = "voice_captcha" if entry.get("channel") == "voice" else "sms_captcha"
        before, _, after = table[wording].partition("{code}")
        minutes = params.get("minutes", "?")
        view.update(before=before.format(minutes=minutes), code=params["code"], after=after.format(minutes=minutes))
    else:
        view.update(before=" ".join(f"{name}={value}" for name, value in params.items()), code="", after="")
    return view


def render_page() -> Response:
    notice = session.pop(SESSION_NOTICE, None)
    if not isinstance(notice, dict):
        notice = {}
    language = current_language()
    table = texts(language)
    sms = _sms()
    settings = sms.check()
    inbox = inbox_for(current_app._get_current_object())  # type: ignore[attr-defined]
    signed_in = session.get(SESSION_PHONE)
    context = {
        "lang": language,
        "other_lang": "zh-CN" if language == "en" else "en",
        "t": table,
        "script_texts": {key: table[key] for key in SCRIPT_KEYS},
        "signed_in": display_phone(signed_in) if isinstance(signed_in, str) else None,
        "message": str(notice.get("message", "")),
        "message_kind": "error",
        "phone": str(notice.get("phone", "")),
        "providers": ", ".join(settings.providers),
        "storage": settings.storage_url.split("://", 1)[0],  # never the URL: it may hold a password
        "inbox": [inbox_entry(entry, table) for entry in inbox.entries(sms.receipts.status)]
        if inbox is not None
        else None,
    }
    response = current_app.make_response(render_template("index.html", **context))
    response.headers["Cache-Control"] = "no-store"
    return response


def _field(name: str) -> str:
    value = request.form.get(name, "").strip()
    return value[: _MAX_FIELD + 1]


# -- views -------------------------------------------------------------------------------------
@blueprint.get("/")
def index() -> Response:
    return render_page()


def _after_post(message: str = "", phone: str = "") -> Response:
    """Post/redirect/get: keep what to say for the next page view, answer with a redirect to it."""
    if message:
        session[SESSION_NOTICE] = {"message": message, "phone": phone}
    return redirect(url_for("demo.index"), 303)


@blueprint.post("/login")
def login() -> Response:
    language = current_language()
    table = texts(language)
    phone, code = _field("phone"), _field("code")
    token = request.form.get("token", "")[: _MAX_TOKEN + 1]
    if not csrf_ok():
        return _after_post(table["csrf_failed"], phone)
    if token:
        # Two steps: the page's script already checked the code at POST /sms_captcha/verify;
        # the token it got back proves that to this view, once.
        verified = _sms().redeem_token(token)
        if verified is None:
            return _after_post(error_text(language, "code_expired"), phone)
        return _signed_in(verified)
    if not phone:
        return _after_post(table["phone_required"], phone)
    if not code:
        return _after_post(table["code_required"], phone)
    if len(phone) > _MAX_FIELD or len(code) > _MAX_FIELD:
        return _after_post(table["invalid_request"])

    # One step (no JavaScript): after the page's own CSRF check above, as flask_sms's README asks.
    # It counts SMS_VERIFY_IP_LIMITS for this client and reports rate_limited/unavailable in the result.
    result = _sms().codes.verify_form_code(phone, code)
    if not result:
        return _after_post(error_text(language, result.reason or "invalid_code", result.retry_after), phone)
    assert result.phone is not None
    return _signed_in(result.phone)


def _signed_in(phone: str) -> Response:
    session[SESSION_PHONE] = phone
    _new_csrf_token()
    return redirect(url_for("demo.index"), 303)


@blueprint.post("/logout")
def logout() -> Response:
    if not csrf_ok():
        return _after_post(texts(current_language())["csrf_failed"])
    session.pop(SESSION_PHONE, None)
    _new_csrf_token()
    return redirect(url_for("demo.index"), 303)


@blueprint.errorhandler(ConfigError)
def misconfigured(exc: ConfigError) -> tuple[str, int]:
    """A broken SMS config, as flask_sms answers it: 503 and a page that says so, never a traceback. The
    problems themselves are listed only in debug mode (they name the server's keys) and by `flask sms check`."""
    language = current_language()
    page = render_template(
        "unavailable.html",
        lang=language,
        t=texts(language),
        problems=exc.problems if current_app.debug else [],
    )
    return page, 503


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.globals["csrf_token"] = csrf_token
