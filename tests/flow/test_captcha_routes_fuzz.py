"""Property: whatever a client posts, the routes answer a JSON 2xx/4xx, and bad input sends nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import is_valid_number, parse

from flask_sms import SmsExtension

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
phoneish = st.one_of(
    st.text(alphabet="+0123456789 -()", max_size=20),
    st.sampled_from(["13800138000", "+8613800138000", "+1 650 253 0000", "+852 6123 4567", "", " "]),
    st.text(max_size=40),
)
field_values = st.one_of(phoneish, json_values)
bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"phone": field_values, "purpose": field_values, "code": field_values}),
    json_values,
)
raw_bytes = st.binary(max_size=200)


@pytest.fixture(scope="module")
def fuzz_app():
    from flask import Flask

    app = Flask("fuzz")
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=["console"],
        SMS_SUPPRESS_SEND=True,
        SMS_IP_LIMITS="",
        SMS_PHONE_LIMITS="",
        SMS_VERIFY_IP_LIMITS="",
        SMS_GLOBAL_LIMITS="",
    )
    SmsExtension(app)
    return app


def _valid_cn_phone(body: object) -> bool:
    if not isinstance(body, dict) or not isinstance(body.get("phone"), str):
        return False
    try:
        number = parse(body["phone"], "CN")
    except Exception:
        return False
    return is_valid_number(number) and number.country_code == 86


def _check(response, outbox, body, path):
    assert response.status_code < 500, (path, body, response.get_data())
    payload = response.get_json()
    assert isinstance(payload, dict) and isinstance(payload.get("ok"), bool)
    if not payload["ok"]:
        assert isinstance(payload["error"], str) and payload["message"]
    if path == "/sms_captcha/" and response.status_code == 200:
        assert len(outbox) == 1 and _valid_cn_phone(body)
    else:
        assert outbox == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, path=st.sampled_from(["/sms_captcha/", "/sms_captcha/verify"]), as_form=st.booleans())
def test_any_body_gets_a_json_answer_and_bad_input_sends_nothing(fuzz_app, body, path, as_form):
    client = fuzz_app.test_client()
    sms = fuzz_app.extensions["sms"]
    with sms.record_messages() as outbox:
        if as_form and isinstance(body, dict):
            form = {str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in body.items()}
            response = client.post(path, data=form)
            body = form
        else:
            response = client.post(path, json=body)
    _check(response, outbox, body, path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=raw_bytes,
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""]
    ),
    path=st.sampled_from(["/sms_captcha/", "/sms_captcha/verify"]),
)
def test_any_bytes_get_a_json_answer(fuzz_app, data, content_type, path):
    client = fuzz_app.test_client()
    with fuzz_app.extensions["sms"].record_messages() as outbox:
        response = client.post(path, data=data, content_type=content_type or None)
    assert response.status_code < 500
    assert response.get_json()["ok"] in (True, False)
    if response.status_code != 200 or path.endswith("verify"):
        assert outbox == []
