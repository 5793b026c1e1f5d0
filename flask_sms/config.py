"""Read and check the ``SMS_*`` config once, at ``init_app``.

Defaults live here (core keys) and on each provider class (its own keys);
:func:`apply_defaults` is the one place that writes them into ``app.config``.
Values may come from ``app.config.from_prefixed_env()``: strings holding JSON
or comma lists are accepted for list and mapping keys, numbers for id keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from flask import Flask

from .captcha import CaptchaSettings
from .errors import ConfigError
from .providers import REGISTRY, provider_class
from .providers.base import template_problems

CORE_DEFAULTS: dict[str, Any] = {
    "SMS_TIMEOUT": 5,
    "SMS_DEFAULT_REGION": "CN",
    "SMS_MAX_CONCURRENCY": 8,
    # the verification flow
    "SMS_ENABLE_CAPTCHA": True,
    "SMS_URL_PREFIX": "",
    "SMS_DEFAULT_PURPOSE": "captcha",
    "SMS_CAPTCHA_PURPOSES": ["captcha"],
    "SMS_CODE_LENGTH": 6,
    "SMS_CODE_TTL": 300,
    "SMS_MAX_ATTEMPTS": 5,
    "SMS_RESEND_INTERVAL": 60,
    "SMS_PHONE_LIMITS": "5/hour;10/day",
    "SMS_IP_LIMITS": "20/hour",
    "SMS_GLOBAL_LIMITS": "1000/hour",
    "SMS_VERIFY_IP_LIMITS": "60/hour",
    "SMS_ALLOWED_REGIONS": ["CN"],
    "SMS_STORAGE_URL": "memory://",
    "SMS_LANGUAGE": None,
}
STORAGE_SCHEMES = ("memory://", "redis://", "rediss://", "redis+sentinel://", "redis+cluster://")


@dataclass(frozen=True)
class Settings:
    providers: tuple[str, ...]
    timeout: float
    default_region: str
    suppress_send: bool
    max_concurrency: int
    provider_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    captcha: CaptchaSettings | None = None
    storage_url: str = "memory://"
    url_prefix: str = ""


def apply_defaults(app: Flask) -> None:
    """Write every default into ``app.config`` with ``setdefault`` (Flask-Mail style)."""
    for key, value in CORE_DEFAULTS.items():
        app.config.setdefault(key, value)
    if app.debug or app.testing:
        app.config.setdefault("SMS_PROVIDERS", ["console"])
    app.config.setdefault("SMS_SUPPRESS_SEND", bool(app.testing))
    for name in REGISTRY:
        for suffix, value in provider_class(name).defaults.items():
            app.config.setdefault(f"SMS_{name.upper()}_{suffix}", value)


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                return value
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _as_mapping(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
    return value


def _as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        return value
    try:
        return kind(value)
    except (TypeError, ValueError):
        return value


def load_settings(app: Flask) -> Settings:
    """Validate the whole config and raise one :class:`ConfigError` listing every problem."""
    config = app.config
    problems: list[str] = []

    providers = _as_list(config.get("SMS_PROVIDERS"))
    if providers is None:
        problems.append(
            "SMS_PROVIDERS is required outside debug/testing, e.g. ['aliyun', 'tencent'] "
            f"(choices: {', '.join(REGISTRY)})"
        )
        providers = []
    elif not isinstance(providers, (list, tuple)) or not providers or not all(isinstance(p, str) for p in providers):
        problems.append(f"SMS_PROVIDERS must be a non-empty list of provider names (got {providers!r})")
        providers = []
    else:
        unknown = [p for p in providers if p not in REGISTRY]
        if unknown:
            problems.append(f"SMS_PROVIDERS has unknown providers {unknown}; choices: {', '.join(REGISTRY)}")
        if len(set(providers)) != len(providers):
            problems.append(f"SMS_PROVIDERS lists a provider twice: {providers}")
        providers = [p for p in dict.fromkeys(providers) if p in REGISTRY]

    timeout = _number(config.get("SMS_TIMEOUT"), float)
    if not isinstance(timeout, float) or not 0 < timeout <= 120:
        problems.append(f"SMS_TIMEOUT must be a number of seconds between 0 and 120 (got {timeout!r})")

    region = _as_text(config.get("SMS_DEFAULT_REGION"))
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        problems.append(f"SMS_DEFAULT_REGION must be a region code such as 'CN' (got {region!r})")
    else:
        region = region.upper()

    concurrency = _number(config.get("SMS_MAX_CONCURRENCY"), int)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= 256:
        problems.append(f"SMS_MAX_CONCURRENCY must be an integer from 1 to 256 (got {concurrency!r})")

    suppress = _as_bool(config.get("SMS_SUPPRESS_SEND"))
    if not isinstance(suppress, bool):
        problems.append(f"SMS_SUPPRESS_SEND must be true or false (got {suppress!r})")

    provider_settings: dict[str, dict[str, Any]] = {}
    for name in providers:
        cls = provider_class(name)
        prefix = f"SMS_{name.upper()}_"
        settings = {
            key[len(prefix) :]: config[key] for key in config if isinstance(key, str) and key.startswith(prefix)
        }
        for suffix, value in settings.items():
            settings[suffix] = _as_mapping(value) if suffix == "TEMPLATES" else _as_text(value)
        for suffix in cls.required:
            value = settings.get(suffix)
            if value is None or (isinstance(value, str) and not value):
                problems.append(f"{prefix}{suffix} is required for provider {name!r}")
            elif suffix != "TEMPLATES" and not isinstance(value, str):
                problems.append(f"{prefix}{suffix} must be a string (got {type(value).__name__})")
        if settings.get("TEMPLATES") is not None:
            problems.extend(template_problems(f"{prefix}TEMPLATES", settings["TEMPLATES"]))
        problems.extend(cls.setting_problems(settings))
        sdk_problem = cls.sdk_problem()
        if sdk_problem:
            problems.append(sdk_problem)
        provider_settings[name] = settings

    captcha, storage_url, url_prefix = None, "memory://", ""
    if _as_bool(config.get("SMS_ENABLE_CAPTCHA")) is not False:
        captcha, storage_url, url_prefix = _captcha_settings(config, region, provider_settings, problems)

    if problems:
        raise ConfigError(problems)
    return Settings(
        providers=tuple(providers),
        timeout=timeout,
        default_region=region,
        suppress_send=suppress,
        max_concurrency=concurrency,
        provider_settings=provider_settings,
        captcha=captcha,
        storage_url=storage_url,
        url_prefix=url_prefix,
    )


def _int_in(config: Mapping[str, Any], key: str, low: int, high: int, problems: list[str]) -> int:
    value = _number(config.get(key), int)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{key} must be an integer from {low} to {high} (got {config.get(key)!r})")
        return low
    return value


def _limits(config: Mapping[str, Any], key: str, problems: list[str]) -> tuple[Any, ...]:
    from limits import parse_many

    value = config.get(key)
    if value in (None, "", [], ()):
        return ()
    text = ";".join(value) if isinstance(value, (list, tuple)) else value
    try:
        return tuple(parse_many(str(text)))
    except ValueError:
        problems.append(f"{key} must be rate limits such as '5/hour;10/day' (got {value!r})")
        return ()


def _captcha_settings(
    config: Mapping[str, Any], region: Any, provider_settings: Mapping[str, Mapping[str, Any]], problems: list[str]
) -> tuple[CaptchaSettings, str, str]:
    if not config.get("SECRET_KEY"):
        problems.append("SECRET_KEY must be set: codes are stored as an HMAC keyed with it")
    purposes = _as_list(config.get("SMS_CAPTCHA_PURPOSES"))
    if not isinstance(purposes, (list, tuple)) or not purposes or not all(isinstance(p, str) and p for p in purposes):
        problems.append(f"SMS_CAPTCHA_PURPOSES must be a non-empty list of purposes (got {purposes!r})")
        purposes = []
    default_purpose = config.get("SMS_DEFAULT_PURPOSE")
    if purposes and default_purpose not in purposes:
        problems.append(f"SMS_DEFAULT_PURPOSE {default_purpose!r} must be one of SMS_CAPTCHA_PURPOSES {purposes}")
    for purpose in purposes:
        covered = any(
            not provider_class(name).needs_templates or purpose in (options.get("TEMPLATES") or {})
            for name, options in provider_settings.items()
        )
        if provider_settings and not covered:
            problems.append(f"captcha purpose {purpose!r} has no template in any provider's SMS_<PROVIDER>_TEMPLATES")

    regions = _as_list(config.get("SMS_ALLOWED_REGIONS"))
    allowed: frozenset[str] | None = None
    if regions == ["*"]:
        allowed = None
    elif not isinstance(regions, (list, tuple)) or not regions or not all(
        isinstance(r, str) and r.upper() in phonenumbers.SUPPORTED_REGIONS for r in regions
    ):
        problems.append(f"SMS_ALLOWED_REGIONS must be a list of region codes such as ['CN'], or ['*'] (got {regions!r})")
    else:
        allowed = frozenset(r.upper() for r in regions)

    storage_url = config.get("SMS_STORAGE_URL")
    if not isinstance(storage_url, str) or not storage_url.startswith(STORAGE_SCHEMES):
        problems.append(f"SMS_STORAGE_URL must start with one of {', '.join(STORAGE_SCHEMES)} (got {storage_url!r})")
        storage_url = "memory://"
    url_prefix = config.get("SMS_URL_PREFIX") or ""
    if not isinstance(url_prefix, str) or (url_prefix and not url_prefix.startswith("/")):
        problems.append(f"SMS_URL_PREFIX must be empty or start with '/' (got {url_prefix!r})")
        url_prefix = ""
    language = config.get("SMS_LANGUAGE")
    if language not in (None, "", "zh-CN", "en"):
        problems.append(f"SMS_LANGUAGE must be 'zh-CN', 'en' or unset to follow Accept-Language (got {language!r})")

    captcha = CaptchaSettings(
        default_purpose=default_purpose if isinstance(default_purpose, str) else "captcha",
        purposes=tuple(purposes),
        code_length=_int_in(config, "SMS_CODE_LENGTH", 4, 10, problems),
        code_ttl=_int_in(config, "SMS_CODE_TTL", 30, 600, problems),
        max_attempts=_int_in(config, "SMS_MAX_ATTEMPTS", 1, 100, problems),
        resend_interval=_int_in(config, "SMS_RESEND_INTERVAL", 1, 3600, problems),
        phone_limits=_limits(config, "SMS_PHONE_LIMITS", problems),
        ip_limits=_limits(config, "SMS_IP_LIMITS", problems),
        global_limits=_limits(config, "SMS_GLOBAL_LIMITS", problems),
        verify_ip_limits=_limits(config, "SMS_VERIFY_IP_LIMITS", problems),
        allowed_regions=allowed,
        default_region=region if isinstance(region, str) else "CN",
    )
    return captcha, storage_url, url_prefix.rstrip("/")
