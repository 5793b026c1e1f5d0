"""The base class every provider module fills in.

A provider turns (numbers, payload) into one vendor request, sends it with a
client built once, and parses the reply into a :class:`~.payload.Reply`.
Anything that makes the whole request fail raises
:class:`~flask_sms.errors.ProviderError` with the vendor's code; :meth:`Provider.send`
gives it its outcome from the provider's table of codes (``error_classes``), and
the sender fails over on ``failed`` and ``content`` (the vendor refused the text's
values: the next vendor may take them, and the breaker does not count it).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from phonenumbers import PhoneNumber

from .._redact import sending
from ..errors import ProviderError, SmsError
from ..options import REQUIRED, UNSET, Option
from ..results import DeliveryReport, Outcome
from .payload import Payload, Reply, Template, templates
from .replies import transport_error
from .reports import BadReceipt, ParsedReceipts

if TYPE_CHECKING:
    from .transport import RoutedSession

#: what codes that flask_sms itself gives (not the vendor) mean, for every provider
GENERIC_CLASSES: Mapping[str, Outcome] = {
    # a 2xx reply that cannot be read: the vendor (or something in front of it) took the
    # request, so the text may be out
    "bad_reply": "unknown",
    # a reply that took the request but did not mention this number
    "no_status": "unknown",
}

#: the keys of a ``proxies`` mapping that decide a request's route: ``requests`` also reads ``all``
#: (``ALL_PROXY``), so a direct request sets it to ``None`` too
_PROXY_KEYS = ("http", "https", "all")


def choose_proxy(url: str, setting: str | bool | None) -> str | None:
    """The proxy a request to ``url`` goes through, decided as ``requests`` decides; ``None``: direct.

    ``setting`` is ``SMS_PROXY``: ``False`` is direct whatever the environment says; a URL
    takes the place of ``HTTPS_PROXY``/``HTTP_PROXY``, so ``NO_PROXY`` still applies to it;
    ``None`` reads ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` (either case).
    """
    from requests.utils import get_environ_proxies, select_proxy, should_bypass_proxies

    if setting is False:
        return None
    if isinstance(setting, str):
        return None if should_bypass_proxies(url, no_proxy=None) else setting
    return select_proxy(url, get_environ_proxies(url))


def proxies_mapping(proxy: str | None) -> dict[str, str | None]:
    """A ``proxies`` argument that routes a request through ``proxy``, or (``None``) straight to the vendor.

    Every key is set, to the proxy or to ``None``: ``requests`` adds the environment's
    proxies only for keys the caller left out, so ``None`` values stop that.
    """
    return dict.fromkeys(_PROXY_KEYS, proxy)


def check_proxy_support(proxy: str) -> None:
    """A SOCKS proxy needs PySocks; say so when the app starts, not on every send."""
    if not proxy.lower().startswith("socks"):
        return
    try:
        importlib.import_module("socks")
    except ImportError:
        raise ValueError("a socks5:// proxy needs PySocks: pip install 'requests[socks]'") from None


RequestT = TypeVar("RequestT")
RawT = TypeVar("RawT")


#: the settings key that names the ``SMS_PROVIDERS`` entry an instance serves (lower case: no option's name)
ENTRY = "entry"


class Provider(ABC, Generic[RequestT, RawT]):
    """Subclasses fill in the class attributes and four methods: format, build, call, parse.

    Public: third-party vendors subclass it and register with
    :func:`flask_sms.register_provider` or the ``flask_sms.providers`` entry-point
    group (docs: "Adding a vendor"). One instance is built per account, with
    that account's parsed settings and ``SMS_TIMEOUT``; the settings' :data:`ENTRY` names the
    account (``"aliyun:backup"``), the instance's :attr:`name`.
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
    #: keys every provider has, declared here once: ``SMS_<NAME>_INTL_TEMPLATES``, the same shape
    #: as ``TEMPLATES``, for numbers outside mainland China
    common_options: ClassVar[tuple[Option, ...]] = (
        Option(
            "INTL_TEMPLATES",
            UNSET,
            templates,
            doc="the same shape as `_TEMPLATES`, used for numbers outside mainland China; Aliyun, Tencent, Huawei, Volcengine, Qiniu and Yunpian need it to text those numbers (without it they pass them on)",
        ),
    )
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
    #: whether numbers outside mainland China need templates of their own (Aliyun, Tencent: a
    #: mainland template cannot text them). Without ``SMS_<NAME>_INTL_TEMPLATES`` such a provider
    #: passes those numbers on; the others then use ``TEMPLATES`` for every number.
    separate_intl_templates: ClassVar[bool] = False
    #: whether the template's values are masked in logs and errors during a call (only the
    #: ``console`` provider, whose purpose is to show the text, turns this off)
    masks_values: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        entry = settings.get(ENTRY)
        if entry:  # "aliyun:backup": its own result name and breaker
            self.name = entry
        self.templates: Mapping[str, Template] = settings.get("TEMPLATES") or {}
        #: ``SMS_<NAME>_INTL_TEMPLATES``, or ``None`` when the account does not set it
        self.intl_templates: Mapping[str, Template] | None = settings.get("INTL_TEMPLATES")
        #: ``SMS_PROXY``: a proxy URL, ``None`` for the standard environment variables, ``False`` for none
        self.proxy: str | bool | None = settings.get("PROXY")
        self._routes: dict[tuple[str, str], str | None] = {}
        if isinstance(self.proxy, str):
            check_proxy_support(self.proxy)
        elif self.proxy is None:
            from urllib.request import getproxies

            for name, value in getproxies().items():
                if name != "no":
                    check_proxy_support(value)

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
    def sdk_problem(cls, settings: Mapping[str, Any] | None = None) -> str | None:
        """Why the SDK these settings need cannot be used (not installed), or ``None``."""
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
        return cls.error_classes.get(code) or GENERIC_CLASSES.get(code, "failed")

    def finish_error(self, error: ProviderError, phones: Sequence[str]) -> ProviderError:
        """Give a whole-request error its outcome, from the table unless the module set one.

        A code that is final for *a* number (``rejected``) is final only when the
        request carried one number: a vendor that answers one code for a whole batch
        does not say which number it meant, so the batch may go to the next provider.
        """
        outcome = error.outcome or self.classify(error.code)
        if outcome == "rejected" and len(phones) != 1:
            outcome = "failed"
        error.outcome = outcome
        return error

    # -- the route to the vendor ---------------------------------------------------------
    def proxy_for(self, url: str) -> str | None:
        """The proxy URL a request to ``url`` goes through, or ``None`` for a direct connection.

        Decided as ``requests`` decides (``SMS_PROXY``, else ``HTTPS_PROXY``/``HTTP_PROXY``/
        ``ALL_PROXY``; ``NO_PROXY`` with its suffix, CIDR and ``*`` rules), once per scheme and
        host and kept: the environment is read when the app builds its providers (``init_app``)
        for the endpoints they name, or on the first request to any other host, never per send.
        """
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._routes:
            self._routes[key] = choose_proxy(url, self.proxy)
        return self._routes[key]

    def proxies_for(self, url: str) -> dict[str, str | None]:
        """The ``proxies`` argument for a ``requests`` call (or an SDK that takes one) to ``url``.

        Pass it on every request, even a direct one: its ``None`` values keep ``requests``
        (and SDKs that read ``HTTP_PROXY`` themselves) from adding a proxy ``NO_PROXY`` excludes.
        """
        return proxies_mapping(self.proxy_for(url))

    def http_session(self, *urls: str) -> RoutedSession:
        """A pooled ``requests.Session`` whose every request goes the way :meth:`proxies_for` decides.

        For providers that call the vendor's HTTP API themselves: use it instead of
        ``requests.Session()`` and ``SMS_PROXY``/``NO_PROXY`` apply with nothing more to do.
        ``urls`` (the vendor's endpoints) have their routes decided now, when the app starts.
        """
        from .transport import RoutedSession

        for url in urls:
            self.proxy_for(url)
        return RoutedSession(self.proxies_for)

    # -- per send ------------------------------------------------------------------------
    def template_for(self, purpose: str, international: bool = False) -> Template | None:
        """The template for ``purpose``; for numbers outside mainland China, the international one.

        ``None`` means "pass these numbers on to the next provider".
        """
        if international:
            if self.intl_templates is not None:
                return self.intl_templates.get(purpose)
            if self.separate_intl_templates:
                return None
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
        """One request. A :class:`ProviderError` it raises always carries its outcome."""
        with sending(
            payload.values() if self.masks_values else ()
        ):  # masked in every SDK log line and vendor text meanwhile
            request = self.build_request(phones, payload)
            try:
                raw = self.call(request)
            except ProviderError as exc:
                raise self.finish_error(exc, phones) from None
            except Exception as exc:  # noqa: BLE001 -- SDKs raise their own types for transport faults
                raise transport_error(exc) from None
            try:
                return self.parse(raw, phones)
            except ProviderError as exc:
                raise self.finish_error(exc, phones) from None

    # -- delivery receipts ---------------------------------------------------------------
    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """The reports in one push body; raise :class:`BadReceipt` when the body is not the vendor's shape."""
        raise BadReceipt(f"{cls.name} documents no delivery-receipt push")

    @classmethod
    def receipt_answer(cls, content_type: str) -> tuple[bytes, str]:
        """What the vendor expects back after a push it sent: (body, media type)."""
        return b'{"ok": true}', "application/json"

    @classmethod
    def verify_receipt(cls, settings: Mapping[str, Any] | None, headers: Mapping[str, str], body: bytes) -> None:
        """Check the vendor's own signature on a push, where it signs one; raise :class:`~.reports.ForgedReceipt` if it fails.

        ``settings`` are the account's (``None`` when the entry is not in ``SMS_PROVIDERS``);
        ``headers`` are keyed by lower-case name.
        Runs before :meth:`parse_receipts`, after the route checked ``SMS_RECEIPT_TOKEN``.
        """

    def fetch_reports(
        self, *, phone: PhoneNumber | None = None, day: date | None = None, message_id: str | None = None
    ) -> list[DeliveryReport]:
        """Ask the vendor's query API for delivery reports (see ``SmsExtension.fetch_reports``)."""
        raise SmsError(
            f"{self.name} publishes no query API for delivery reports: use its push "
            f"(POST .../sms_receipts/{self.name}) if it has one, or its console"
        )


AnyProvider = Provider[Any, Any]
