"""Human texts for every error code (and the front-end helpers), through gettext, and the JSON error body.

The source text of each code is written once, below, in English: it is the
``msgid`` of the gettext catalogues in ``flask_sms/translations/<locale>/LC_MESSAGES/flask_sms.po``
(zh_CN, zh_TW and en ship; the ``.mo`` files are compiled from them). Adding a
code: add its source text here, its translations to each ``.po`` file, and run
``pybabel compile -d flask_sms/translations -D flask_sms`` (a test checks every
code is translated in every shipped language and that the ``.mo`` files are current).

Which language: the app's own choice when it set one with ``@sms.locale_selector``,
else the app's Flask-Babel locale when the app has Flask-Babel (found by its type, so
Flask-BabelPlus, which registers ``"babel"`` too, is not mistaken for it), else the
best match for ``Accept-Language`` among the catalogues; a language with no
catalogue falls back to ``SMS_LANGUAGE``, else English. With Flask-Babel, an app
can add a language (or override a text) with a ``flask_sms`` catalogue in its own
``BABEL_TRANSLATION_DIRECTORIES``.
"""

from __future__ import annotations

import gettext
import os
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, Union

from flask import Flask, current_app, has_app_context, has_request_context, jsonify, request
from werkzeug.wrappers import Response

from . import codes

DOMAIN = "flask_sms"
TRANSLATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")
#: the languages whose catalogues ship with flask_sms
LANGUAGES = ("zh-CN", "zh-TW", "en")
FALLBACK = "en"

#: a source text, or (singular, plural) for a text with a count
Text = Union[str, tuple[str, str]]


def N_(text: str) -> str:
    """Marks a source text for ``pybabel extract -k N_`` (translated when used, not here)."""
    return text


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a source text with a count for ``pybabel extract -k Nn_:1,2``."""
    return singular, plural


#: error code -> its source text (the msgid); ``{retry_after}`` is filled in after translation
SOURCE: dict[str, Text] = {
    codes.INVALID_REQUEST: N_("The request is malformed."),
    codes.INVALID_PHONE: N_("That is not a valid phone number."),
    codes.REGION_NOT_ALLOWED: N_("Phone numbers from that country or region are not supported."),
    codes.INVALID_PURPOSE: N_("That verification purpose is not supported."),
    codes.INVALID_CODE: N_("The code is incorrect."),
    codes.CODE_EXPIRED: N_("The code has expired. Please request a new one."),
    codes.TOO_MANY_ATTEMPTS: N_("Too many wrong codes. Please request a new one."),
    codes.FORBIDDEN: N_("Please complete the human check first."),
    codes.RATE_LIMITED: Nn_(
        "Too many requests. Please try again in {retry_after} second.",
        "Too many requests. Please try again in {retry_after} seconds.",
    ),
    codes.SEND_FAILED: N_("The text message could not be sent. Please try again later."),
    codes.PHONE_REJECTED: N_("Text messages cannot be sent to this phone number."),
    codes.UNAVAILABLE: N_("The service is temporarily unavailable. Please try again later."),
    codes.INTERNAL_ERROR: N_("Something went wrong on our side. Please try again later."),
    codes.CSRF_FAILED: N_(
        "The page has expired (its security token is missing or invalid). Please reload it and try again."
    ),
    codes.FRAUD_SUSPECTED: N_(
        "Verification codes cannot be sent there right now because of unusual activity. Please try again later."
    ),
    codes.CHALLENGE_REQUIRED: N_("Please complete the security check to continue."),
    codes.CHALLENGE_FAILED: N_("The security check did not pass. Please try again."),
}

#: texts that say more than an error code's own (the JSON ``message``): which field, which limit, why
DETAIL_SOURCE: dict[str, str] = {
    "field_missing": N_("The field “{field}” is missing."),
    "field_invalid": N_("The field “{field}” must be text of at most {max_length} characters."),
    "body_not_json": N_("The request body is not valid JSON."),
    "body_not_object": N_("The request body must be a JSON object."),
    "body_too_deep": N_("The request body is nested too deeply."),
    "body_too_large": N_("The request body is too large (at most {max_bytes} bytes)."),
    "length_required": N_("The request must say how long its body is (Content-Length)."),
    "cross_site": N_("This request came from another website, so it was refused."),
    "not_mobile": N_("That number cannot receive verification codes. Please use a mobile number."),
    "voice_off": N_("Codes by phone call are not available."),
    "voice_not_yet": N_("Please ask for a text message first; a call can be requested after it."),
    "channel_invalid": N_("The channel must be “sms” or “voice”."),
}

#: texts of the front-end helpers (the Jinja macro and sms.js); ``{seconds}``/``{minutes}`` filled in by them
UI_SOURCE: dict[str, str] = {
    "phone_label": N_("Phone number"),
    "phone_placeholder": N_("Your mobile number"),
    "code_label": N_("Verification code"),
    "code_placeholder": N_("The digits in the text"),
    "send_code": N_("Get code"),
    "call_me": N_("Call me instead"),
    "sending": N_("Sending…"),
    "resend_in": N_("Resend in {seconds}s"),
    "code_sent": N_("Code sent. It is valid for {minutes} minutes."),
    "phone_required": N_("Please enter your phone number."),
    "code_required": N_("Please enter the code."),
    "network_error": N_("Network error. Please check your connection and try again."),
    "calling": N_("Calling…"),
    "call_placed": N_("We are calling you. The code is valid for {minutes} minutes."),
    "call_in": N_("Call me in {seconds}s"),
}

# SMS_LANGUAGE per app, validated once by the config loader and handed down here at init_app.
_configured: weakref.WeakKeyDictionary[Flask, str | None] = weakref.WeakKeyDictionary()
#: ``selector() -> "zh_CN" | None``: the app's own locale choice (``@sms.locale_selector``)
LocaleSelector = Callable[[], Any]
# Per app, the extension's selector list (shared, so a selector set after init_app applies too).
_selectors: weakref.WeakKeyDictionary[Flask, Sequence[LocaleSelector]] = weakref.WeakKeyDictionary()


def set_language(app: Flask, language: str | None, selectors: Sequence[LocaleSelector] = ()) -> None:
    _configured[app] = language
    _selectors[app] = selectors


# -- catalogues ----------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _available(directories: tuple[str, ...]) -> frozenset[str]:
    """Catalogue folder names (``zh_CN``, ``en``) that hold a compiled ``flask_sms`` catalogue."""
    found: set[str] = set()
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found.update(n for n in names if os.path.isfile(os.path.join(directory, n, "LC_MESSAGES", DOMAIN + ".mo")))
    return frozenset(found)


@lru_cache(maxsize=64)
def _catalogue(directories: tuple[str, ...], folder: str) -> gettext.NullTranslations:
    """The catalogue for one locale; the app's directories come first, so they can override our texts."""
    chain: gettext.NullTranslations | None = None
    for directory in directories:
        try:
            found = gettext.translation(DOMAIN, directory, [folder])
        except OSError:
            continue
        if chain is None:
            chain = found
        else:
            chain.add_fallback(found)
    return chain or gettext.NullTranslations()


@lru_cache(maxsize=32)
def _app_directories(root_path: str, configured: str) -> tuple[str, ...]:
    paths = (os.path.join(root_path, path) for path in configured.split(";") if path)
    return (*(path for path in paths if os.path.isdir(path)), TRANSLATIONS)


def _directories(app: Flask | None) -> tuple[str, ...]:
    """Where catalogues are looked up: with Flask-Babel, the app's translation directories, then ours."""
    if app is None or "babel" not in app.extensions:
        return (TRANSLATIONS,)
    configured = app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations")
    return _app_directories(app.root_path, configured if isinstance(configured, str) else "translations")


_TAG = re.compile(r"[-_]")
_TRADITIONAL_REGIONS = ("TW", "HK", "MO")


def match_locale(tag: object, available: Iterable[str]) -> str | None:
    """The catalogue folder for a language tag: ``"zh-Hant-HK"`` -> ``"zh_TW"``, ``"en-GB"`` -> ``"en"``.

    Chinese goes by script: Traditional (``Hant``, or Taiwan, Hong Kong, Macao) to
    zh_TW, everything else to zh_CN, unless a catalogue for the exact region exists.
    """
    parts = [part for part in _TAG.split(str(tag or "").strip()) if part]
    if not parts:
        return None
    found = set(available)
    return next((candidate for candidate in _candidates(parts) if candidate in found), None)


def _subtag(parts: list[str], length: int) -> str | None:
    """The first alphabetic subtag of ``length`` after the language (4: a script, 2: a region)."""
    return next((part for part in parts[1:] if len(part) == length and part.isalpha()), None)


def _candidates(parts: list[str]) -> list[str]:
    """Catalogue folders for a split tag, most specific first: the exact region, the Chinese script, the language."""
    language = parts[0].lower()
    script = _subtag(parts, 4)
    region = _subtag(parts, 2)
    region = region.upper() if region else None
    candidates = [f"{language}_{region}"] if region else []
    if language == "zh":
        candidates.append(_chinese_folder(script.title() if script else None, region))
    candidates.append(language)
    return candidates


def _chinese_folder(script: str | None, region: str | None) -> str:
    """zh_TW for Traditional (``Hant``, or a Traditional region with no script), else zh_CN."""
    traditional = script == "Hant" or (script is None and region in _TRADITIONAL_REGIONS)
    return "zh_TW" if traditional else "zh_CN"


def _requested(app: Flask) -> list[str]:
    """The languages asked for, best first: the app's selector, Flask-Babel's choice, or ``Accept-Language``."""
    for selector in _selectors.get(app, ()):
        chosen = selector()
        if chosen:
            return [str(chosen)]
    if uses_flask_babel(app):
        from flask_babel import get_locale

        try:
            babel_locale = get_locale()
        except RuntimeError:  # a locale selector that needs a request, outside one
            return []
        return [str(babel_locale)] if babel_locale is not None else []
    if has_request_context():
        return [value for value, _ in request.accept_languages]
    return []


def uses_flask_babel(app: Flask) -> bool:
    """Whether ``app.extensions["babel"]`` is Flask-Babel's: it imports, and the object is one of its own
    (Flask-BabelPlus and others register ``"babel"`` too, and Flask-Babel's ``get_locale`` fails on theirs)."""
    extension = app.extensions.get("babel")
    if extension is None:
        return False
    try:
        import flask_babel
    except ImportError:
        return False
    babel_package: str = flask_babel.__name__
    return str(type(extension).__module__).split(".")[0] == babel_package


def current_locale() -> str:
    """The language texts are shown in now, as a tag such as ``"zh-CN"`` (see the module's docstring)."""
    app: Flask | None = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
    directories = _directories(app)
    available = _available(directories)
    if app is not None:
        for tag in _requested(app):
            folder = match_locale(tag, available)
            if folder:
                return folder.replace("_", "-")
    configured = _configured.get(app) if app is not None else None
    return configured or FALLBACK


def language() -> str:
    """Older name of :func:`current_locale`."""
    return current_locale()


def _translate(source: Text, locale: str, count: int) -> str:
    app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]
    directories = _directories(app)
    folder = match_locale(locale, _available(directories)) or match_locale(FALLBACK, _available(directories))
    catalogue = _catalogue(directories, folder or FALLBACK)
    if isinstance(source, tuple):
        return catalogue.ngettext(source[0], source[1], count)
    return catalogue.gettext(source)


def message_for(code: str, locale: str | None = None, **values: Any) -> str:
    """The human text for an error code, in ``locale`` (a tag such as ``"zh-TW"``) or the current language.

    ``values`` fill the text's fields, e.g. ``message_for("rate_limited", "en", retry_after=5)``.
    An unknown code gives the text of ``invalid_request``.
    """
    source = SOURCE.get(code, SOURCE[codes.INVALID_REQUEST])
    retry_after = values.get("retry_after") or 1
    text = _translate(source, str(locale) if locale else current_locale(), int(retry_after))
    return text.format_map({"retry_after": retry_after, **values})


def detail_for(key: str, locale: str | None = None, **values: Any) -> str:
    """A :data:`DETAIL_SOURCE` text in ``locale`` or the current language, its fields filled in."""
    text = _translate(DETAIL_SOURCE[key], str(locale) if locale else current_locale(), 1)
    return text.format_map(values)


def ui_texts(locale: str | None = None) -> dict[str, str]:
    """The front-end helpers' texts, translated (their ``{seconds}``/``{minutes}`` fields left for them)."""
    chosen = str(locale) if locale else current_locale()
    return {key: _translate(source, chosen, 1) for key, source in UI_SOURCE.items()}


def error_texts(locale: str | None = None) -> dict[str, str]:
    """Every error code's text in one language, ``{retry_after}`` left in (for a page's script)."""
    chosen = str(locale) if locale else current_locale()
    return {code: _translate(source, chosen, 2) for code, source in SOURCE.items()}


#: ``MESSAGES[language][code]`` for the shipped languages, read from our catalogues (kept for older callers)
MESSAGES: dict[str, dict[str, str]] = {language: error_texts(language) for language in LANGUAGES}


def json_error(
    error: str, status: int, retry_after: int | None = None, message: str | None = None, **extra: Any
) -> Response:
    """``{"ok": false, "error": ..., "message": ...}`` (plus ``extra``, e.g. the ``field`` at fault)."""
    from . import metrics  # the refusals counter (a no-op unless the app has metrics on)

    metrics.refused(error)
    text = message or message_for(error, retry_after=retry_after)
    response = jsonify(ok=False, error=error, message=text, **extra)
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
