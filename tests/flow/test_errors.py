"""Errors: the flow's refusals follow werkzeug (an app's own error handlers see them), ``send_sms``'s are plain
exceptions, and our names shadow none of werkzeug's."""

from __future__ import annotations

import pytest
from flask import jsonify
from werkzeug import exceptions as http

import flask_sms
from flask_sms import (
    InvalidPhoneNumber,
    MissingParameter,
    PhoneRejected,
    RateLimited,
    SendError,
    SendRefused,
    SmsError,
    SmsHTTPError,
    StorageUnavailable,
    UnknownPurpose,
)
from flask_sms.errors import as_refusal

PHONE = "13800138000"


@pytest.fixture
def app(make_app):
    app = make_app(["console"], SMS_SUPPRESS_SEND=True, SMS_PHONE_LIMITS="", SMS_GLOBAL_LIMITS="")
    sms = app.extensions["sms"]

    @app.post("/my/code")
    def my_code():
        sms.send_code(PHONE)
        return jsonify(mine=True)

    @app.post("/my/bad-code")
    def my_bad_code():
        sms.send_code("not a number")
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
        return jsonify(app_handler=True, invalid_phone=isinstance(exc, InvalidPhoneNumber)), 400

    response = app.test_client().post("/my/bad-code")
    assert response.get_json() == {"app_handler": True, "invalid_phone": True}


def test_an_apps_handler_for_the_domain_class_sees_the_flows_refusal(app):
    @app.errorhandler(InvalidPhoneNumber)
    def bad_number(exc):
        return jsonify(number=exc.phone), 400

    assert app.test_client().post("/my/bad-code").get_json() == {"number": "not a number"}


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
        (as_refusal(InvalidPhoneNumber("12")), http.BadRequest, 400),
        (as_refusal(UnknownPurpose("nope")), http.BadRequest, 400),
        (SendRefused(), http.Forbidden, 403),
        (RateLimited(retry_after=5), http.TooManyRequests, 429),
        (as_refusal(SendError()), http.BadGateway, 502),
        (as_refusal(PhoneRejected()), http.BadRequest, 400),
        (StorageUnavailable(), http.ServiceUnavailable, 503),
    ],
)
def test_each_refusal_is_the_matching_werkzeug_exception(error, base, status):
    assert isinstance(error, base) and isinstance(error, SmsHTTPError)
    assert error.code == status


@pytest.mark.parametrize(
    ("error", "json_error"),
    [
        (InvalidPhoneNumber("12"), "invalid_phone"),
        (UnknownPurpose("nope"), "invalid_purpose"),
        (SendError(), "send_failed"),
        (PhoneRejected(), "phone_rejected"),
    ],
)
def test_the_http_form_of_a_domain_error_is_still_that_error(app, error, json_error):
    refusal = as_refusal(error)
    assert isinstance(refusal, type(error)) and refusal.error == json_error
    with app.test_request_context():
        assert refusal.get_response().get_json()["error"] == json_error
    assert not isinstance(error, http.HTTPException)  # the domain error itself stays plain


def test_send_sms_raises_plain_exceptions_outside_a_request(make_app, fake):
    """The attack on layering: a Celery task or a CLI command got werkzeug HTTP exceptions from send_sms."""
    app = make_app(["aliyun"])
    fake.set_mode("aliyun", "business_error", code="isv.MOBILE_NUMBER_ILLEGAL", message="非法手机号")
    with app.app_context():
        raised = []
        for phones, purpose, params in [
            ("12", "captcha", {"code": "1"}),  # InvalidPhoneNumber
            ("13800138000", "no-such-purpose", {"code": "1"}),  # UnknownPurpose
            ("13800138000", "notice", {}),  # MissingParameter
            ("13800138000", "captcha", {"code": "1", "minutes": 5}),  # PhoneRejected (the vendor's own code)
        ]:
            with pytest.raises(SmsError) as caught:
                flask_sms.send_sms(phones, purpose, params)
            raised.append(caught.value)
    assert [type(error) for error in raised] == [InvalidPhoneNumber, UnknownPurpose, MissingParameter, PhoneRejected]
    assert not any(isinstance(error, http.HTTPException) for error in raised)
    assert "isv.MOBILE_NUMBER_ILLEGAL" in str(raised[-1])


def test_str_is_meaningful():
    assert str(RateLimited(retry_after=5)) == "rate_limited: retry after 5 s"
    assert "None" not in str(StorageUnavailable()) and str(StorageUnavailable())
    assert str(SendRefused("solve the slider")) == "solve the slider"


def test_one_bad_phone_error_for_send_sms_and_send_code(app):
    with app.test_request_context(), pytest.raises(InvalidPhoneNumber) as from_the_flow:
        app.extensions["sms"].send_code("12")
    with app.app_context(), pytest.raises(InvalidPhoneNumber) as from_send_sms:
        flask_sms.send_sms("12", "captcha", {"code": "1"})
    assert isinstance(from_the_flow.value, SmsHTTPError) and from_the_flow.value.code == 400
    assert not isinstance(from_send_sms.value, SmsHTTPError)


def test_no_public_name_shadows_werkzeugs():
    shadowed = [name for name in flask_sms.__all__ if hasattr(http, name)]
    assert shadowed == []
    # `from werkzeug.exceptions import *` then `from flask_sms import *` keeps werkzeug's Forbidden
    assert "Forbidden" not in flask_sms.__all__ and flask_sms.SendRefused is not http.Forbidden


@pytest.mark.parametrize("name", ["Forbidden", "CaptchaError", "InvalidPhone", "InvalidPurpose", "SendFailed"])
def test_the_removed_names_are_gone(name):
    """0.2.0 removed the aliases and the deprecated ``Forbidden`` (CHANGES.md names what replaces each)."""
    assert not hasattr(flask_sms, name)
    assert not hasattr(flask_sms.errors, name)
    assert not hasattr(flask_sms, "__getattr__") and not hasattr(flask_sms.errors, "__getattr__")
