"""Delivery reports: de-duplication, the message-id -> out_id map and the latest status, in the storage.

Vendors retry pushes and do not promise to send a report once, so each report
is let through once per (provider, message id, phone, status): the first time is
an atomic "use once" in the code storage (``SET NX`` on Redis), so it holds
across workers and hosts. Everything lives in the same storage as the codes
(``SMS_STORAGE_URL``) for ``SMS_RECEIPT_TTL`` seconds; on ``memory://`` in a bounded part of
its own (:data:`~.memory.RECEIPTS`), which forgets its oldest reports when full and so can
never crowd out the codes and cool-downs.

With receipts on, each send records its message ids against its ``out_id``
(one ``set_many``: one pipelined round trip on Redis), so a report that carries
only the vendor's id (a Tencent ``sid``, an Aliyun ``biz_id``) finds its
``out_id``, and a polled Aliyun report (which carries no ``BizId``) finds its id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from .memory import RECEIPTS
from .results import DeliveryReport, SentMessage
from .signals import delivery_reported
from .storage import CodeStore

#: every receipt key: on ``memory://`` they live in a bounded part of their own (RECEIPTS)
_PREFIX = RECEIPTS.prefix


def _digest(*parts: str) -> str:
    """One key part from vendor-supplied values (each at most 256 characters, as the parsers bound them)."""
    return "\x1f".join(parts)


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


_FIELDS = tuple(field.name for field in dataclasses.fields(DeliveryReport))


def dump(report: DeliveryReport) -> tuple[Any, ...]:
    """The report as plain values in field order, for the storage (times as ISO 8601 with their offset)."""
    submitted, delivered = report.submitted_at, report.delivered_at
    return (
        report.provider,
        report.phone,
        report.message_id,
        report.out_id,
        report.status,
        report.code,
        report.description,
        None if submitted is None else submitted.isoformat(),
        None if delivered is None else delivered.isoformat(),
        report.channel,
    )


def load(values: Any) -> DeliveryReport | None:
    """A report :func:`dump` stored (one stored before reports had a channel is a text's)."""
    if not isinstance(values, (tuple, list)) or len(values) not in (len(_FIELDS) - 1, len(_FIELDS)):
        return None
    try:
        times = [None if value is None else datetime.fromisoformat(value) for value in values[7:9]]
        return DeliveryReport(*values[:7], *times, *values[9:])
    except (TypeError, ValueError):
        return None


def _missing_id_key(report: DeliveryReport) -> str | None:
    """The recorded key that holds the id a report lacks: it carries one of its two ids, not both."""
    if not report.out_id and report.message_id:
        return _id_key(report.provider, report.message_id)
    if not report.message_id and report.out_id:
        return _out_key(report.provider, report.out_id, report.phone)
    return None


def _with_recorded_id(report: DeliveryReport, value: Any) -> DeliveryReport:
    """The report with the id it lacked, when the sends recorded one; as it was otherwise."""
    if not isinstance(value, str) or not value:
        return report
    if report.message_id:
        return dataclasses.replace(report, out_id=value)
    return dataclasses.replace(report, message_id=value)


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

    def _completed(self, reports: list[DeliveryReport]) -> list[DeliveryReport]:
        """Fill in the out_id (or the message id) each report lacks from what the sends recorded (one call)."""
        wanted: dict[int, str] = {}
        for index, report in enumerate(reports):
            key = _missing_id_key(report)
            if key is not None:
                wanted[index] = key
        if not wanted:
            return reports
        found = dict(zip(wanted, self.cache.get_many(*wanted.values())))
        return [_with_recorded_id(report, found.get(index)) for index, report in enumerate(reports)]

    def accept(self, app: object, reports: Iterable[DeliveryReport]) -> tuple[list[DeliveryReport], int]:
        """Keep and announce the reports not seen before: (every report, completed with its ids; how many were new).

        The de-duplication mark is taken before the report is stored and announced: a crash in
        between loses that report (the vendor's retry is then a duplicate), it never announces one twice.
        """
        completed = self._completed(list(reports))
        now = self.clock()
        first = self.store.use_once_many([_seen_key(report) for report in completed], now, now + self.ttl)
        fresh: list[DeliveryReport] = []
        latest: dict[str, tuple[Any, ...]] = {}
        for report, new in zip(completed, first):
            if not new:
                continue
            stored = dump(report)
            if report.out_id:
                latest[_status_key(report.out_id)] = stored
            if report.message_id:
                latest[_message_key(report.provider, report.message_id)] = stored
            fresh.append(report)
        if latest:
            self.cache.set_many(latest, timeout=self.ttl)
        for report in fresh:
            delivery_reported.send(app, report=report)
        return completed, len(fresh)

    def status(self, out_id: str) -> DeliveryReport | None:
        return load(self.cache.get(_status_key(out_id)))

    def latest(self, provider: str, message_id: str) -> DeliveryReport | None:
        return load(self.cache.get(_message_key(provider, message_id)))
