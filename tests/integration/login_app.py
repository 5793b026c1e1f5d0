"""A Flask-Login app (users keyed by phone) that adds phone login with flask_sms: the README's recipe.

The page asks for a code (sms.js posts to /sms_captcha/), checks it at /sms_captcha/verify and
posts the token it gets to /login/phone, which redeems it and calls login_user.
"""

from __future__ import annotations

import secrets

from flask import Flask, redirect, render_template_string, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user

# --- flask_sms glue ---
from flask_sms import SmsExtension

# --- end glue ---


class User(UserMixin):
    def __init__(self, phone: str) -> None:
        self.id = phone


USERS: dict[str, User] = {}

LOGIN_PAGE = """
{# --- flask_sms glue --- #}
{% from "flask_sms/macros.html" import sms_code_fields %}
<form method="post" action="{{ url_for('phone_login') }}">{{ sms_code_fields() }}
<input type="hidden" name="token"><button>Sign in</button></form>
<script src="{{ url_for('sms.static', filename='sms.js') }}" defer></script>
{# --- end glue --- #}
"""


def create_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), **config)
    login_manager = LoginManager(app)
    login_manager.login_view = "login"
    login_manager.user_loader(USERS.get)

    @app.get("/login")
    def login() -> str:
        return render_template_string(LOGIN_PAGE)

    # --- flask_sms glue ---
    sms = SmsExtension(app)

    @app.post("/login/phone")
    def phone_login():  # type: ignore[no-untyped-def]
        phone = sms.redeem_token(request.form.get("token", ""))  # once; None if forged or expired
        if phone is None:
            return redirect(url_for("login"))
        login_user(USERS.setdefault(phone, User(phone)))
        return redirect(url_for("home"))

    # --- end glue ---

    @app.get("/")
    @login_required
    def home() -> str:
        return f"Signed in as {current_user.id}"

    return app
