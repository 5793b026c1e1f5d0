"""Messages through gettext catalogues: zh-CN, zh-TW and en ship; Flask-Babel picks the language when the app has it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask, request
from helpers import config_problems

from flask_sms import SmsExtension, codes
from flask_sms.messages import DETAIL_SOURCE, SOURCE, TRANSLATIONS, UI_SOURCE, match_locale, message_for, ui_texts

SHIPPED = ("zh_CN", "zh_TW", "en")
ALL_CODES = sorted(value for name, value in vars(codes).items() if name.isupper() and isinstance(value, str))
PHONE = "13800138000"


def catalogue(folder: str, kind: str = "po") -> Catalog:
    path = Path(TRANSLATIONS, folder, "LC_MESSAGES", f"flask_sms.{kind}")
    with path.open("rb") as handle:
        return read_po(handle) if kind == "po" else read_mo(handle)


def fields(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


@pytest.mark.parametrize("folder", SHIPPED)
def test_every_code_and_ui_text_is_translated_in_every_shipped_language(folder):
    assert set(SOURCE) == set(ALL_CODES), "every code in codes.py needs a source text in messages.SOURCE"
    translated = catalogue(folder)
    missing = []
    for key, source in {**SOURCE, **DETAIL_SOURCE, **UI_SOURCE}.items():
        message = translated.get(source if isinstance(source, str) else source[0])
        strings = message.string if message is not None else None
        strings = strings if isinstance(strings, tuple) else (strings,)
        if message is None or message.fuzzy or not all(strings):
            missing.append(key)
            continue
        wanted = fields(source if isinstance(source, str) else source[0])
        assert all(fields(text) == wanted for text in strings), (folder, key, strings)  # no field lost or invented
    assert missing == [], f"{folder} misses {missing}"


@pytest.mark.parametrize("folder", SHIPPED)
def test_compiled_catalogues_are_current(folder):
    """The .mo files are what `pybabel compile -d flask_sms/translations -D flask_sms` makes of the .po files."""

    def texts(found: Catalog) -> dict[object, object]:
        def key(value: object) -> object:
            return tuple(value) if isinstance(value, (list, tuple)) else value

        return {key(message.id): key(message.string) for message in found if message.id and not message.fuzzy}

    assert texts(catalogue(folder, "mo")) == texts(catalogue(folder))


@pytest.mark.parametrize(
    ("tag", "folder"),
    [
        ("zh-CN", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh-SG", "zh_CN"),
        ("zh-Hans-CN", "zh_CN"),
        ("zh_Hans_CN", "zh_CN"),
        ("zh-TW", "zh_TW"),
        ("zh-HK", "zh_TW"),
        ("zh-Hant", "zh_TW"),
        ("zh_Hant_TW", "zh_TW"),
        ("en-GB", "en"),
        ("EN", "en"),
        ("es", None),
        ("fr-CA", None),
        ("ja", None),
        ("", None),
    ],
)
def test_language_tags_find_their_catalogue(tag, folder):
    assert match_locale(tag, SHIPPED) == folder


def test_message_for_is_public_and_takes_a_locale():
    assert message_for(codes.INVALID_CODE, "zh-TW") == "驗證碼不正確。"
    assert message_for(codes.INVALID_CODE, "zh-CN") == "验证码不正确。"
    assert message_for(codes.INVALID_CODE, "en") == "The code is incorrect."
    assert message_for(codes.RATE_LIMITED, "en", retry_after=1) == "Too many requests. Please try again in 1 second."
    assert message_for(codes.RATE_LIMITED, "en", retry_after=7) == "Too many requests. Please try again in 7 seconds."
    assert message_for(codes.RATE_LIMITED, "zh-TW", retry_after=7) == "操作過於頻繁，請 7 秒後再試。"
    assert message_for(codes.INVALID_CODE, "es") == "The code is incorrect."  # no catalogue: English
    assert message_for(codes.INVALID_CODE) == "The code is incorrect."  # no app, no request: English


@pytest.fixture
def app(make_app):
    def factory(**config):
        return make_app(["console"], SMS_SUPPRESS_SEND=True, **config)

    return factory


def invalid_phone_message(app, **headers) -> str:
    return app.test_client().post("/sms_captcha/", json={"phone": "12"}, headers=headers).get_json()["message"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("zh-TW,zh;q=0.9", "手機號碼格式不正確。"),
        ("zh-HK", "手機號碼格式不正確。"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "手机号码格式不正确。"),
        ("en-US,en;q=0.9", "That is not a valid phone number."),
        ("es-ES,es;q=0.9,zh-TW;q=0.5", "手機號碼格式不正確。"),  # the best match among the shipped ones
    ],
)
def test_accept_language_picks_the_best_shipped_language(app, accept, expected):
    assert invalid_phone_message(app(), **{"Accept-Language": accept}) == expected


@pytest.mark.parametrize("accept", ["es-ES,es;q=0.9", "fr-FR", "ja-JP", ""])
def test_an_unsupported_language_falls_back_to_sms_language_or_english(app, accept):
    headers = {"Accept-Language": accept} if accept else {}
    assert invalid_phone_message(app(), **headers) == "That is not a valid phone number."
    assert invalid_phone_message(app(SMS_LANGUAGE="zh-TW"), **headers) == "手機號碼格式不正確。"


def babel_app(make_app, tmp_path=None, **config):
    from flask_babel import Babel

    app = make_app(["console"], SMS_SUPPRESS_SEND=True, **config)
    Babel(app, locale_selector=lambda: request.args.get("lang", "en"))
    return app


def test_flask_babel_chooses_the_language(make_app):
    app = babel_app(make_app)
    client = app.test_client()

    def message(lang):
        # Accept-Language says English: with Flask-Babel, the app's locale selector decides
        return client.post(
            f"/sms_captcha/?lang={lang}", json={"phone": "12"}, headers={"Accept-Language": "en"}
        ).get_json()["message"]

    assert message("zh_Hant_TW") == "手機號碼格式不正確。"
    assert message("zh_CN") == "手机号码格式不正确。"
    assert message("en") == "That is not a valid phone number."
    assert message("ja") == "That is not a valid phone number."  # no catalogue: English


def test_an_app_with_flask_babel_can_add_a_language(make_app, tmp_path):
    spanish = Catalog(locale="es", domain="flask_sms")
    spanish.add(SOURCE[codes.INVALID_PHONE], "El número de teléfono no es válido.")
    folder = tmp_path / "translations" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "flask_sms.mo").open("wb") as handle:
        write_mo(handle, spanish)
    app = babel_app(make_app, BABEL_TRANSLATION_DIRECTORIES=str(tmp_path / "translations"), SMS_LANGUAGE="zh-CN")
    client = app.test_client()
    assert (
        client.post("/sms_captcha/?lang=es", json={"phone": "12"}).get_json()["message"]
        == "El número de teléfono no es válido."
    )
    assert client.post("/sms_captcha/?lang=es", json={}).get_json()["message"] == "The field “phone” is missing."
    assert client.post("/sms_captcha/?lang=fr", json={"phone": "12"}).get_json()["message"] == "手机号码格式不正确。"


def test_verification_message_and_ui_texts_follow_the_language(make_app):
    app = make_app(["console"], SMS_SUPPRESS_SEND=True)
    sms = app.extensions["sms"]
    with app.test_request_context(headers={"Accept-Language": "zh-TW"}):
        result = sms.verify_code(PHONE, "000000")
        assert not result and result.message == "驗證碼不正確。"
        assert ui_texts()["send_code"] == "取得驗證碼"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert ui_texts()["resend_in"] == "Resend in {seconds}s"


def test_sms_language_accepts_the_shipped_languages_only():
    app = Flask("lang")
    app.config.update(SECRET_KEY="a-long-random-test-key", SMS_PROVIDERS=["console"], SMS_LANGUAGE="es")
    problems = config_problems(SmsExtension(app), app)
    assert problems == [
        "SMS_LANGUAGE must be 'zh-CN', 'zh-TW' or 'en': the language when the request's has no catalogue (got 'es')"
    ]


# -- the app's own locale: @sms.locale_selector, and Flask-Babel found by its type ----------------------
def _app_with(extension: str | None = None) -> tuple[Flask, SmsExtension]:
    app = Flask("locale_app")
    app.testing = True
    app.config.update(SECRET_KEY="a-long-enough-secret-key-for-the-test", BABEL_DEFAULT_LOCALE="en")
    if extension == "babelplus":
        import flask_babelplus

        flask_babelplus.Babel(app)
    return app, SmsExtension(app)


def _message(app: Flask, **headers: str) -> str:
    return app.test_client().post("/sms_captcha/", json={"phone": "12"}, headers=headers).get_json()["message"]


def test_flask_babelplus_is_not_taken_for_flask_babel():
    """The attack (FlaskBB): "babel" is in app.extensions, flask_babel's get_locale fails on it, and every answer
    was English, even for Accept-Language: zh-CN."""
    app, _ = _app_with("babelplus")
    assert "babel" in app.extensions
    assert _message(app, **{"Accept-Language": "zh-CN"}) == "手机号码格式不正确。"


def test_the_locale_selector_comes_before_flask_babel_and_accept_language():
    app, sms = _app_with("babelplus")
    chosen: dict[str, str | None] = {"locale": "zh_TW"}

    @sms.locale_selector
    def user_locale():  # e.g. FlaskBB's user setting, through flask_babelplus.get_locale()
        return chosen["locale"]

    assert _message(app, **{"Accept-Language": "en"}) == "手機號碼格式不正確。"
    chosen["locale"] = None  # no choice: back to the request's language
    assert _message(app, **{"Accept-Language": "zh-CN"}) == "手机号码格式不正确。"
    page = '{% from "flask_sms/macros.html" import sms_code_fields %}{{ sms_code_fields() }}'
    chosen["locale"] = "zh-TW"
    with app.test_request_context():
        from flask import render_template_string

        assert "取得驗證碼" in render_template_string(page)  # the macro's texts follow it too
