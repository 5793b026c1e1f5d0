"""Prometheus metrics (``pip install "Flask-SMS-Captcha[metrics]"``): what an operator alerts on.

On when ``prometheus_client`` is installed (``SMS_METRICS`` unset), or with ``SMS_METRICS = True``
(a config problem without it); ``SMS_METRICS = False`` turns them off. They go into
``prometheus_client``'s default registry, so the app's own ``/metrics`` (``make_wsgi_app()``,
``generate_latest()``, prometheus_flask_exporter ...) exposes them, and they follow its
multi-process mode under gunicorn (``PROMETHEUS_MULTIPROC_DIR``):

==================================================  =========  =============================================
``flask_sms_sends_total{provider,outcome,channel}``  counter    numbers per vendor request, by outcome
``flask_sms_send_duration_seconds{provider}``        histogram  each vendor request
``flask_sms_codes_sent_total{purpose,channel}``      counter    codes handed to a vendor (``code_sent``)
``flask_sms_codes_verified_total{purpose}``          counter    right codes (``code_verified``)
``flask_sms_refusals_total{reason}``                 counter    error answers, by error code
``flask_sms_delivery_reports_total{provider,status}`` counter   delivery reports announced (``delivered``/``failed``; again after a handler raised)
``flask_sms_breaker_open{provider}``                 gauge      1 while the provider's breaker (texts) is open
``flask_sms_fraud_decisions_total{action}``          counter    the fraud guard's decisions (``fraud_suspected``)
==================================================  =========  =============================================

No label holds a phone number: providers, outcomes, channels, purposes, error codes, statuses
and actions are all from small fixed sets. The breaker gauge's multi-process mode is
``livemostrecent``: a breaker opened in one worker and closed in another reads as closed
(the most recent value any live worker set), and dead workers' values drop out.

The metrics are counted from flask_sms's signals, for the apps that have them on; the
signals' receivers are connected once per process.
"""

from __future__ import annotations

import importlib.util
import threading
import weakref
from typing import Any, Final

from flask import Flask, current_app, has_app_context

from .results import CIRCUIT_OPEN
from .signals import code_sent, code_verified, delivery_reported, provider_down, provider_up, sms_failed, sms_sent

#: the breaker gauge's ``multiprocess_mode`` (see the module's docstring)
BREAKER_MULTIPROCESS_MODE: Final = "livemostrecent"
#: a send whose message names no channel is a text
TEXT = "sms"

_lock = threading.Lock()
_metrics: dict[str, Any] = {}
_apps: weakref.WeakSet[Flask] = weakref.WeakSet()
#: (metric, *label values) -> its child: ``labels()`` checks and locks on every call, a send makes several
_children: dict[tuple[str, ...], Any] = {}


def _child(name: str, *values: str) -> Any:
    key = (name, *values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = _metrics[name].labels(*values)
    return child


def available() -> bool:
    return importlib.util.find_spec("prometheus_client") is not None


def _create() -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "sends": Counter(
            "flask_sms_sends", "Numbers per vendor request, by outcome", ["provider", "outcome", "channel"]
        ),
        "duration": Histogram(
            "flask_sms_send_duration_seconds",
            "Seconds per vendor request",
            ["provider"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        ),
        "codes_sent": Counter("flask_sms_codes_sent", "Codes handed to a vendor", ["purpose", "channel"]),
        "codes_verified": Counter("flask_sms_codes_verified", "Codes verified", ["purpose"]),
        "refusals": Counter("flask_sms_refusals", "Error answers, by error code", ["reason"]),
        "reports": Counter("flask_sms_delivery_reports", "New delivery reports", ["provider", "status"]),
        "breaker": Gauge(
            "flask_sms_breaker_open",
            "1 while the provider's circuit breaker is open",
            ["provider"],
            multiprocess_mode=BREAKER_MULTIPROCESS_MODE,
        ),
        "fraud": Counter("flask_sms_fraud_decisions", "The fraud guard's decisions", ["action"]),
    }


def enable(app: Flask, providers: tuple[str, ...]) -> None:
    """Count ``app``'s sends (``init_app`` calls this when metrics are on); the metrics are made once per process."""
    with _lock:
        if not _metrics:
            _metrics.update(_create())
            _connect()
        _apps.add(app)
    for provider in providers:  # every provider's series exists from the start: closed
        _child("breaker", provider).set(0)


def _on(sender: Any) -> dict[str, Any] | None:
    return _metrics if sender in _apps else None


def _sent(sender: Any, message: Any = None, result: Any = None, **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is None or result is None or result.suppressed:
        return
    _count_attempts(metrics, message, result.attempts, result.timings)


def _failed(sender: Any, message: Any = None, error: Any = None, **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is None or error is None:
        return
    result = getattr(error, "result", None)
    _count_attempts(metrics, message, error.attempts, result.timings if result is not None else [])


def _count_attempts(metrics: dict[str, Any], message: Any, attempts: Any, timings: Any) -> None:
    channel = str(getattr(message, "channel", None) or TEXT)  # "voice" for calls
    for attempt in attempts:
        if attempt.provider and attempt.code != CIRCUIT_OPEN:  # a skipped provider was not asked
            _child("sends", attempt.provider, attempt.outcome, channel).inc(len(attempt.phones) or 1)
    for provider, seconds in timings:
        _child("duration", provider).observe(seconds)


def _code_sent(sender: Any, purpose: str = "", channel: str | None = None, **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is not None:
        _child("codes_sent", purpose, channel or TEXT).inc()


def _code_verified(sender: Any, purpose: str = "", **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is not None:
        _child("codes_verified", purpose).inc()


def _reported(sender: Any, report: Any = None, **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is not None and report is not None:
        _child("reports", report.provider, report.status).inc()


def _down(sender: Any, provider: str = "", channel: str = TEXT, **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is not None and channel == TEXT:  # the gauge's one label is the provider: texts' breakers
        _child("breaker", provider).set(1)


def _up(sender: Any, provider: str = "", channel: str = TEXT, **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is not None and channel == TEXT:
        _child("breaker", provider).set(0)


def _fraud(sender: Any, action: str = "", **extra: Any) -> None:
    metrics = _on(sender)
    if metrics is not None and action:
        _child("fraud", action).inc()


def refused(reason: str) -> None:
    """One error answer of flask_sms (``messages.json_error`` says each), counted for an app with metrics on."""
    if _metrics and has_app_context() and current_app._get_current_object() in _apps:  # type: ignore[attr-defined]
        _child("refusals", reason).inc()


def _connect() -> None:
    """Module-level receivers (blinker keeps receivers weakly: functions of a module stay alive)."""
    from . import signals

    sms_sent.connect(_sent)
    sms_failed.connect(_failed)
    code_sent.connect(_code_sent)
    code_verified.connect(_code_verified)
    delivery_reported.connect(_reported)
    provider_down.connect(_down)
    provider_up.connect(_up)
    fraud = getattr(signals, "fraud_suspected", None)  # the fraud guard's signal, where it exists
    if fraud is not None:
        fraud.connect(_fraud)
