"""The ``sms_code_fields`` macro fits a themed app: the form's own labels, its classes, the purpose, the voice button."""

from __future__ import annotations

import re

import pytest
from flask import Flask, render_template_string
from flask_wtf import FlaskForm
from wtforms import StringField

from flask_sms import SmsExtension

SECRET = "a-long-enough-secret-key-for-the-test"


class ThemedForm(FlaskForm):
    phone = StringField("您的手机", render_kw={"placeholder": "11 位手机号", "class": "form-control-lg"})
    code = StringField("短信验证码")


@pytest.fixture
def app() -> Flask:
    app = Flask("macro_app")
    app.testing = True
    app.config.update(SECRET_KEY=SECRET, WTF_CSRF_ENABLED=False, SMS_CAPTCHA_PURPOSES=["captcha", "register"])
    SmsExtension(app)
    return app


def render(app: Flask, call: str, **headers: str) -> str:
    source = '{% from "flask_sms/macros.html" import sms_code_fields %}{{ ' + call + " }}"
    with app.test_request_context(headers=headers):
        html = render_template_string(source, form=ThemedForm())
    return re.sub(r'data-sms-texts="[^"]*"', "", html)  # the script's texts: every text, by design


def test_a_forms_own_labels_placeholder_and_class_are_kept(app):
    html = render(app, "sms_code_fields(phone_field=form.phone, code_field=form.code)", **{"Accept-Language": "en"})
    assert '<label for="phone">您的手机</label>' in html and '<label for="code">短信验证码</label>' in html
    assert "Phone number" not in html and "Verification code" not in html  # not replaced by ours
    assert 'placeholder="11 位手机号"' in html and 'class="form-control-lg"' in html


def test_a_field_that_names_no_label_gets_ours_in_the_pages_language(app):
    source = '{% from "flask_sms/macros.html" import sms_code_fields %}{{ sms_code_fields(phone_field=form.phone) }}'

    class Unlabelled(FlaskForm):
        phone = StringField()  # WTForms' own label: "Phone"

    with app.test_request_context(headers={"Accept-Language": "zh-TW"}):
        html = render_template_string(source, form=Unlabelled())
    assert '<label for="phone">手機號碼</label>' in html


def test_labels_can_be_told_otherwise_and_plain_inputs_get_ours_in_the_pages_language(app):
    told = render(app, 'sms_code_fields(phone_field=form.phone, code_field=form.code, phone_label="Mobile")')
    assert '<label for="phone">Mobile</label>' in told and '<label for="code">短信验证码</label>' in told
    plain = render(app, "sms_code_fields()", **{"Accept-Language": "zh-CN"})
    assert '<label for="phone">手机号</label>' in plain and '<label for="code">验证码</label>' in plain


def test_css_classes_for_a_bootstrap_page(app):
    call = (
        'sms_code_fields(phone_field=form.phone, code_field=form.code, input_class="form-control", '
        'button_class="btn btn-outline-secondary", label_class="form-label")'
    )
    html = render(app, call)
    assert 'class="form-control-lg form-control" data-sms-phone' in html  # the field's own class, then ours
    assert 'class="form-control" data-sms-code' in html
    assert 'class="sms-send btn btn-outline-secondary" data-sms-send>' in html
    assert '<label class="form-label" for="phone">您的手机</label>' in html
    plain = render(app, 'sms_code_fields(input_class="form-control", button_class="btn")')
    assert plain.count('class="form-control"') == 2 and 'class="sms-send btn"' in plain


def test_purpose_and_the_voice_button(app):
    html = render(app, 'sms_code_fields(purpose="register", channel_button=True)', **{"Accept-Language": "zh-CN"})
    assert 'data-sms-purpose="register"' in html
    (voice,) = re.findall(r"<button[^>]*data-sms-channel=\"voice\"[^>]*>([^<]*)</button>", html)
    assert voice == "改为语音电话"
    assert "data-sms-channel" not in render(app, "sms_code_fields()")  # only when asked for
