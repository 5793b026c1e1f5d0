"""The ways a code reaches a phone: a text (``"sms"``, the default) or a call that reads it out (``"voice"``).

Voice is a second :class:`~.sender.Sender` with its own providers (``SMS_VOICE_PROVIDERS``,
in failover order), its own circuit breakers and the same outcomes and failover as texts.
Each vendor's voice provider lives in that vendor's module (:data:`VOICE_REGISTRY`) and is
configured next to its SMS keys (``SMS_<NAME>_VOICE_*``, falling back to the vendor's
credentials). In the flow one code lives per phone and purpose whatever the channel (a call
replaces a texted code and the other way round), while voice keeps its own cool-down and
quota, and is offered only after ``SMS_VOICE_AFTER`` texts within the code's lifetime: the
vendors' own advice against call fraud.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask

from .backends import storage_errors
from .errors import InvalidRequest, SendRefused
from .messages import detail_for
from .options import Invalid, Option, as_list, integer, rate_limits
from .providers.voice import MAX_VOICE_CODE_LENGTH, VoiceProvider
from .storage import BreakerState, Keys, OpenBreaker

if TYPE_CHECKING:
    from .sender import Sender

logger = logging.getLogger("flask_sms")

SMS = "sms"
VOICE = "voice"
CHANNELS = (SMS, VOICE)

#: vendor -> its voice provider, "module:Class" (each in the vendor's own module)
VOICE_REGISTRY: dict[str, str] = {
    "aliyun": "flask_sms.providers.aliyun:AliyunVoiceProvider",
    "tencent": "flask_sms.providers.tencent:TencentVoiceProvider",
    "ronglian": "flask_sms.providers.ronglian:RonglianVoiceProvider",
    "console": "flask_sms.providers.console:ConsoleVoiceProvider",
}

#: the name a vendor's call results are pushed under: ``POST .../sms_receipts/aliyun-voice``
RECEIPT_SUFFIX = "-voice"


def voice_class(vendor: str) -> type[VoiceProvider[Any, Any]]:
    module_name, class_name = VOICE_REGISTRY[vendor].split(":")
    cls: type[VoiceProvider[Any, Any]] = getattr(importlib.import_module(module_name), class_name)
    return cls


def _voice_providers(value: Any) -> tuple[str, ...]:
    items = as_list(value)
    if items in (None, "", [], ()):
        return ()
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) and item for item in items):
        raise Invalid(f"must be a list of voice providers: {', '.join(VOICE_REGISTRY)}")
    unknown = [item for item in items if item not in VOICE_REGISTRY]
    if unknown:
        raise Invalid(
            f"has {unknown}, which cannot call; voice providers: {', '.join(VOICE_REGISTRY)}", show_value=False
        )
    if len(set(items)) != len(items):
        raise Invalid(f"lists a provider twice: {list(items)}", show_value=False)
    return tuple(items)


#: the voice channel's core keys, declared once (each vendor's own are on its voice provider class)
VOICE_KEYS: tuple[Option, ...] = (
    Option(
        "SMS_VOICE_PROVIDERS",
        [],
        _voice_providers,
        doc="the vendors that call, in failover order: `aliyun`, `tencent`, `ronglian`, `console`",
    ),
    Option("SMS_VOICE_RESEND_INTERVAL", 60, integer(1, 3600), doc="seconds between two calls to one phone and purpose"),
    Option("SMS_VOICE_PHONE_LIMITS", "3/hour;5/day", rate_limits, doc="calls per phone and purpose"),
    Option("SMS_VOICE_AFTER", 1, integer(0, 10), doc="texts within `SMS_CODE_TTL` before a call is offered, 0 to 10"),
)


@dataclass(frozen=True)
class VoiceSettings:
    """:data:`VOICE_KEYS`, parsed, with each voice provider's own settings."""

    providers: tuple[str, ...]
    resend_interval: int
    phone_limits: tuple[Any, ...]
    after: int
    provider_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def apply_voice_defaults(app: Flask) -> None:
    """Write the voice keys' defaults (and those of the listed vendors' voice keys) into ``app.config``."""
    for option in VOICE_KEYS:
        app.config.setdefault(option.name, option.default)
    try:
        vendors = _voice_providers(app.config.get("SMS_VOICE_PROVIDERS"))
    except Invalid:
        return  # load_voice_settings reports it
    for vendor in vendors:
        for suffix, value in voice_class(vendor).defaults().items():
            app.config.setdefault(f"SMS_{vendor.upper()}_VOICE_{suffix}", value)


def _read(option: Option, key: str, config: Mapping[str, Any], problems: list[str]) -> Any:
    value, found = option.problems(key, config.get(key))
    problems.extend(found)
    return value


def _shared(vendor: str, label: str, option: Option, config: Mapping[str, Any], problems: list[str]) -> Any:
    """``SMS_<NAME>_<LABEL>_<KEY>`` when set, else the vendor's SMS key ``SMS_<NAME>_<KEY>``, else the default."""
    own, texts = f"SMS_{vendor.upper()}_{label}_{option.name}", f"SMS_{vendor.upper()}_{option.name}"
    if config.get(own) is not None:
        return _read(option, own, config, problems)
    if config.get(texts) is not None:
        return _read(option, texts, config, problems)
    return _read(option, f"{own} (or {texts})", config, problems)


def labelled_settings(
    cls: Any, vendor: str, label: str, config: Mapping[str, Any], problems: list[str]
) -> dict[str, Any]:
    """The settings of a vendor's voice provider or code backend: its own ``SMS_<NAME>_<LABEL>_*`` keys (declared
    once, on ``cls.options``) and the vendor's SMS keys it shares (``cls.shared_options``), each read once."""
    settings: dict[str, Any] = {
        option.name: _read(option, f"SMS_{vendor.upper()}_{label}_{option.name}", config, problems)
        for option in cls.options
    }
    for option in cls.shared_options:
        settings[option.name] = _shared(vendor, label, option, config, problems)
    return settings


def voice_provider_settings(vendor: str, config: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """One voice provider's settings: its own ``SMS_<NAME>_VOICE_*`` keys and the SMS keys it shares."""
    cls = voice_class(vendor)
    settings = labelled_settings(cls, vendor, "VOICE", config, problems)
    sdk_problem = cls.sdk_problem()
    if sdk_problem:
        problems.append(sdk_problem.replace("provider", "voice provider", 1))
    return settings


def load_voice_settings(
    config: Mapping[str, Any], flow: Mapping[str, Any] | None, proxy: Any, problems: list[str]
) -> VoiceSettings | None:
    """The voice channel's settings, or ``None`` when ``SMS_VOICE_PROVIDERS`` is empty (voice off)."""
    values: dict[str, Any] = {}
    for option in VOICE_KEYS:
        values[option.name[len("SMS_VOICE_") :].lower()] = _read(option, option.name, config, problems)
    vendors = values["providers"] or ()
    if not vendors:
        return None
    provider_settings = {vendor: voice_provider_settings(vendor, config, problems) for vendor in vendors}
    for settings in provider_settings.values():
        settings["PROXY"] = proxy
    problems.extend(_voice_flow_problems(flow))
    return VoiceSettings(**values, provider_settings=provider_settings)


def _voice_flow_problems(flow: Mapping[str, Any] | None) -> list[str]:
    """A call reads out at most 8 digits (Ronglian's verifyCode: 4-8 characters)."""
    length = flow.get("code_length") if flow else None
    if length is not None and length > MAX_VOICE_CODE_LENGTH:
        problem = (
            f"SMS_CODE_LENGTH is {length}, but a voice call reads out at most {MAX_VOICE_CODE_LENGTH} digits: "
            f"lower it to {MAX_VOICE_CODE_LENGTH} or fewer, or leave SMS_VOICE_PROVIDERS empty"
        )
        return [problem]
    return []


def receipt_names(settings: VoiceSettings | None) -> tuple[str, ...]:
    """The receipt route names of the voice providers that document a push (``"aliyun-voice"``)."""
    if settings is None:
        return ()
    return tuple(vendor + RECEIPT_SUFFIX for vendor in settings.providers if voice_class(vendor).receipt_formats)


def vendor_of_receipt(name: str) -> str | None:
    """``"aliyun-voice"`` -> ``"aliyun"``; ``None`` for a text's receipt name."""
    if name.endswith(RECEIPT_SUFFIX) and name[: -len(RECEIPT_SUFFIX)] in VOICE_REGISTRY:
        return name[: -len(RECEIPT_SUFFIX)]
    return None


# -- the circuit breakers ------------------------------------------------------------------------
class ChannelBreakerState(BreakerState):
    """The breakers of one channel, in the shared breaker state: a call failing says nothing about texts.

    Names are kept as ``voice/aliyun`` (a ``/`` no provider name has), so one Redis hash
    holds both channels and neither sees the other's breakers.
    """

    def __init__(self, state: BreakerState, channel: str) -> None:
        self.state = state
        self.prefix = f"{channel}/"

    def snapshot(self) -> dict[str, OpenBreaker]:
        cut = len(self.prefix)
        return {name[cut:]: value for name, value in self.state.snapshot().items() if name.startswith(self.prefix)}

    def failure(
        self, name: str, now: float, window: float, threshold: int, cooldown: float, probe: bool
    ) -> tuple[str, OpenBreaker | None]:
        return self.state.failure(self.prefix + name, now, window, threshold, cooldown, probe)

    def claim_probe(self, name: str, ttl: float) -> bool:
        return self.state.claim_probe(self.prefix + name, ttl)

    def close(self, name: str) -> bool:
        return self.state.close(self.prefix + name)


# -- the flow's side ----------------------------------------------------------------------------
def voice_keys(keys: Keys) -> Keys:
    """A call's keys: the phone's one code and wrong-code count, and a cool-down and quotas of its own."""
    return Keys(keys.code, keys.fails, f"{keys.tag}:voice:cooldown", f"{keys.tag}:voice")


class TextLog:
    """When codes were texted to a phone and purpose, for ``SMS_VOICE_AFTER`` (kept only while voice is on).

    A few timestamps in the code storage, written after a text went out (never before: a
    text that failed must not open the way to a call). Two texts to one phone and purpose
    cannot race (the cool-down is between them), so a read and a write are enough. A
    storage fault here is logged and leaves the call not offered: it fails closed.
    """

    def __init__(self, cache: Any, keep: int, ttl: int) -> None:
        self.cache = cache
        self.keep = max(1, keep)
        self.ttl = ttl

    @staticmethod
    def _key(keys: Keys) -> str:
        return f"{keys.tag}:texted"

    def recent(self, keys: Keys, now: float) -> list[float]:
        """The times of the texts within the code's lifetime, oldest first."""
        stored = self.cache.get(self._key(keys))
        if not isinstance(stored, list):
            return []
        return [moment for moment in stored if isinstance(moment, (int, float)) and now - self.ttl < moment <= now]

    def texted(self, keys: Keys, now: float) -> int:
        """Note a text sent now; how many texts the phone got within the code's lifetime (0 if not recorded)."""
        try:
            times = [*self.recent(keys, now), now][-self.keep :]
            self.cache.set(self._key(keys), times, timeout=self.ttl + 5)
        except storage_errors() as exc:
            logger.warning("flask_sms could not note a text for SMS_VOICE_AFTER (no call offered yet): %s", exc)
            return 0
        return len(times)


@dataclass(frozen=True)
class VoiceRoute:
    """What the flow needs to send a code by voice."""

    sender: Sender
    settings: VoiceSettings
    texts: TextLog

    def check_offered(self, keys: Keys, now: float) -> None:
        """Refuse a call before ``SMS_VOICE_AFTER`` texts within the code's lifetime (403 ``forbidden``)."""
        if len(self.texts.recent(keys, now)) < self.settings.after:
            raise SendRefused(detail_for("voice_not_yet"))


def channel_problem(channel: object, voice: VoiceRoute | None) -> InvalidRequest | None:
    """Why a requested channel cannot be used (400 ``invalid_request``, field ``channel``), else ``None``."""
    if channel == SMS or (channel == VOICE and voice is not None):
        return None
    if channel == VOICE:
        return InvalidRequest(detail_for("voice_off"), field="channel")
    return InvalidRequest(detail_for("channel_invalid"), field="channel")
