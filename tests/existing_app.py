"""An app that already has its own CSRFProtect, Flask-Limiter, Flask-Caching and Flask-Babel, then flask_sms.

Built the way microblog and FlaskBB are: their extensions set up first, then ``SmsExtension(app)``
with no glue (tests/integration/test_existing_app.py, tests/browser/test_sms_js.py).
"""

from __future__ import annotations

from flask import Flask, redirect, render_template_string, request
from flask_babel import Babel
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect, FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from flask_sms import SmsExtension

PAGE = """
{%- from "flask_sms/macros.html" import sms_code_fields -%}
<!doctype html><html lang="{{ sms_lang }}"><head><meta name="csrf-token" content="{{ csrf_token() }}"></head>
<body><form method="post" action="/login">{{ form.csrf_token }}{{ sms_code_fields(phone_field=form.phone, code_field=form.code, channel_button=True) }}
<button type="submit">Sign in</button></form>
<script src="{{ url_for('sms.static', filename='sms.js') }}" defer></script></body></html>
"""


class LoginForm(FlaskForm):
    phone = StringField(validators=[DataRequired()])
    code = StringField(validators=[DataRequired()])


def build_app(redis_url: str, *, exempt: bool = False, **config) -> tuple[Flask, dict]:
    """An app with its own extensions, configured the way the issue's apps were."""
    app = Flask("existing")
    app.config.update(
        SECRET_KEY="existing-app-secret",
        TESTING=False,
        # Flask-Limiter: a default limit for every route of the app
        RATELIMIT_DEFAULT="2/hour",
        RATELIMIT_STORAGE_URI="memory://",
        # Flask-Caching: the app's own cache lives in Redis db 3
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL=redis_url,
        CACHE_REDIS_DB=3,
        CACHE_DEFAULT_TIMEOUT=1,
        CACHE_KEY_PREFIX="app_",
        # Flask-Babel: the app picks the locale (here from ?lang=)
        BABEL_DEFAULT_LOCALE="en",
        # flask_sms
        SMS_PROVIDERS=["console"],
        SMS_SUPPRESS_SEND=True,
        SMS_STORAGE_URL=redis_url,  # no database in the URL: db 0 for codes and limits alike
        SMS_IP_LIMITS="20/hour",
    )
    app.config.update(config)
    csrf = CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app)
    cache = Cache(app)
    Babel(app, locale_selector=lambda: request.args.get("lang") or request.accept_languages.best_match(["en", "zh"]))
    sms = SmsExtension(app)
    if exempt:
        csrf.exempt(sms.blueprint)

    @app.get("/ping")
    def ping():
        return "pong"

    @app.route("/login", methods=["GET", "POST"])
    def login():
        form = LoginForm()
        if form.validate_on_submit() and sms.codes.verify_form_code(form.phone, form.code):
            return redirect("/welcome")
        return render_template_string(PAGE, form=form, sms_lang="en"), 400 if request.method == "POST" else 200

    @app.get("/fragment")
    def fragment():
        return render_template_string("{% cache 60, 'greeting' %}hello{% endcache %}")

    return app, {"csrf": csrf, "limiter": limiter, "cache": cache, "sms": sms}
