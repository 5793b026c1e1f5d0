"""The development inbox: what the ``console`` provider "sent" lately, codes included, so nobody needs a phone.

On with ``SMS_DEV_INBOX`` (by default in debug mode when a ``console`` provider is in
use; a config problem outside debug and testing), served by the blueprint at
``GET {SMS_URL_PREFIX}/sms_dev/inbox``: JSON, or a small HTML page for a browser.
When it is off the route answers 404, so codes never reach a web page in production.

It keeps the last :data:`MAX_ENTRIES` texts and calls of this process, newest first,
read from the ``sms_sent`` signal (per app: ``sender=app``), one entry per number.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from flask import Flask

from .providers import split_entry
from .results import DeliveryReport, SendResult, SmsMessage
from .signals import sms_sent

MAX_ENTRIES = 50
#: an entry's ``channel`` for a text; a console call (the voice channel) says ``"voice"``
TEXT = "sms"

StatusOf = Callable[[str], "DeliveryReport | None"]


class DevInbox:
    """The last :data:`MAX_ENTRIES` console texts and calls of one app, newest first (per process)."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._lock = threading.Lock()

    def record(self, app: Flask, message: SmsMessage, result: SendResult | None = None, **extra: Any) -> None:
        """``sms_sent`` receiver: keep what a console provider took (a suppressed send reached no provider)."""
        if result is None or result.suppressed:
            return
        channel = str(getattr(message, "channel", None) or getattr(result, "channel", None) or TEXT)
        sent_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        entries = [
            {
                "phone": sent.phone,
                "channel": channel,
                "purpose": message.purpose,
                "code": message.params.get("code", ""),
                "params": dict(message.params),
                "provider": sent.provider,
                "out_id": sent.out_id,
                "sent_at": sent_at,
            }
            for sent in result.messages
            if split_entry(sent.provider)[0] == "console"
        ]
        with self._lock:
            self._entries.extendleft(entries)

    def entries(self, status: StatusOf | None = None) -> list[dict[str, Any]]:
        """Copies of the entries, newest first, each with its delivery ``status`` (``sent`` until a report says
        ``delivered`` or ``failed``) and the vendor's ``status_code``, when ``status`` (``sms.status``) is given."""
        with self._lock:
            entries = [dict(entry) for entry in self._entries]
        for entry in entries:
            report = status(entry["out_id"]) if status is not None and entry["out_id"] else None
            entry["status"], entry["status_code"] = (report.status, report.code) if report else ("sent", "")
        return entries


_inboxes: weakref.WeakKeyDictionary[Flask, DevInbox] = weakref.WeakKeyDictionary()


def enable(app: Flask) -> DevInbox:
    """Start keeping ``app``'s console texts (``init_app`` calls this when ``SMS_DEV_INBOX`` is on)."""
    inbox = _inboxes.get(app)
    if inbox is None:
        inbox = _inboxes[app] = DevInbox()
        # blinker holds receivers weakly: the inbox, kept here as long as the app lives, keeps its method alive
        sms_sent.connect(inbox.record, sender=app)
    return inbox


def inbox_for(app: Flask) -> DevInbox | None:
    """The app's inbox, or ``None`` when ``SMS_DEV_INBOX`` is off (or the config has problems).
    ``current_app`` works too."""
    real: Flask = getattr(app, "_get_current_object", lambda: app)()
    return _inboxes.get(real)
