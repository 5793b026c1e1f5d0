"""Errors follow werkzeug: an app's own error handlers see ours, and our names shadow none of werkzeug's."""

from __future__ import annotations

import warnings

import pytest
from flask import jsonify
from werkzeug import exceptions as http

import flask_sms
from flask_sms import (
    InvalidPhone,
    InvalidPhoneNumber,
    RateLimited,
    SendError,
    SendRefused,
    SmsHTTPError,
    StorageUnavailable,
)

PHONE = "13800138000"


@pytest.fixture
def app(make_app):
    app = make_app(["console"], SMS_SUPPRESS_SEND=True, SMS_PHONE_LIMITS="", SMS_GLOBAL_LIMITS="")
    sms = app.extensions["sms"]

    @app.post("/my/code")
    def my_code():
        sms.send_code(PHONE)
        return jsonify(mine=True)

    @app.post("/my/send")
    def my_send():
        sms.send("not a number", "captcha", {"code": "1"})
        return jsonify(mine=True)

    return app


def test_an_apps_429_handler_sees_rate_limited(app):
    seen = []

    @app.errorhandler(429)
    def too_many(exc):
        seen.append(exc)
        return jsonify(app_handler=True, wait=exc.retry_after), 429

    client = app.test_client()
    assert client.post("/my/code").status_code == 200
    response = client.post("/my/code")  # inside the 60 s cool-down
    assert response.status_code == 429
    assert response.get_json() == {"app_handler": True, "wait": 60}
    assert isinstance(seen[0], RateLimited) and isinstance(seen[0], http.TooManyRequests)


def test_an_apps_handler_by_werkzeug_class_sees_ours(app):
    @app.errorhandler(http.BadRequest)
    def bad(exc):
        return jsonify(app_handler=type(exc).__name__), 400

    response = app.test_client().post("/my/send")
    assert response.get_json() == {"app_handler": "InvalidPhoneNumber"}


def test_a_refusing_hook_reaches_an_apps_403_handler(app):
    sms = app.extensions["sms"]

    @sms.before_send
    def refuse(phone, purpose, request):
        raise SendRefused("solve the slider first")

    @app.errorhandler(http.Forbidden)
    def forbidden(exc):
        return jsonify(app_handler=str(exc)), 403

    response = app.test_client().post("/my/code")
    assert response.status_code == 403
    assert response.get_json() == {"app_handler": "solve the slider first"}


def test_unhandled_errors_in_an_apps_view_render_as_our_json(app):
    client = app.test_client()
    client.post("/my/code")
    response = client.post("/my/code")
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert response.get_json()["error"] == "rate_limited"


@pytest.mark.parametrize(
    ("error", "base", "status"),
    [
        (InvalidPhoneNumber("12"), http.BadRequest, 400),
        (SendRefused(), http.Forbidden, 403),
        (RateLimited(retry_after=5), http.TooManyRequests, 429),
        (SendError(), http.BadGateway, 502),
        (StorageUnavailable(), http.ServiceUnavailable, 503),
    ],
)
def test_each_error_is_the_matching_werkzeug_exception(error, base, status):
    assert isinstance(error, base) and isinstance(error, SmsHTTPError)
    assert error.code == status


def test_str_is_meaningful():
    assert str(RateLimited(retry_after=5)) == "rate_limited: retry after 5 s"
    assert "None" not in str(StorageUnavailable()) and str(StorageUnavailable())
    assert str(SendRefused("solve the slider")) == "solve the slider"


def test_one_bad_phone_error_for_send_sms_and_send_code(app):
    assert InvalidPhone is InvalidPhoneNumber
    with app.test_request_context(), pytest.raises(InvalidPhoneNumber):
        app.extensions["sms"].send_code("12")
    with app.app_context(), pytest.raises(InvalidPhoneNumber):
        flask_sms.send_sms("12", "captcha", {"code": "1"})


def test_no_public_name_shadows_werkzeugs():
    shadowed = [name for name in flask_sms.__all__ if hasattr(http, name)]
    assert shadowed == []
    # `from werkzeug.exceptions import *` then `from flask_sms import *` keeps werkzeug's Forbidden
    assert "Forbidden" not in flask_sms.__all__ and flask_sms.SendRefused is not http.Forbidden


def test_forbidden_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="use flask_sms.SendRefused"):
        from flask_sms import Forbidden
    assert Forbidden is SendRefused
    with pytest.warns(DeprecationWarning):
        assert flask_sms.errors.Forbidden is SendRefused
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from flask_sms import SendRefused as fresh  # the new name warns about nothing
    assert fresh is SendRefused
    with pytest.raises(AttributeError):
        flask_sms.NoSuchThing  # noqa: B018
