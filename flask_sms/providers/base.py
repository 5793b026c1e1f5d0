"""The base class every provider module fills in.

A provider turns (numbers, payload) into one vendor request, sends it with a
client built once, and parses the reply into a :class:`~.payload.Reply`.
Anything that makes the whole request fail raises
:class:`~flask_sms.errors.ProviderError`, which the sender treats as "try the
next provider".
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar, Generic, TypeVar

from phonenumbers import PhoneNumber

from ..errors import ProviderError, SmsError
from ..options import REQUIRED, UNSET, Option
from ..results import DeliveryReport, Outcome
from .payload import Payload, Reply, Template
from .replies import transport_error
from .reports import BadReceipt, ParsedReceipts

RequestT = TypeVar("RequestT")
RawT = TypeVar("RawT")


class Provider(ABC, Generic[RequestT, RawT]):
    """Subclasses fill in the class attributes and four methods: format, build, call, parse.

    Public: third-party vendors subclass it and register with
    :func:`flask_sms.register_provider` or the ``flask_sms.providers`` entry-point
    group (README, "Adding a vendor"). One instance is built per account, with
    that account's parsed settings and ``SMS_TIMEOUT``.
    """

    #: the vendor's name in ``SMS_PROVIDERS``; an account's instance carries ``"vendor:label"``
    name: str
    #: pip extra that installs the vendor SDK, or ``None`` when no SDK is needed
    extra: ClassVar[str | None] = None
    #: module the SDK is imported from, checked at ``init_app``
    sdk_module: ClassVar[str | None] = None
    #: the vendor's documented per-request maximum of numbers
    max_per_request: ClassVar[int] = 1
    #: the provider's own config keys, after ``SMS_<NAME>_``
    options: ClassVar[tuple[Option, ...]] = ()
    #: loggers of the SDK and its HTTP stack that get the redacting filter
    sdk_loggers: ClassVar[tuple[str, ...]] = ()
    #: whether every purpose needs an entry in ``SMS_<NAME>_TEMPLATES``
    needs_templates: ClassVar[bool] = True
    #: whether the vendor takes a sign name per request (a template's ``"sign"`` overrides ``SIGN_NAME``)
    takes_sign: ClassVar[bool] = False
    #: the vendor's published error codes and their outcome; a code not listed counts as ``failed``
    error_classes: ClassVar[Mapping[str, Outcome]] = {}
    #: media types of the vendor's documented delivery-receipt push; empty: it documents none
    receipt_formats: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self.templates: Mapping[str, Template] = settings.get("TEMPLATES") or {}

    # -- declared config, checked at init_app --------------------------------------------
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The optional keys' defaults, written into ``app.config``."""
        return {o.name: o.default for o in cls.options if o.default is not REQUIRED and o.default is not UNSET}

    @classmethod
    def credentials(cls) -> tuple[str, ...]:
        """Keys whose values must never reach a log, stdout or an error."""
        return tuple(option.name for option in cls.options if option.secret)

    @classmethod
    def sdk_problem(cls) -> str | None:
        if cls.sdk_module is None:
            return None
        try:
            importlib.import_module(cls.sdk_module)
        except ImportError:
            return f"provider {cls.name!r} needs its vendor SDK: pip install 'Flask-SMS-Captcha[{cls.extra}]'"
        return None

    @classmethod
    def classify(cls, code: str) -> Outcome:
        """The outcome a vendor error code means; unlisted codes fail over."""
        return cls.error_classes.get(code, "failed")

    # -- per send ------------------------------------------------------------------------
    def template_for(self, purpose: str) -> Template | None:
        return self.templates.get(purpose)

    def sign_name(self, payload: Payload) -> str:
        """The purpose's own sign name (the template's ``"sign"``), else the account's ``SIGN_NAME``."""
        return payload.template.sign or str(self.settings.get("SIGN_NAME") or "")

    def render(self, purpose: str, template: Template, params: Mapping[str, Any]) -> Payload:
        """Pick the template's parameters; raises :class:`MissingParameter` before anything is sent."""
        return Payload(template, template.pick(params, self.name, purpose))

    def batches(self, phones: list[str]) -> list[list[str]]:
        """How numbers (as the vendor writes them) are split into requests: runs of ``max_per_request``.

        A vendor whose limit differs by kind of number (Yunpian: one international
        number per request) splits them its own way.
        """
        size = self.max_per_request
        return [phones[start : start + size] for start in range(0, len(phones), size)]

    @abstractmethod
    def format_phone(self, number: PhoneNumber) -> str | None:
        """The number as the vendor wants it, or ``None`` if this vendor cannot reach it."""

    @abstractmethod
    def build_request(self, phones: Sequence[str], payload: Payload) -> RequestT:
        """Everything the SDK call needs for one request."""

    @abstractmethod
    def call(self, request: RequestT) -> RawT:
        """Send one request with the SDK; raise :class:`ProviderError` on failure."""

    @abstractmethod
    def parse(self, raw: RawT, phones: Sequence[str]) -> Reply:
        """Turn the vendor's reply into a :class:`Reply`; raise :class:`ProviderError` on a vendor error."""

    def send(self, phones: Sequence[str], payload: Payload) -> Reply:
        request = self.build_request(phones, payload)
        try:
            raw = self.call(request)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 -- SDKs raise their own types for transport faults
            raise transport_error(exc) from None
        return self.parse(raw, phones)

    # -- delivery receipts ---------------------------------------------------------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """The reports in one push body; raise :class:`BadReceipt` when the body is not the vendor's shape."""
        raise BadReceipt(f"{cls.name} documents no delivery-receipt push")

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        """What the vendor expects back after a push it sent: (body, media type)."""
        return b'{"ok": true}', "application/json"

    def fetch_reports(
        self, *, phone: PhoneNumber | None = None, day: date | None = None, message_id: str | None = None
    ) -> list[DeliveryReport]:
        """Ask the vendor's query API for delivery reports (see ``SmsExtension.fetch_reports``)."""
        raise SmsError(
            f"{self.name} publishes no query API for delivery reports: use its push "
            f"(POST .../sms_receipts/{self.name}) if it has one, or its console"
        )


AnyProvider = Provider[Any, Any]
