"""The app that ``tests/integration/test_gunicorn_scale.py`` runs under gunicorn (``scale_app:create_app()``).

All of its config comes from ``FLASK_``-prefixed environment variables
(``app.config.from_prefixed_env()``), as a deployed app's would. Two test-only
additions let the tests see the processes behind the answers:

* every response carries ``X-Worker-Pid``, the pid of the worker that answered;
* a request with ``X-Test-Hold: <seconds>`` (at most 5) keeps its worker busy
  for that long *after* the view ran, so the next requests must be taken by
  other workers (a sync worker accepts nothing while it is busy);
* ``GET /_scale/pid`` answers ``{"pid": ...}`` (readiness probe);
* ``POST /_scale/redeem`` with ``{"token": ...}`` is an app's own view that
  redeems a verification token: ``{"phone": ...}`` (``null`` when refused);
* with receipts on and a Redis storage, every ``delivery_reported`` signal, in any
  worker, adds one to the Redis counter ``test:delivery_reported`` (``GET /_scale/reports``).
"""

from __future__ import annotations

import os
import time

from flask import Flask, jsonify, request
from werkzeug.wrappers import Response

from flask_sms import SmsExtension, delivery_reported

_MAX_HOLD = 5.0


def create_app() -> Flask:
    app = Flask("flask_sms_scale")
    app.config.from_prefixed_env()
    sms = SmsExtension(app)

    @app.get("/_scale/pid")
    def worker_pid() -> Response:
        return jsonify(pid=os.getpid())

    @app.post("/_scale/redeem")
    def redeem() -> Response:
        return jsonify(phone=sms.redeem_token(request.get_json()["token"]))

    if app.config.get("SMS_RECEIPT_TOKEN") and str(app.config.get("SMS_STORAGE_URL", "")).startswith("redis://"):
        import redis

        counter = redis.Redis.from_url(app.config["SMS_STORAGE_URL"])

        def count(sender: Flask, **extra: object) -> None:
            counter.incr("test:delivery_reported")

        delivery_reported.connect(count, app, weak=False)

        @app.get("/_scale/reports")
        def reports_heard() -> Response:
            return jsonify(count=int(counter.get("test:delivery_reported") or 0))

    @app.after_request
    def tag_and_hold(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        hold = request.headers.get("X-Test-Hold")
        if hold:
            time.sleep(min(_MAX_HOLD, max(0.0, float(hold))))
        return response

    return app
