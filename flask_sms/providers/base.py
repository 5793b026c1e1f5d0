"""The shape every provider module shares.

A provider turns (numbers, template, named parameters) into one vendor request,
sends it with a client built once, and parses the reply into a :class:`Reply`.
Anything that makes the whole request fail raises :class:`ProviderError`, which
the send loop treats as "try the next provider".
"""

from __future__ import annotations

import importlib
import json
import re
import socket
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from .._redact import redact
from ..errors import MissingParameter, ProviderError

_MAX_MESSAGE = 300
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")


def endpoint_problems(key: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not _HOST.match(value):
        return [f"{key} must be a host or host:port, e.g. 'dysmsapi.aliyuncs.com' (got {value!r})"]
    return []


def scheme_problems(key: str, value: Any) -> list[str]:
    if value not in ("http", "https"):
        return [f"{key} must be 'http' or 'https' (got {value!r})"]
    return []


@dataclass(frozen=True)
class Template:
    """A vendor template: its id (or Ihuyi's content) and the named parameters it takes, in order.

    ``params`` is ``None`` when the config gave a bare string: then every
    parameter the caller passed is sent, in the caller's order.
    """

    id: str
    params: tuple[str, ...] | None = None

    def pick(self, values: Mapping[str, Any], provider: str, purpose: str) -> list[tuple[str, str]]:
        names = list(values) if self.params is None else self.params
        picked = []
        for name in names:
            if name not in values or values[name] is None:
                raise MissingParameter(provider, purpose, name)
            picked.append((name, str(values[name])))
        return picked


@dataclass
class Reply:
    """One vendor reply, normalised: which numbers it took and which it refused."""

    accepted: dict[str, str] = field(default_factory=dict)  # wire number -> message id
    rejected: dict[str, tuple[str, str]] = field(default_factory=dict)  # wire number -> (code, message)
    request_id: str = ""


def parse_template(value: Any) -> Template:
    """Accept ``"SMS_1"`` or ``{"id": "SMS_1", "params": ["code"]}`` (validated by config)."""
    if isinstance(value, Mapping):
        params = value.get("params")
        return Template(str(value["id"]), None if params is None else tuple(str(p) for p in params))
    return Template(str(value))


def template_problems(key: str, templates: Any) -> list[str]:
    if not isinstance(templates, Mapping) or not templates:
        return [f"{key} must be a non-empty mapping of purpose -> template"]
    problems = []
    for purpose, value in templates.items():
        where = f"{key}[{purpose!r}]"
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            continue
        if isinstance(value, Mapping):
            template_id = value.get("id")
            params = value.get("params")
            unknown = set(value) - {"id", "params"}
            if template_id is None or isinstance(template_id, bool) or not str(template_id).strip():
                problems.append(f"{where} needs a non-empty 'id'")
            if params is not None and (
                not isinstance(params, (list, tuple)) or not all(isinstance(p, str) for p in params)
            ):
                problems.append(f"{where}['params'] must be a list of parameter names")
            if unknown:
                problems.append(f"{where} has unknown keys {sorted(unknown)}")
            continue
        problems.append(f"{where} must be a template id string or {{'id': ..., 'params': [...]}}")
    return problems


def short(text: object) -> str:
    """Vendor text made safe to show: credentials masked, length bounded."""
    value = redact(str(text))
    return value if len(value) <= _MAX_MESSAGE else value[: _MAX_MESSAGE - 1] + "…"


def transport_error(exc: BaseException) -> ProviderError:
    """Classify a failure that happened before the vendor could answer."""
    text = str(exc)
    lowered = text.lower()
    class_names = " ".join(cls.__name__ for cls in type(exc).__mro__).lower()
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timeout" in class_names or "timed out" in lowered:
        return ProviderError("timeout", short(text))
    return ProviderError("connection_error", short(text))


def load_json(body: bytes | str, provider: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ProviderError("bad_reply", f"{provider} sent a reply that is not JSON: {short(body[:120])!r}") from None


class Provider(ABC):
    """Base class: subclasses fill in the class attributes and three methods."""

    name: ClassVar[str]
    #: pip extra that installs the vendor SDK, or ``None`` when no SDK is needed
    extra: ClassVar[str | None] = None
    #: module the SDK is imported from, checked at ``init_app``
    sdk_module: ClassVar[str | None] = None
    #: the vendor's documented per-request maximum of numbers
    max_per_request: ClassVar[int] = 1
    #: config keys (after ``SMS_<NAME>_``) that must be set
    required: ClassVar[tuple[str, ...]] = ()
    #: config keys whose values must never reach a log, stdout or an error
    credentials: ClassVar[tuple[str, ...]] = ()
    #: defaults for the optional keys (after ``SMS_<NAME>_``)
    defaults: ClassVar[dict[str, Any]] = {}
    #: loggers of the SDK and its HTTP stack that get the redacting filter
    sdk_loggers: ClassVar[tuple[str, ...]] = ()
    #: whether the provider needs ``SMS_<NAME>_TEMPLATES``
    needs_templates: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        raw = settings.get("TEMPLATES") or {}
        self.templates = {str(purpose): parse_template(value) for purpose, value in raw.items()}

    # -- checks run at init_app ---------------------------------------------------------
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
    def setting_problems(cls, settings: Mapping[str, Any]) -> list[str]:
        """Vendor-specific checks beyond "required keys are set"."""
        return []

    # -- per send ------------------------------------------------------------------------
    def template_for(self, purpose: str) -> Template | None:
        return self.templates.get(purpose)

    @abstractmethod
    def format_phone(self, number: PhoneNumber) -> str | None:
        """The number as the vendor wants it, or ``None`` if this vendor cannot reach it."""

    @abstractmethod
    def render(self, purpose: str, template: Template, params: Mapping[str, Any]) -> Any:
        """Map named parameters to the vendor's form; raises :class:`MissingParameter`."""

    @abstractmethod
    def build_request(self, phones: Sequence[str], template: Template, rendered: Any) -> Any:
        """Everything the SDK call needs for one request."""

    @abstractmethod
    def call(self, request: Any) -> Any:
        """Send one request with the SDK; raise :class:`ProviderError` on failure."""

    @abstractmethod
    def parse(self, raw: Any, phones: Sequence[str]) -> Reply:
        """Turn the vendor's reply into a :class:`Reply`; raise :class:`ProviderError` on a vendor error."""

    def send(self, phones: Sequence[str], template: Template, rendered: Any) -> Reply:
        request = self.build_request(phones, template, rendered)
        try:
            raw = self.call(request)
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 -- SDKs raise their own types for transport faults
            raise transport_error(exc) from None
        return self.parse(raw, phones)
