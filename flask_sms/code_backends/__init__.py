"""Where a code is checked: here (``"local"``, the default) or by the vendor that made it.

``SMS_CODE_BACKEND = "aliyun_pnvs"`` hands the code itself to Aliyun's 号码认证服务: it makes
the code, texts it with a system sign and template, and checks it. Everything else stays
local: the cool-down, the quotas, the IP limits, the before-send hooks, the attempt cap
(counted here, so a guesser is stopped before the vendor is asked), the verification
token, the routes' JSON. A vendor-checked code cannot fail over (no other vendor knows it).
``"volcengine"`` does the same through Volcengine's 短信验码, with the message group's own sign
and OTP template. Each backend is one module here; :data:`BACKENDS` names them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask

from ..channels import labelled_settings
from ..options import Option, choice
from ..storage import Keys, keys_for
from .base import CheckUnavailable, CodeBackend

if TYPE_CHECKING:
    from ..sender import Sender

LOCAL = "local"

#: ``SMS_CODE_BACKEND`` name -> "module:Class" (one module per backend)
BACKENDS: dict[str, str] = {
    "aliyun_pnvs": "flask_sms.code_backends.aliyun_pnvs:AliyunPnvs",
    "volcengine": "flask_sms.code_backends.volcengine:VolcengineVerify",
}

#: the key that chooses the backend, declared once
BACKEND_KEYS: tuple[Option, ...] = (
    Option(
        "SMS_CODE_BACKEND",
        LOCAL,
        choice(LOCAL, *BACKENDS, describe=f"one of {', '.join([LOCAL, *BACKENDS])}"),
        doc='where codes are made and checked: `"local"` (here, as an HMAC in `SMS_STORAGE_URL`), `"aliyun_pnvs"` (Aliyun\'s PNVS makes, texts and checks them with its system sign and template) or `"volcengine"` (Volcengine\'s 短信验码, with the message group\'s own sign and OTP template): see Vendor-checked codes',
    ),
)


def number_keys(purpose: str, phone: str) -> Keys:
    """The store's keys for a vendor that keeps one code per number, whatever the purpose (Aliyun's PNVS):
    one code and attempt count per number, so a new code for any purpose replaces the live one here as it
    does there; the cool-down and the quotas stay per purpose. One cluster slot per number."""
    slot = f"sms:{{vendor:{phone}}}"
    tag = f"{slot}:{purpose}"
    return Keys(f"{slot}:code", f"{slot}:fails", f"{tag}:cooldown", tag)


def keys_function(route: VendorRoute | None) -> Callable[[str, str], Keys]:
    """Where the flow keeps a phone's code and counts: per purpose, unless the vendor keeps one code per number."""
    if route is None or route.backend.codes_per_purpose:
        return keys_for
    return number_keys


def marker(purpose: str) -> str:
    """What a vendor-checked code is kept as: its purpose, never the code. No code's HMAC (64 hex digits) is
    this, and it has no ``:`` (the store keeps ``value:expiry``)."""
    return f"vendor-checked-{purpose.encode().hex()}"


#: what a guess is counted with before the vendor is asked: no stored value is this
ATTEMPT_MARK = "vendor-attempt"


@dataclass(frozen=True)
class VendorRoute:
    """What the flow needs for vendor-checked codes: the backend (its check) and the sender that texts them."""

    backend: CodeBackend[Any, Any]
    #: a :class:`~flask_sms.sender.Sender` with the backend as its one provider: no failover, the breaker and
    #: the outcomes of any text
    sender: Sender


@dataclass(frozen=True)
class BackendSettings:
    """A vendor-checked backend's name and settings (its own keys and the SMS keys it shares)."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)


def backend_class(name: str) -> type[CodeBackend[Any, Any]]:
    module_name, class_name = BACKENDS[name].split(":")
    cls: type[CodeBackend[Any, Any]] = getattr(importlib.import_module(module_name), class_name)
    return cls


def apply_backend_defaults(app: Flask) -> None:
    """Write ``SMS_CODE_BACKEND``'s default, and the chosen backend's own keys' defaults, into ``app.config``."""
    for option in BACKEND_KEYS:
        app.config.setdefault(option.name, option.default)
    name = chosen(app.config)
    if name != LOCAL:
        cls = backend_class(name)
        for suffix, value in cls.defaults().items():
            app.config.setdefault(f"SMS_{cls.vendor.upper()}_{cls.label}_{suffix}", value)


def load_backend_settings(
    config: Mapping[str, Any], flow: Mapping[str, Any] | None, sending: Mapping[str, Any], problems: list[str]
) -> BackendSettings | None:
    """The chosen backend and its settings; ``None`` for ``"local"`` (or with the flow off)."""
    (option,) = BACKEND_KEYS
    name, found = option.problems(option.name, config.get(option.name))
    problems.extend(found)
    if name in (None, LOCAL) or flow is None:
        return None
    cls = backend_class(name)
    settings = labelled_settings(cls, cls.vendor, cls.label, config, problems)
    sdk_problem = cls.sdk_problem()
    if sdk_problem:
        problems.append(sdk_problem.replace("provider", "code backend", 1))
    problems.extend(_backend_problems(name, cls, flow, config))
    settings.update(
        PROXY=sending["proxy"],
        CODE_LENGTH=flow["code_length"],
        CODE_TTL=flow["code_ttl"],
        RESEND_INTERVAL=flow["resend_interval"],
        MAX_ATTEMPTS=flow["max_attempts"],
    )
    return BackendSettings(name, settings)


def _backend_problems(
    name: str, cls: type[CodeBackend[Any, Any]], flow: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    """What the vendor's code cannot do: other lengths, numbers abroad, calls (a call needs a code we know)."""
    problems = []
    length, ttl, attempts = flow.get("code_length"), flow.get("code_ttl"), flow.get("max_attempts")
    if length is not None and length not in cls.code_lengths:
        problems.append(f"SMS_CODE_LENGTH is {length}, but {name} makes codes of {_lengths(cls.code_lengths)} digits")
    if ttl is not None and ttl not in cls.code_ttls:
        ttls = cls.code_ttls
        problems.append(f"SMS_CODE_TTL is {ttl}, but {name} keeps a code {ttls.start} to {ttls.stop - 1} seconds")
    if attempts is not None and attempts > cls.most_attempts:
        problems.append(f"SMS_MAX_ATTEMPTS is {attempts}, but {name} allows at most {cls.most_attempts} tries")
    regions = flow.get("allowed_regions")
    if regions is None or regions - {"CN"}:
        problems.append(f"{name} texts mainland numbers only: SMS_ALLOWED_REGIONS must be ['CN']")
    if config.get("SMS_VOICE_PROVIDERS"):
        problems.append(
            f"SMS_CODE_BACKEND {name!r} checks codes it made and texted: a call cannot read one out; "
            "leave SMS_VOICE_PROVIDERS empty, or use the local backend"
        )
    return problems


def _lengths(lengths: tuple[int, ...]) -> str:
    """``4 to 8`` for a run of lengths, ``4, 6 or 8`` otherwise."""
    if list(lengths) == list(range(lengths[0], lengths[-1] + 1)):
        return f"{lengths[0]} to {lengths[-1]}"
    return ", ".join(map(str, lengths[:-1])) + f" or {lengths[-1]}"


def chosen(config: Mapping[str, Any]) -> str:
    """The backend ``SMS_CODE_BACKEND`` names, ``"local"`` when unset or unreadable (the loader reports it)."""
    value = config.get("SMS_CODE_BACKEND")
    return value if isinstance(value, str) and value in BACKENDS else LOCAL


__all__ = [
    "ATTEMPT_MARK",
    "BACKENDS",
    "BACKEND_KEYS",
    "LOCAL",
    "BackendSettings",
    "CheckUnavailable",
    "CodeBackend",
    "VendorRoute",
    "apply_backend_defaults",
    "backend_class",
    "chosen",
    "keys_function",
    "load_backend_settings",
    "marker",
    "number_keys",
]
