"""A local human check for the demo: no captcha vendor is reachable offline, so the app plays one.

The page's script calls ``FlaskSms.onChallenge`` when the server answers ``challenge_required``
(the fraud guard asks, or ``SMS_CHALLENGE_MODE = "always"``); it asks the person to confirm,
fetches a one-time token from ``POST /demo/human-check`` and sends the code request again with
``{"challenge": {"token": ...}}``. The verifier below plays the vendor's server-side check: a
token it issued, within 5 minutes, once. In a real app ``SMS_CHALLENGE`` names Tencent, Aliyun,
GeeTest or Turnstile instead (README, "Human checks").
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping

from flask import Blueprint, Flask, jsonify
from werkzeug.wrappers import Response

from flask_sms import SmsExtension

TOKEN_SECONDS = 300

blueprint = Blueprint("human_check", __name__)
_issued: dict[str, float] = {}  # token -> until
_lock = threading.Lock()


@blueprint.post("/demo/human-check")
def issue() -> Response:
    """What a captcha widget hands the page once a person solved it."""
    token = secrets.token_urlsafe(24)
    now = time.time()
    with _lock:
        for old in [old for old, until in _issued.items() if until <= now]:
            del _issued[old]
        _issued[token] = now + TOKEN_SECONDS
    return jsonify(token=token)


def passed(challenge: Mapping[str, str], client_ip: str) -> bool:
    """The "vendor's" server-side check: a token this app issued, not expired, used once."""
    with _lock:
        until = _issued.pop(str(challenge.get("token", "")), 0.0)
    return until > time.time()


def init_app(app: Flask, sms: SmsExtension) -> None:
    app.register_blueprint(blueprint)
    sms.challenge_verifier(passed)
