"""Blinker signals, sent with the Flask app as sender.

``sms_sent`` fires once per message handed to a vendor (or recorded, when
``SMS_SUPPRESS_SEND`` is on), with ``message`` and ``result``.
``sms_failed`` fires when every provider failed, with ``message`` and ``error``.

The verification flow adds ``code_sent`` and ``code_verified`` (with ``phone``
and ``purpose``) and ``verification_failed`` (also with ``reason``: the error
code, e.g. ``invalid_code``). Phones are in E.164.

``provider_down`` fires when a provider's circuit breaker opens (it is skipped for
the cool-down) and ``provider_up`` when it closes again, each once across workers
sharing a Redis storage, with ``provider``: the name in ``SMS_PROVIDERS``.

``fraud_suspected`` fires when the fraud guard challenges or blocks a destination
prefix, region or client network (or verifies), once across workers, with
``dimension``, ``value``, ``action`` (``"challenge"`` or ``"block"``) and ``until``
(a timestamp of the flow's clock).

``delivery_reported`` fires once per new delivery report (pushed by a vendor
or fetched with ``fetch_reports``), with ``report``: a ``DeliveryReport``.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

sms_sent = _signals.signal("sms-sent")
sms_failed = _signals.signal("sms-failed")
code_sent = _signals.signal("code-sent")
code_verified = _signals.signal("code-verified")
verification_failed = _signals.signal("verification-failed")
delivery_reported = _signals.signal("delivery-reported")
provider_down = _signals.signal("provider-down")
provider_up = _signals.signal("provider-up")
fraud_suspected = _signals.signal("fraud-suspected")
