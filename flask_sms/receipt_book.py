"""Delivery reports: de-duplication, the message-id -> out_id map and the latest status, in the storage.

Vendors retry pushes and do not promise to send a report once, so each report
is announced once per (provider, message id, phone, status): it is claimed in the
code storage (``SET NX`` on Redis, so it holds across workers and hosts), announced,
and marked seen only when every handler returned (:mod:`.receipt_store`). Everything
lives in the same storage as the codes (``SMS_STORAGE_URL``) for ``SMS_RECEIPT_TTL``
seconds, within ``SMS_RECEIPT_MAX_STORED_BYTES``; on ``memory://`` in a bounded part of
its own (:data:`~.memory.RECEIPTS`), which forgets its oldest reports when full and so can
never crowd out the codes and cool-downs.

With receipts on, each send records its message ids against its ``out_id``
(one ``set_many``: one pipelined round trip on Redis), so a report that carries
only the vendor's id (a Tencent ``sid``, an Aliyun ``biz_id``) finds its
``out_id``, and a polled Aliyun report (which carries no ``BizId``) finds its id.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask

from . import reporting
from .memory import RECEIPTS
from .receipt_store import BUSY, CLAIMED, ReceiptBounds, receipt_store_for
from .results import DeliveryReport, SentMessage
from .signals import delivery_reported

if TYPE_CHECKING:
    from .storage import Storage

logger = logging.getLogger("flask_sms")

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
    when = report.submitted_at or report.delivered_at  # without a message id, the phone and a time identify it
    stand_in = report.message_id or (when.isoformat() if when else "")
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


@dataclass
class Accepted:
    """What reading a batch of reports did."""

    #: every report, completed with the ids the sends recorded
    reports: list[DeliveryReport]
    #: how many were announced now (every ``delivery_reported`` handler returned)
    fresh: int = 0
    #: what the handlers that raised raised; those reports are not marked seen and will be announced again
    failures: list[Exception] = field(default_factory=list)
    #: reports another worker is announcing right now (not acknowledged here: the vendor's retry settles them)
    busy: int = 0


#: what a stored entry costs besides its key and value (the storage's own bookkeeping), for the byte bound
_ENTRY_OVERHEAD = 64
#: two ISO 8601 times with their offset, and the stored tuple's punctuation
_TIMES = 80


def _entries(report: DeliveryReport) -> dict[str, tuple[Any, ...]]:
    """What a new report stores: its latest status by out_id and by message id."""
    values = dump(report)
    stored: dict[str, tuple[Any, ...]] = {}
    if report.out_id:
        stored[_status_key(report.out_id)] = values
    if report.message_id:
        stored[_message_key(report.provider, report.message_id)] = values
    return stored


def _cost(key: str, report: DeliveryReport, entries: int) -> int:
    """About the bytes a new report takes: its mark, and its status under each of its ``entries`` keys
    (the text fields, two times, the keys and the storage's own bookkeeping)."""
    fields = len(report.provider) + len(report.phone) + len(report.message_id) + len(report.out_id)
    value = fields + len(report.code) + len(report.description) + _TIMES
    return len(key) + _ENTRY_OVERHEAD + entries * (value + fields + _ENTRY_OVERHEAD)


class ReceiptBook:
    """De-duplicates reports, fires ``delivery_reported`` once per new report and keeps the latest status.

    A report is marked seen only once every ``delivery_reported`` handler returned: one that
    raises leaves it unmarked (the push answers 500), so the vendor's retry announces it again.
    Handlers see a report at least once; a report whose handlers all returned is not announced again.
    """

    def __init__(
        self,
        storage: Storage,
        ttl: int,
        clock: Callable[[], float],
        *,
        record: bool,
        push_limits: tuple[Any, ...] = (),
        max_stored_bytes: int | None = None,
    ) -> None:
        self.cache = storage.cache  # the cachelib backend of the code storage
        self.ttl = ttl
        self.clock = clock
        #: whether sends record their message ids (receipts on); off, a send costs no storage call
        self.record = record
        self.marks = receipt_store_for(storage)
        #: every bound on what the receipt route takes and stores (``None`` bytes: receipts off, only
        #: the console provider's own reports come in)
        self.bounds = ReceiptBounds(self.marks, push_limits, max_stored_bytes, ttl)

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

    def accept(self, app: object, reports: Iterable[DeliveryReport]) -> Accepted:
        """Announce the reports not seen before; mark each seen once every handler returned for it.

        Each report is claimed (a copy of it pushed to another worker meanwhile is ``busy``), its
        status stored, and it is announced: marked seen if every handler returned, released if one
        raised (logged where the app's log shows it), so the vendor's retry announces it again.
        """
        completed = self._completed(list(reports))
        now = self.clock()
        unique: dict[str, DeliveryReport] = {}
        for report in completed:
            unique.setdefault(_seen_key(report), report)  # a report twice in one batch counts once
        claims = self.marks.claim(list(unique), now)
        fresh = [(key, unique[key]) for key, claim in zip(unique, claims) if claim == CLAIMED]
        result = Accepted(completed, busy=claims.count(BUSY))
        if fresh:
            self._store_and_announce(app, fresh, result, now)
        return result

    def _store_and_announce(
        self, app: object, fresh: list[tuple[str, DeliveryReport]], result: Accepted, now: float
    ) -> None:
        """Store the claimed reports' status (one call), announce them, then mark the ones whose every
        handler returned done, with the bytes stored counted in the same step, and release the others."""
        keys = [key for key, _ in fresh]
        latest: dict[str, tuple[Any, ...]] = {}
        cost = 0
        for key, report in fresh:
            entries = _entries(report)
            latest.update(entries)
            cost += _cost(key, report, len(entries))
        try:
            if latest:
                self.cache.set_many(latest, timeout=self.ttl)
        except BaseException:
            self.marks.release(keys)
            raise
        done = self._announce(app, fresh, result)
        self.marks.finish(done, now, now + self.ttl, self.bounds.stored(cost))
        finished = set(done)
        self.marks.release([key for key in keys if key not in finished])

    @staticmethod
    def _announce(app: object, fresh: list[tuple[str, DeliveryReport]], result: Accepted) -> list[str]:
        """Fire ``delivery_reported`` for each report; the keys of those whose every handler returned."""
        done: list[str] = []
        for key, report in fresh:
            try:
                delivery_reported.send(app, report=report)
            except Exception as exc:  # noqa: BLE001 -- an app's handler may raise anything
                result.failures.append(exc)
                reporting.destination(logging.ERROR, app if isinstance(app, Flask) else None).error(
                    "a delivery_reported handler raised for the %s report of message %s to %s; it is not marked "
                    "seen, so the vendor's retry (or the next poll) announces it again",
                    report.provider,
                    report.message_id or "-",
                    report.phone or "-",
                    exc_info=exc,
                )
            else:
                done.append(key)
        result.fresh = len(done)
        return done

    def status(self, out_id: str) -> DeliveryReport | None:
        return load(self.cache.get(_status_key(out_id)))

    def latest(self, provider: str, message_id: str) -> DeliveryReport | None:
        return load(self.cache.get(_message_key(provider, message_id)))
