"""Delivery reports: de-duplication, the message-id -> out_id map and the latest status, in the storage.

Vendors retry pushes and do not promise to send a report once, so each report
is let through once per (provider, message id, phone, status): the first time is
an atomic "use once" in the code storage (``SET NX`` on Redis), so it holds
across workers and hosts. Everything lives in the same storage as the codes
(``SMS_STORAGE_URL``) for ``SMS_RECEIPT_TTL`` seconds.

With receipts on, each send records its message ids against its ``out_id``
(one ``set_many``: one pipelined round trip on Redis), so a report that carries
only the vendor's id (a Tencent ``sid``, an Aliyun ``biz_id``) finds its
``out_id``, and a polled Aliyun report (which carries no ``BizId``) finds its id.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from .results import DeliveryReport, SentMessage
from .signals import delivery_reported
from .storage import CodeStore

_PREFIX = "sms:receipt:"


def _digest(*parts: str) -> str:
    """A short, fixed-length key part for vendor-supplied values of any content."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _id_key(provider: str, message_id: str) -> str:
    return f"{_PREFIX}id:{_digest(provider, message_id)}"


def _out_key(provider: str, out_id: str, phone: str) -> str:
    return f"{_PREFIX}out:{_digest(provider, out_id, phone)}"


def _status_key(out_id: str) -> str:
    return f"{_PREFIX}status:{_digest(out_id)}"


def _message_key(provider: str, message_id: str) -> str:
    return f"{_PREFIX}message:{_digest(provider, message_id)}"


def _seen_key(report: DeliveryReport) -> str:
    stand_in = report.message_id or (report.submitted_at.isoformat() if report.submitted_at else "")
    return f"{_PREFIX}seen:{_digest(report.provider, stand_in, report.phone, report.status)}"


def dump(report: DeliveryReport) -> dict[str, Any]:
    """The report as plain values, for the storage."""
    values = dataclasses.asdict(report)
    for name in ("submitted_at", "delivered_at"):
        if values[name] is not None:
            values[name] = values[name].isoformat()
    return values


def load(values: Any) -> DeliveryReport | None:
    if not isinstance(values, dict):
        return None
    try:
        times = {
            name: None if values.get(name) is None else datetime.fromisoformat(values[name])
            for name in ("submitted_at", "delivered_at")
        }
        return DeliveryReport(**{**values, **times})
    except (TypeError, ValueError):
        return None


class ReceiptBook:
    """De-duplicates reports, fires ``delivery_reported`` once per new report and keeps the latest status."""

    def __init__(self, cache: Any, store: CodeStore, ttl: int, clock: Callable[[], float], *, record: bool) -> None:
        self.cache = cache  # the cachelib backend of the code storage
        self.store = store
        self.ttl = ttl
        self.clock = clock
        #: whether sends record their message ids (receipts on); off, a send costs no storage call
        self.record = record

    def record_sent(self, messages: Sequence[SentMessage]) -> None:
        """Message id -> out_id and (out_id, phone) -> message id, for every accepted number, in one call."""
        values: dict[str, str] = {}
        for sent in messages:
            if sent.message_id and sent.out_id:
                values[_id_key(sent.provider, sent.message_id)] = sent.out_id
                values[_out_key(sent.provider, sent.out_id, sent.phone)] = sent.message_id
        if values:
            self.cache.set_many(values, timeout=self.ttl)

    def _completed(self, report: DeliveryReport) -> DeliveryReport:
        """Fill in the out_id (or the message id) the report lacks from what the send recorded."""
        if not report.out_id and report.message_id:
            out_id = self.cache.get(_id_key(report.provider, report.message_id))
            if isinstance(out_id, str) and out_id:
                return dataclasses.replace(report, out_id=out_id)
        if not report.message_id and report.out_id:
            message_id = self.cache.get(_out_key(report.provider, report.out_id, report.phone))
            if isinstance(message_id, str) and message_id:
                return dataclasses.replace(report, message_id=message_id)
        return report

    def accept(self, app: object, reports: Iterable[DeliveryReport]) -> tuple[list[DeliveryReport], int]:
        """Keep and announce the reports not seen before: (every report, completed with its ids; how many were new)."""
        completed, fresh = [], 0
        for report in reports:
            report = self._completed(report)
            completed.append(report)
            now = self.clock()
            if not self.store.use_once(_seen_key(report), now, now + self.ttl):
                continue
            stored = dump(report)
            latest = {}
            if report.out_id:
                latest[_status_key(report.out_id)] = stored
            if report.message_id:
                latest[_message_key(report.provider, report.message_id)] = stored
            if latest:
                self.cache.set_many(latest, timeout=self.ttl)
            fresh += 1
            delivery_reported.send(app, report=report)
        return completed, fresh

    def status(self, out_id: str) -> DeliveryReport | None:
        return load(self.cache.get(_status_key(out_id)))

    def latest(self, provider: str, message_id: str) -> DeliveryReport | None:
        return load(self.cache.get(_message_key(provider, message_id)))
