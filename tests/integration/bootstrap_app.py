"""A Bootstrap-themed app with Flask-WTF forms (its own labels and classes) and CSRFProtect; the macro fits in."""

from __future__ import annotations

import secrets

from flask import Flask, redirect, render_template_string, session
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import StringField
from wtforms.validators import DataRequired

# --- flask_sms glue ---
from flask_sms import SmsExtension

# --- end glue ---


class LoginForm(FlaskForm):
    phone = StringField("手机号", validators=[DataRequired()], render_kw={"placeholder": "请输入手机号"})
    code = StringField("短信验证码", validators=[DataRequired()])


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/bootstrap.min.css"></head>
<body class="container"><form method="post" class="card card-body">{{ form.csrf_token }}
{# --- flask_sms glue --- #}
{% from "flask_sms/macros.html" import sms_code_fields %}
{{ sms_code_fields(phone_field=form.phone, code_field=form.code, input_class="form-control",
                   button_class="btn btn-outline-secondary", label_class="form-label") }}
<script src="{{ url_for('sms.static', filename='sms.js') }}" defer></script>
{# --- end glue --- #}
<button type="submit" class="btn btn-primary mt-3">登录</button></form></body></html>"""


def create_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), **config)
    CSRFProtect(app)
    # --- flask_sms glue ---
    sms = SmsExtension(app)
    # --- end glue ---

    @app.route("/login", methods=["GET", "POST"])
    def login():  # type: ignore[no-untyped-def]
        form = LoginForm()
        # --- flask_sms glue ---
        if form.validate_on_submit() and sms.codes.verify_form_code(form.phone, form.code):
            session["user"] = form.phone.data
            return redirect("/")
        # --- end glue ---
        return render_template_string(PAGE, form=form)

    @app.get("/")
    def home() -> str:
        return f"Signed in as {session.get('user')}"

    return app
