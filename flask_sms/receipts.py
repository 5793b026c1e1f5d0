"""``sms.receipts``: one app's delivery reports, pushed by the vendors or fetched from them.

A :class:`Receipts` is built once per app (when receipts are on, or the verification flow keeps
a storage) and reached through :attr:`SmsExtension.receipts <flask_sms.SmsExtension.receipts>`.
It reads a vendor's push (:meth:`~Receipts.push`, what the receipt route calls), asks a vendor's
query API (:meth:`~Receipts.fetch`) and answers the latest status of a send
(:meth:`~Receipts.status`). Every report not seen before fires ``delivery_reported`` once, through
the app's :class:`~flask_sms.receipt_book.ReceiptBook`, whichever way it came.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

from . import channels
from .errors import SmsError
from .phones import PhoneInput, parse_phone
from .providers import REGISTRY, ProviderLoadError, provider_class
from .providers.reports import ParsedReceipts
from .receipt_book import Accepted, ReceiptBook
from .receipt_store import ReceiptBounds
from .results import DeliveryReport

if TYPE_CHECKING:
    from flask import Flask

    from .config import Settings
    from .providers import AnyProvider


class Receipts:
    """Delivery reports of one app: vendors' pushes read, their query APIs asked, the latest status kept.

    Reports live in the code storage (``SMS_STORAGE_URL``) for ``SMS_RECEIPT_TTL`` seconds, across
    workers with Redis. A report is announced (``delivery_reported``) once every time it is new, and
    marked seen only when every handler returned: see the docs' "Delivery receipts".
    """

    def __init__(self, app: Flask, book: ReceiptBook, settings: Settings, providers: Sequence[AnyProvider]) -> None:
        self._app = weakref.ref(app)
        self._book = book
        self._settings = settings
        self._providers = {provider.name: provider for provider in providers}

    @property
    def bounds(self) -> ReceiptBounds:
        """What the receipt route may take and store (``SMS_RECEIPT_LIMITS``, ``SMS_RECEIPT_MAX_STORED_BYTES``,
        wrong tokens per client) and its once-a-minute log lines."""
        return self._book.bounds

    @cached_property
    def providers(self) -> tuple[str, ...]:
        """The names whose push the receipt route reads: the built-in vendors that document one, every entry of
        the app's ``SMS_PROVIDERS`` that does (``"aliyun:backup"``, your own), and the voice vendors' ``-voice``."""
        names = dict.fromkeys(name for name in REGISTRY if provider_class(name).receipt_formats)
        for entry in self._settings.providers:
            try:
                if provider_class(entry).receipt_formats:
                    names[entry] = None
            except ProviderLoadError:  # reported by flask sms check
                continue
        names.update(dict.fromkeys(channels.receipt_names(self._settings.voice)))
        return tuple(names)

    def push(
        self, provider: str, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> tuple[ParsedReceipts, Accepted]:
        """Read one vendor push (the receipt route calls this): (what was read, what announcing it did).

        Raises ``ForgedReceipt`` when the vendor's own signature on it fails, ``BadReceipt``
        when the body is not the vendor's format at all.
        """
        vendor = channels.vendor_of_receipt(provider)
        if vendor is not None:  # "aliyun-voice": a call's result, reported as the vendor's
            parsed = channels.voice_class(vendor).parse_receipts(body, content_type)
            return parsed, self._book.accept(self._app(), parsed.reports)
        cls = provider_class(provider)
        cls.verify_receipt(self._settings.provider_settings.get(provider), headers or {}, body)
        parsed = cls.parse_receipts(body, content_type)
        if any(report.provider != provider for report in parsed.reports):  # an account: its own name
            parsed.reports[:] = [dataclasses.replace(report, provider=provider) for report in parsed.reports]
        return parsed, self._book.accept(self._app(), parsed.reports)

    def fetch(
        self,
        provider: str,
        *,
        phone: PhoneInput | None = None,
        date: date | None = None,
        message_id: str | None = None,
    ) -> list[DeliveryReport]:
        """Ask ``provider``'s query API for delivery reports (Aliyun QuerySendDetails, Tencent PullSmsSendStatus*,
        Yunpian, NetEase).

        Aliyun needs ``phone`` and a ``date`` (Beijing calendar day, default today) within
        the last 30 days; Tencent polls by ``phone`` (the last 7 days, or that ``date``)
        or, without one, drains its report queue. Every report fetched is returned;
        ``delivery_reported`` fires for those not seen before (push or poll), and
        :meth:`status` then knows them. Vendors with no query API raise :class:`~flask_sms.SmsError`.
        """
        found = self._providers.get(provider)
        if found is None:
            raise SmsError(f"provider {provider!r} is not in SMS_PROVIDERS ({', '.join(self._providers)})")
        number = None if phone is None else parse_phone(phone, self._settings.default_region)
        reports = found.fetch_reports(phone=number, day=date, message_id=message_id)
        accepted = self._book.accept(self._app(), reports)
        if accepted.failures:  # every report was read and announced; the first handler error is the caller's
            raise accepted.failures[0]
        return accepted.reports

    def status(self, out_id: str) -> DeliveryReport | None:
        """The latest delivery report for a send's ``out_id`` (``SendResult.out_id``), or ``None`` yet.

        Kept for ``SMS_RECEIPT_TTL`` seconds in the storage, across workers with Redis.
        """
        return self._book.status(out_id)

    @staticmethod
    def answer(provider: str, content_type: str) -> tuple[bytes, str]:
        """What ``provider`` expects back after a push: (body, media type)."""
        vendor = channels.vendor_of_receipt(provider)
        if vendor is not None:
            return channels.voice_class(vendor).receipt_answer(content_type)
        return provider_class(provider).receipt_answer(content_type)
