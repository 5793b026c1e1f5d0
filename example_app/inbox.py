"""The dev inbox: texts the console provider "sent" recently, so nobody needs a phone.

It exists only when ``console`` is among ``SMS_PROVIDERS``: the app registers
``GET /dev/inbox`` and the page panel only then, so with real vendors the
route is a plain 404 and codes never reach a web page.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.wrappers import Response

from flask_sms import SmsMessage, sms_sent

EXTENSION_KEY = "dev_inbox"
MAX_MESSAGES = 50

blueprint = Blueprint("dev_inbox", __name__)


class Inbox:
    """The last few texts, newest first, kept in memory (per process, like the console itself)."""

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes
        self.seconds = minutes * 60
        self._messages: deque[dict[str, Any]] = deque(maxlen=MAX_MESSAGES)
        self._lock = threading.Lock()

    def add(self, message: SmsMessage, now: float | None = None) -> None:
        entry = {
            "phones": list(message.phones),
            "purpose": message.purpose,
            "params": dict(message.params),
            "sent_at": time.time() if now is None else now,
        }
        with self._lock:
            self._messages.appendleft(entry)

    def recent(self, now: float | None = None) -> list[dict[str, Any]]:
        now = time.time() if now is None else now
        with self._lock:
            entries = [dict(entry) for entry in self._messages if now - entry["sent_at"] <= self.seconds]
        for entry in entries:
            entry["time"], entry["iso"] = clock_time(entry["sent_at"])
        return entries


def clock_time(timestamp: float) -> tuple[str, str]:
    """``("14:03:22 UTC+08:00", "2026-11-22T14:03:22+08:00")``: the server's local time, with its offset.

    The page may be read from another time zone than the server's: a bare
    ``14:03:22`` would not say whose clock that is.
    """
    moment = datetime.fromtimestamp(timestamp).astimezone()
    offset = moment.strftime("%z")  # "+0800"
    return f"{moment:%H:%M:%S} UTC{offset[:3]}:{offset[3:]}", moment.isoformat(timespec="seconds")


def _record(app: Flask, message: SmsMessage, **extra: Any) -> None:
    inbox = app.extensions.get(EXTENSION_KEY)
    if inbox is not None:
        inbox.add(message)


def inbox_for(app: Flask) -> Inbox | None:
    return app.extensions.get(EXTENSION_KEY)


@blueprint.get("/dev/inbox")
def messages() -> Response:
    inbox = current_app.extensions[EXTENSION_KEY]
    response = jsonify(ok=True, minutes=inbox.minutes, messages=inbox.recent())
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    minutes = app.config["DEV_INBOX_MINUTES"]
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
        minutes = float(minutes)
    app.extensions[EXTENSION_KEY] = Inbox(minutes)
    # A module-level receiver: blinker holds receivers weakly, and ``sender=app``
    # keeps one app's texts out of another app's inbox.
    sms_sent.connect(_record, sender=app)
    app.register_blueprint(blueprint)
