"""Delivery receipts for the loopback fake vendor: the record of what was sent, a pusher, the query plug-ins.

Plugs into :class:`fake_vendor.FakeVendor` (its ``actions`` and ``reply_hooks``):

* every accepted send is remembered with the id the fake answered and the correlation id the
  request carried: each vendor's kit in ``tests/fakes/`` reads them from its reply (``sent_texts``);
* each text "arrives" the moment it was sent (a report is never in the future), unless
  :meth:`FakeReceipts.fail` said otherwise;
* the query APIs (Aliyun ``QuerySendDetails``, Tencent ``PullSmsSendStatus``, Yunpian
  ``get_record.json``, NetEase ``querystatus.action``) are the kits' ``receipt_queries``, answered from
  that record after the kit's own signature checks;
* :meth:`FakeReceipts.push_all` posts the reports to an app's receipt route in the vendor's push
  format (the kit's ``receipt_pushes``) over real HTTP, retrying after a non-200 answer as the vendor
  does (the kit's ``push_tries``).

Written from the vendors' docs (see docs/vendors/<vendor>.md, "Receipts"), not from flask_sms.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from fake_vendor import FakeVendor, Received, Reply

BEIJING = timezone(timedelta(hours=8))


@dataclass
class Sent:
    vendor: str
    wire: str  # the number as the request wrote it
    e164: str
    message_id: str
    out_id: str
    sent_at: datetime
    delivered: bool = True
    code: str = "DELIVRD"
    description: str = "用户短信送达成功"
    pulled: bool = False  # Tencent's PullSmsSendStatus returns each report once

    @property
    def reported_at(self) -> datetime:
        return self.sent_at


@dataclass
class Push:
    vendor: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)


class FakeReceipts:
    def __init__(self, fake: FakeVendor) -> None:
        self.fake = fake
        self.sent: list[Sent] = []
        self.pushes: list[Push] = []
        self.queries: list[tuple[str, dict[str, Any]]] = []
        self.fates: dict[str, tuple[bool, str, str]] = {}  # E.164 -> (delivered, code, description)
        self.lock = threading.Lock()
        self._actions: dict[str, Any] = {}

    # -- plug in / out ------------------------------------------------------------------------
    def install(self) -> FakeReceipts:
        for kit in self.fake.plugins.values():
            self._actions.update(kit.receipt_queries(self))
        self.fake.actions.update(self._actions)
        self.fake.reply_hooks.append(self._note_send)
        return self

    def uninstall(self) -> None:
        for action in self._actions:
            self.fake.actions.pop(action, None)
        if self._note_send in self.fake.reply_hooks:
            self.fake.reply_hooks.remove(self._note_send)

    # -- what happens to each text ------------------------------------------------------------
    def fail(self, phone: str, code: str = "UNDELIV", description: str = "用户短信接收失败") -> None:
        """Texts to ``phone`` (E.164) from now on fail with the carrier's ``code``."""
        self.fates[phone] = (False, code, description)

    def add(self, vendor: str, phone: str, message_id: str, out_id: str = "", sent_at: datetime | None = None) -> Sent:
        """Record a text as if it had been sent (for histories longer than a test sends)."""
        wire = self.fake.plugin(vendor).receipt_wire(phone)
        entry = Sent(vendor, wire, phone, message_id, out_id, sent_at or datetime.now(BEIJING))
        self._apply_fate(entry)
        with self.lock:
            self.sent.append(entry)
        return entry

    def _apply_fate(self, entry: Sent) -> None:
        fate = self.fates.get(entry.e164)
        if fate is not None:
            entry.delivered, entry.code, entry.description = fate

    def _note_send(self, rec: Received, reply: Reply) -> None:
        if not (reply.label == "ok" or reply.label.startswith("partial:")):
            return
        kit = self.fake.plugin(rec.vendor)
        now = datetime.now(BEIJING)
        texts = kit.sent_texts(rec, json.loads(reply.body))
        entries = [Sent(rec.vendor, kit.receipt_wire(phone), phone, mid, out_id, now) for phone, mid, out_id in texts]
        for entry in entries:
            self._apply_fate(entry)
        with self.lock:
            self.sent.extend(entries)

    # -- push formats ---------------------------------------------------------------------------
    def items(self, vendor: str, entries: list[Sent] | None = None) -> list[dict[str, Any]]:
        """The vendor's push items for ``entries`` (default: every text sent through ``vendor``)."""
        chosen = [e for e in self.sent if e.vendor == vendor] if entries is None else entries
        kit = self.fake.plugin(vendor)
        return [kit.report_item(entry) for entry in chosen]

    # -- the pusher -----------------------------------------------------------------------------
    def push(
        self,
        vendor: str,
        url: str,
        body: bytes | list[Any] | dict[str, Any],
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Push:
        """POST one push like the vendor: retried after a non-200 answer (no waiting between tries here)."""
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        record = Push(vendor, raw, dict(headers or {}))
        for _ in range(self.fake.plugin(vendor).push_tries):
            sent = {"Content-Type": content_type, **record.headers}
            answer = requests.post(url, data=raw, headers=sent, timeout=10)
            record.statuses.append(answer.status_code)
            record.answers.append(answer.content)
            if answer.status_code == 200:
                break
        self.pushes.append(record)
        return record

    def requests_for(
        self, vendor: str, entries: list[Sent] | None = None, **options: Any
    ) -> list[tuple[bytes, str, dict]]:
        """The requests (body, content type, headers) the vendor pushes for ``entries``."""
        chosen = [e for e in self.sent if e.vendor == vendor] if entries is None else entries
        requests_: list[tuple[bytes, str, dict]] = self.fake.plugin(vendor).receipt_pushes(chosen, **options)
        return requests_

    def push_all(self, vendor: str, url: str, **options: Any) -> list[Push]:
        """Every text sent through ``vendor``, pushed as its kit builds them (``options`` passed on: Huawei
        ``json_batches=True``, Aliyun and Tencent ``batch=N``)."""
        return [
            self.push(vendor, url, body, content_type=content_type, headers=headers)
            for body, content_type, headers in self.requests_for(vendor, **options)
        ]
