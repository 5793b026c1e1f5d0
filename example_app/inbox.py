"""The dev inbox: texts the console provider "sent" recently, so nobody needs a phone.

Each text shows its delivery status (``sms.status(out_id)``): ``sent`` until a
delivery report arrives, then ``delivered`` or ``failed``. The console provider
reports ``delivered`` at once; the page polls ``GET /dev/inbox`` every 3 seconds,
so a later report (e.g. a vendor's push) shows up without a reload.

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

from flask_sms import SendResult, SmsMessage, sms_sent

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

    def add(self, message: SmsMessage, now: float | None = None, out_id: str = "") -> None:
        entry = {
            "phones": list(message.phones),
            "purpose": message.purpose,
            "params": dict(message.params),
            "sent_at": time.time() if now is None else now,
            "out_id": out_id,
        }
        with self._lock:
            self._messages.appendleft(entry)

    def recent(self, now: float | None = None, status: Any = None) -> list[dict[str, Any]]:
        """The texts of the last minutes, newest first; ``status`` (``sms.status``) adds each one's delivery status."""
        now = time.time() if now is None else now
        with self._lock:
            entries = [dict(entry) for entry in self._messages if now - entry["sent_at"] <= self.seconds]
        for entry in entries:
            entry["time"], entry["iso"] = clock_time(entry["sent_at"])
            entry.update(delivery_status(entry["out_id"], status))
        return entries


def delivery_status(out_id: str, status: Any) -> dict[str, str]:
    """``{"status": "sent" | "delivered" | "failed", "status_code": the vendor's code}`` of one send."""
    report = status(out_id) if out_id and status is not None else None
    if report is None:
        return {"status": "sent", "status_code": ""}
    return {"status": report.status, "status_code": report.code}


def clock_time(timestamp: float) -> tuple[str, str]:
    """``("14:03:22 UTC+08:00", "2026-11-22T14:03:22+08:00")``: the server's local time, with its offset.

    The page may be read from another time zone than the server's: a bare
    ``14:03:22`` would not say whose clock that is.
    """
    moment = datetime.fromtimestamp(timestamp).astimezone()
    offset = moment.strftime("%z")  # "+0800"
    return f"{moment:%H:%M:%S} UTC{offset[:3]}:{offset[3:]}", moment.isoformat(timespec="seconds")


def _record(app: Flask, message: SmsMessage, result: SendResult | None = None, **extra: Any) -> None:
    inbox = app.extensions.get(EXTENSION_KEY)
    if inbox is not None:
        inbox.add(message, out_id=result.out_id if result is not None else "")


def inbox_for(app: Flask) -> Inbox | None:
    return app.extensions.get(EXTENSION_KEY)


@blueprint.get("/dev/inbox")
def messages() -> Response:
    inbox = current_app.extensions[EXTENSION_KEY]
    response = jsonify(
        ok=True, minutes=inbox.minutes, messages=inbox.recent(status=current_app.extensions["sms"].status)
    )
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
