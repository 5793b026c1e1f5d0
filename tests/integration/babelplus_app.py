"""A FlaskBB-shaped app: Flask-BabelPlus picks each user's language from their settings, and flask_sms follows it.

FlaskBB's selector reads the signed-in user's language (here: the session's), else the forum's default.
"""

from __future__ import annotations

import secrets

from flask import Flask, jsonify, request, session
from flask_babelplus import Babel, get_locale

# --- flask_sms glue ---
from flask_sms import SmsExtension

# --- end glue ---


def create_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), BABEL_DEFAULT_LOCALE="zh_CN", **config)
    babel = Babel(app)

    @babel.localeselector
    def user_language() -> str:
        return str(session.get("language") or app.config["BABEL_DEFAULT_LOCALE"])

    @app.post("/settings/language")
    def set_language():  # type: ignore[no-untyped-def]
        session["language"] = request.form["language"]
        return jsonify(ok=True)

    # --- flask_sms glue ---
    sms = SmsExtension(app)
    sms.locale_selector(lambda: str(get_locale()))

    @app.post("/login")
    def login():  # type: ignore[no-untyped-def]
        phone = sms.redeem_token(request.form.get("token", ""))
        if phone is None:
            return jsonify(ok=False), 400
        session["user"] = phone
        return jsonify(ok=True, user=phone)

    # --- end glue ---
    return app
