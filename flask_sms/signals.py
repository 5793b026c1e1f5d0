"""Blinker signals, sent with the Flask app as sender.

``sms_sent`` fires once per message handed to a vendor (or recorded, when
``SMS_SUPPRESS_SEND`` is on), with ``message`` and ``result``.
``sms_failed`` fires when every provider failed, with ``message`` and ``error``.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

sms_sent = _signals.signal("sms-sent")
sms_failed = _signals.signal("sms-failed")
