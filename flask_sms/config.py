"""Every core ``SMS_*`` key, declared once, and the one pass that reads and checks them.

:data:`SEND_KEYS` and :data:`FLOW_KEYS` are the table: each key's default,
parser, bounds and error text (see :mod:`.options`). Provider keys are declared
the same way on each provider class. From the table come the defaults written
into ``app.config``, the :class:`Settings` and the :class:`CaptchaSettings`;
:func:`load_settings` reads everything once and raises one :class:`ConfigError`
that lists every problem.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from flask import Flask

from ._redact import url_without_password
from .backends import MEMORY_STORAGE, STORAGE_SCHEMES
from .challenge import MODES as CHALLENGE_MODES
from .challenge import ChallengeSettings, challenge_settings
from .challenge import sdk_problem as challenge_sdk_problem
from .channels import VoiceSettings, apply_voice_defaults, load_voice_settings
from .code_backends import LOCAL, BackendSettings, apply_backend_defaults, load_backend_settings
from .code_backends import chosen as chosen_backend
from .errors import ConfigError
from .guard import MODES as GUARD_MODES
from .messages import LANGUAGES
from .options import (
    REQUIRED,
    UNSET,
    BreakerPolicy,
    Invalid,
    Option,
    audience,
    boolean,
    choice,
    circuit_breaker,
    e164_numbers,
    integer,
    names,
    networks,
    number_types,
    origins,
    proxy,
    rate_limits,
    receipt_token,
    regex,
    region,
    regions_or_all,
    seconds,
    subdomain,
    url_path_prefix,
    url_with_scheme,
    weights,
)
from .providers import (
    REGISTRY,
    AnyProvider,
    ProviderLoadError,
    entry_problem,
    provider_class,
    provider_names,
    split_entry,
)
from .test_numbers import code_length_problems, test_numbers

DEFAULT_PURPOSE = "captcha"

#: account labels whose keys are a vendor's own: ``SMS_ALIYUN_VOICE_*`` configures its calls
RESERVED_LABELS = frozenset({"voice", "pnvs", "verify"})


@dataclass(frozen=True)
class AppDefault:
    """A default that depends on the app (``app.debug``, ``app.testing``)."""

    compute: Callable[[Flask], Any]
    #: the default, said for people (the docs' configuration page shows it)
    doc: str = ""


def _provider_names(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)) and not value:
        return ()  # no texts of your own: what a vendor-checked SMS_CODE_BACKEND allows (load_settings checks)
    try:
        chosen = names(value)
    except Invalid:
        raise Invalid("must be a non-empty list of provider names") from None
    available = provider_names()
    unknown = [name for name in chosen if split_entry(name)[0] not in available]
    problems = _provider_name_problems(chosen, unknown, available)
    if problems:
        raise Invalid(*problems, show_value=False, usable=_usable_entries(chosen, unknown))
    return chosen


def _provider_name_problems(chosen: tuple[str, ...], unknown: list[str], available: tuple[str, ...]) -> list[str]:
    """Every fault of an ``SMS_PROVIDERS`` list at once: unknown vendors, bad account labels, repeats."""
    problems = [f"has unknown providers {unknown}; choices: {', '.join(available)}"] if unknown else []
    labels = [problem for name in chosen if name not in unknown for problem in [entry_problem(name)] if problem]
    problems += [f"has an {problem}" for problem in labels]
    problems += _reserved_label_problems(chosen)
    if len(set(chosen)) != len(chosen):
        problems.append(f"lists a provider twice: {list(chosen)}")
    return problems


def _reserved_label_problems(chosen: tuple[str, ...]) -> list[str]:
    """``"aliyun:voice"`` would read ``SMS_ALIYUN_VOICE_*``, the keys of Aliyun's calls."""
    problems = []
    for name in chosen:
        vendor, label = split_entry(name)
        if label in RESERVED_LABELS:
            problems.append(
                f"has {name!r}, whose keys SMS_{vendor.upper()}_{label.upper()}_* are the vendor's {label} keys; "
                "choose another account label"
            )
    return problems


def _usable_entries(chosen: tuple[str, ...], unknown: list[str]) -> tuple[str, ...]:
    """The entries that can still be checked (once each) when the list as a whole is refused."""
    return tuple(name for name in dict.fromkeys(chosen) if name not in unknown and entry_problem(name) is None)


def _console_in_development(app: Flask) -> Any:
    if app.debug or app.testing:
        return ["console"]
    # a vendor-checked code needs no provider of yours (Aliyun's PNVS texts it)
    return [] if chosen_backend(app.config) != LOCAL else REQUIRED


def _inbox_in_debug(app: Flask) -> bool:
    """The dev inbox is on by default in debug mode when a ``console`` provider is in use."""
    return bool(app.debug) and any(split_entry(entry)[0] == "console" for entry in providers_in_use(app))


SEND_KEYS: tuple[Option, ...] = (
    Option(
        "SMS_PROVIDERS",
        AppDefault(
            _console_in_development,
            '`["console"]` when `app.debug` or `app.testing`; otherwise required (none with a vendor-checked `SMS_CODE_BACKEND`)',
        ),
        _provider_names,
        hint=f" outside debug/testing, e.g. ['aliyun', 'tencent'] (choices: {', '.join(REGISTRY)})",
        doc='provider names in failover order: `aliyun`, `tencent`, `ronglian`, `ihuyi`, `huawei`, `volcengine`, `baidu`, `qiniu`, `yunpian`, `netease`, `console`, your own (see Adding a vendor); `"name:label"` adds another account of a vendor (see below)',
    ),
    Option("SMS_TIMEOUT", 5, seconds(0, 120), doc="seconds for one vendor call (connect + read), applied to every SDK"),
    Option(
        "SMS_FAILOVER_ON_TIMEOUT",
        False,
        boolean,
        doc="also fail over when a vendor's answer never came (outcome `unknown`): a possible duplicate text rather than a possible loss (see Failover)",
    ),
    Option(
        "SMS_CIRCUIT_BREAKER",
        {"failures": 5, "window": 60, "cooldown": 30},
        circuit_breaker,
        none_is_value=True,
        doc="skip a provider for `cooldown` s after `failures` failed or unknown sends within `window` s; `None` turns it off",
    ),
    Option(
        "SMS_STRATEGY",
        "order",
        choice("order", "weighted", describe="'order' or 'weighted'"),
        doc='`"order"`: `SMS_PROVIDERS` order; `"weighted"`: each send draws its first provider by `SMS_WEIGHTS`, the rest follow in order',
    ),
    Option(
        "SMS_WEIGHTS", {}, weights, doc='provider entry → weight for `"weighted"`, e.g. `{"aliyun": 80, "tencent": 20}`'
    ),
    Option(
        "SMS_PROXY",
        UNSET,
        proxy,
        shown=url_without_password,
        doc="proxy URL (`http://`, `https://`, `socks5://`, `socks5h://`, with `user:password@` if needed) for every vendor call; `NO_PROXY` still applies, as in `requests`; `False`: none, whatever the environment says (see Running in production)",
    ),
    Option("SMS_DEFAULT_REGION", "CN", region, doc="region for numbers written without a country code"),
    Option(
        "SMS_SUPPRESS_SEND",
        AppDefault(lambda app: bool(app.testing), "`app.testing`"),
        boolean,
        doc="record instead of sending (see Testing your app)",
    ),
    Option("SMS_MAX_CONCURRENCY", 8, integer(1, 256), doc="chunks of a batch in flight at once"),
    Option(
        "SMS_IDEMPOTENCY_TTL",
        86400,
        integer(60, 30 * 86400),
        doc="seconds an idempotent send's `out_id` and result are kept (`send_sms(..., idempotent=True)`, the Celery task; see Celery), 60 to 30 days",
    ),
    Option(
        "SMS_METRICS",
        None,
        choice(None, True, False, describe="True, False, or unset: on when prometheus_client is installed"),
        doc="Prometheus metrics (see Metrics): `True` (a config problem without `prometheus_client`), `False`",
    ),
    Option(
        "SMS_ENABLE_CAPTCHA",
        True,
        boolean,
        doc="set `False` to use only `send_sms`: no routes, no storage, no `SECRET_KEY` needed",
    ),
    Option(
        "SMS_TEST_NUMBERS",
        {},
        test_numbers,
        doc='E.164 number → fixed code, e.g. `{"+8613800000000": "246810"}`: numbers no text or call ever reaches, whose fixed code verifies (see Test numbers); each code has `SMS_CODE_LENGTH` digits, at least 6',
    ),
    Option(
        "SMS_LANGUAGE",
        None,
        choice(
            None, "", *LANGUAGES, describe="'zh-CN', 'zh-TW' or 'en': the language when the request's has no catalogue"
        ),
        doc='`"zh-CN"`, `"zh-TW"` or `"en"`: the language of messages when the request\'s language has none (see Languages)',
    ),
)

FLOW_KEYS: tuple[Option, ...] = (
    Option(
        "SMS_REGISTER_ROUTES",
        True,
        boolean,
        doc="set `False` to keep `send_code`/`verify_code` (and the limits) without registering the two routes",
    ),
    Option("SMS_URL_PREFIX", "", url_path_prefix, doc='prefix for the blueprint\'s routes, e.g. `"/api"`'),
    Option(
        "SMS_SUBDOMAIN",
        UNSET,
        subdomain,
        doc='subdomain for the routes, e.g. `"api"` (Flask needs `SERVER_NAME` for subdomain routing)',
    ),
    Option("SMS_DEFAULT_PURPOSE", DEFAULT_PURPOSE, doc="purpose when a request gives none"),
    Option(
        "SMS_CAPTCHA_PURPOSES",
        [DEFAULT_PURPOSE],
        names,
        doc="purposes that may be sent through the routes; each needs a template taking `code` (and `minutes`)",
    ),
    Option("SMS_CODE_LENGTH", 6, integer(4, 10), doc="digits per code, 4 to 10"),
    Option(
        "SMS_CODE_TTL",
        300,
        integer(30, 600),
        doc="seconds a code lives, 30 to 600; the template's `minutes` is this in whole minutes",
    ),
    Option(
        "SMS_TOKEN_TTL",
        600,
        integer(30, 86400),
        doc="seconds the verify route's `token` can be redeemed (`sms.redeem_token`), 30 to 86400",
    ),
    Option(
        "SMS_TOKEN_AUDIENCE",
        AppDefault(lambda app: app.import_name, "the app's import name (`app.import_name`)"),
        audience,
        doc='who the verification tokens are for: signed into each token, and `sms.redeem_token` refuses a token minted for any other audience, even with the same `SECRET_KEY`. Give staging its own (`"shop-staging"`), or a token minted there redeems in production; give two apps one audience only when they are one service on one storage (a token then redeems once across both)',
    ),
    Option(
        "SMS_MAX_ATTEMPTS",
        5,
        integer(1, 100),
        doc="wrong codes that kill the live code; a new code (a successful send) gets a fresh budget (see Codes)",
    ),
    Option(
        "SMS_RESEND_INTERVAL",
        60,
        integer(1, 3600),
        doc="seconds between two codes to one phone and purpose (a true cool-down)",
    ),
    Option("SMS_PHONE_LIMITS", "5/hour;10/day", rate_limits, doc="successful sends per phone and purpose"),
    Option("SMS_IP_LIMITS", "20/hour", rate_limits, doc="send attempts per client IP (failed vendor calls count)"),
    Option(
        "SMS_GLOBAL_LIMITS",
        "1000/hour",
        rate_limits,
        doc="codes handed to a vendor across the whole app, a ceiling against SMS pumping",
    ),
    Option("SMS_VERIFY_IP_LIMITS", "60/hour", rate_limits, doc="verify requests per client IP"),
    Option(
        "SMS_IPV6_PREFIX",
        64,
        integer(16, 128),
        doc="the per-IP limits count an IPv6 client by its network of this many bits (16 to 128): one subscriber gets a whole /64",
    ),
    Option(
        "SMS_ALLOWED_ORIGINS",
        [],
        origins,
        doc='web origins, besides the app\'s own, whose browser requests the routes accept, e.g. `["https://m.example.com"]` (scheme and host); `["*"]` turns the cross-site refusal off',
    ),
    Option(
        "SMS_ALLOWED_REGIONS",
        ["CN"],
        regions_or_all,
        doc='regions whose numbers may receive codes; `["*"]` for all (regions outside mainland China need a provider that can text them: a config problem otherwise, see `SMS_<NAME>_INTL_TEMPLATES`)',
    ),
    Option(
        "SMS_ALLOWED_NUMBER_TYPES",
        ["mobile"],
        number_types,
        doc='[phonenumbers\' number types](https://github.com/daviddrysdale/python-phonenumbers/blob/dev/python/phonenumbers/phonenumberutil.py) that may receive codes, lower-case: `mobile`, `fixed_line`, `toll_free`, `premium_rate`, `shared_cost`, `voip`, `personal_number`, `pager`, `uan`, `voicemail`; `fixed_line_or_mobile` (US and Canadian numbers) counts as mobile; `["*"]` for all',
    ),
    Option(
        "SMS_DEV_INBOX",
        AppDefault(_inbox_in_debug, "on in debug mode with a `console` provider"),
        boolean,
        doc="serve the dev inbox, `GET {SMS_URL_PREFIX}/sms_dev/inbox`: the last 50 texts and calls of the `console` provider, codes included (see The dev inbox); on outside debug and testing it is a config problem",
    ),
    # Flask-Security-Too's codes (flask_sms.contrib.flask_security): the purpose they are sent under, and how
    # the code is found in the message it hands over
    Option(
        "SMS_SECURITY_PURPOSE",
        "login",
        doc='the purpose Flask-Security-Too\'s codes are sent under (`SECURITY_SMS_SERVICE = "flask_sms"`); it needs a template taking `code`, not a place in `SMS_CAPTCHA_PURPOSES`',
    ),
    Option(
        "SMS_SECURITY_CODE_PATTERN",
        r"\d{4,10}",
        regex,
        doc="a regular expression that finds the code in Flask-Security-Too's message (its first match is sent as the template's `code`)",
    ),
    Option(
        "SMS_STORAGE_URL",
        MEMORY_STORAGE,
        url_with_scheme(*STORAGE_SCHEMES, describe=f"start with one of {', '.join(STORAGE_SCHEMES)}"),
        shown=url_without_password,
        doc="codes (Flask-Caching) and limits (Flask-Limiter) storage: `memory://`, `redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://`",
    ),
    Option(
        "SMS_FRAUD_GUARD",
        "standard",
        choice(*GUARD_MODES, None, describe="'standard', 'strict', 'monitor' or None (off)"),
        none_is_value=True,
        doc='the fraud guard: `"standard"`, `"strict"` (climbs on less evidence), `"monitor"` (judges, signals and logs, never refuses) or `None` (off); see Abuse defence',
    ),
    Option(
        "SMS_SAFE_NUMBERS",
        [],
        e164_numbers,
        doc="E.164 numbers the guard never challenges, blocks or counts (your staff's, your monitoring's), e.g. `[\"+8613800138000\"]`",
    ),
    Option(
        "SMS_CHALLENGE",
        UNSET,
        challenge_settings,
        secret=True,
        doc='the human check the guard asks for: `{"provider": "tencent" \\| "aliyun" \\| "geetest" \\| "turnstile", ...its keys, "endpoint": optional}` (see Human checks); or your own with `@sms.challenge_verifier`',
    ),
    Option(
        "SMS_CHALLENGE_MODE",
        "adaptive",
        choice(*CHALLENGE_MODES, describe="'adaptive' or 'always'"),
        doc='`"adaptive"`: a human check only when the guard asks for one (`428 challenge_required`); `"always"`: every send needs one',
    ),
)

#: delivery receipts: on when ``SMS_RECEIPT_TOKEN`` is set
RECEIPT_KEYS: tuple[Option, ...] = (
    Option(
        "SMS_RECEIPT_TOKEN",
        UNSET,
        receipt_token,
        secret=True,
        doc="turns receipts on: registers the receipt route, which refuses any push without it (`?token=`, or as the last path segment), and makes each send record its message ids. At least 16 URL-safe characters: `python -c 'import secrets; print(secrets.token_urlsafe(24))'`. Masked in every log",
    ),
    Option(
        "SMS_RECEIPT_ALLOWED_IPS",
        [],
        networks,
        doc='source networks allowed to push, e.g. `["203.0.113.0/24", "2001:db8::/32"]`; checked before the token',
    ),
    Option(
        "SMS_RECEIPT_MAX_BYTES",
        1024 * 1024,
        integer(1024, 64 * 1024 * 1024),
        doc="the largest push body read; a bigger one gets `413` before anything parses it",
    ),
    Option(
        "SMS_RECEIPT_TTL",
        3 * 86400,
        integer(60, 90 * 86400),
        doc="seconds the de-duplication marks, the message-id map and the latest status are kept",
    ),
    Option(
        "SMS_RECEIPT_LIMITS",
        "6000/minute",
        rate_limits,
        doc="pushes read per window, all vendors together (the `SMS_IP_LIMITS` syntax); past it `429` with `Retry-After`, and the vendor retries",
    ),
    Option(
        "SMS_RECEIPT_MAX_STORED_BYTES",
        256 * 1024 * 1024,
        integer(1024 * 1024, 1 << 40),
        doc="the most the receipts may store (what each report stores is counted as it is stored, in windows of `SMS_RECEIPT_TTL`, since it all expires within one): once it is reached pushes get `503` and store nothing (the pushes in flight may pass it by what they store), so forged pushes that carry a leaked token cannot fill the storage and crowd out codes and limits",
    ),
)


def _field(key: str) -> str:
    """``SMS_CODE_TTL`` -> ``code_ttl``: the settings attribute a key fills."""
    return key[len("SMS_") :].lower()


@dataclass(frozen=True)
class CaptchaSettings:
    """The verification flow's keys (:data:`FLOW_KEYS`), parsed."""

    register_routes: bool
    url_prefix: str
    subdomain: str | None
    default_purpose: str
    captcha_purposes: tuple[str, ...]
    code_length: int
    code_ttl: int
    token_ttl: int
    token_audience: str
    max_attempts: int
    resend_interval: int
    phone_limits: tuple[Any, ...]
    ip_limits: tuple[Any, ...]
    global_limits: tuple[Any, ...]
    verify_ip_limits: tuple[Any, ...]
    ipv6_prefix: int
    allowed_origins: frozenset[str] | None  # None: every origin
    allowed_regions: frozenset[str] | None  # None: every region
    allowed_number_types: frozenset[int] | None  # phonenumbers.PhoneNumberType values; None: every type
    dev_inbox: bool
    security_purpose: str
    security_code_pattern: re.Pattern[str]
    storage_url: str
    fraud_guard: str | None  # None: off
    safe_numbers: frozenset[str]
    challenge: ChallengeSettings | None
    challenge_mode: str
    default_region: str  # shared with sending
    #: ``SMS_TEST_NUMBERS`` (shared with sending): E.164 -> the fixed code
    test_numbers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceiptSettings:
    """The delivery-receipt keys (:data:`RECEIPT_KEYS`), parsed; present when ``SMS_RECEIPT_TOKEN`` is set."""

    receipt_token: str
    receipt_allowed_ips: tuple[Any, ...]  # ipaddress networks; empty: any source
    receipt_max_bytes: int
    receipt_ttl: int
    receipt_limits: tuple[Any, ...]  # ``limits`` rate-limit items: pushes read per window
    receipt_max_stored_bytes: int
    storage_url: str  # the flow's SMS_STORAGE_URL (read for receipts alone when the flow is off)


@dataclass(frozen=True)
class Settings:
    """The sending keys (:data:`SEND_KEYS`), parsed, with each provider's own and the flow's."""

    providers: tuple[str, ...]
    timeout: float
    failover_on_timeout: bool
    circuit_breaker: BreakerPolicy | None
    strategy: str
    weights: Mapping[str, int]
    proxy: str | bool | None
    default_region: str
    suppress_send: bool
    max_concurrency: int
    idempotency_ttl: int
    metrics: bool | None
    enable_captcha: bool
    test_numbers: Mapping[str, str]
    language: str | None
    provider_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    captcha: CaptchaSettings | None = None
    receipts: ReceiptSettings | None = None
    #: the voice channel (``SMS_VOICE_*``); ``None`` when ``SMS_VOICE_PROVIDERS`` is empty
    voice: VoiceSettings | None = None
    #: a vendor-checked code (``SMS_CODE_BACKEND``); ``None`` for ``"local"``
    code_backend: BackendSettings | None = None

    @property
    def storage_url(self) -> str:
        if self.captcha:
            return self.captcha.storage_url
        return self.receipts.storage_url if self.receipts else MEMORY_STORAGE

    @property
    def url_prefix(self) -> str:
        return self.captcha.url_prefix if self.captcha else ""


def _default(option: Option, app: Flask) -> Any:
    return option.default.compute(app) if isinstance(option.default, AppDefault) else option.default


def providers_in_use(app: Flask) -> tuple[str, ...]:
    """The known provider names ``SMS_PROVIDERS`` lists (none when it is missing or unreadable)."""
    value = app.config.get("SMS_PROVIDERS")
    if value is None:
        value = _default(SEND_KEYS[0], app)
    try:
        return tuple(dict.fromkeys(_provider_names(value)))
    except Invalid as exc:
        return tuple(exc.usable or ())


def apply_defaults(app: Flask) -> None:
    """Write the defaults into ``app.config`` with ``setdefault`` (Flask-Mail style).

    Only the providers ``SMS_PROVIDERS`` names get their keys: an app using Tencent
    does not find ``SMS_ALIYUN_*`` keys it never set in its config.
    """
    for option in SEND_KEYS + FLOW_KEYS + RECEIPT_KEYS:
        value = _default(option, app)
        if value is not REQUIRED and value is not UNSET:
            app.config.setdefault(option.name, value)
    for vendor in dict.fromkeys(split_entry(entry)[0] for entry in providers_in_use(app)):
        try:
            defaults = provider_class(vendor).defaults()
        except ProviderLoadError:
            continue  # load_settings reports it
        # an account ("aliyun:backup") falls back to the vendor's keys, so only those get defaults
        for suffix, value in defaults.items():
            app.config.setdefault(f"SMS_{vendor.upper()}_{suffix}", value)
    apply_voice_defaults(app)
    apply_backend_defaults(app)


@dataclass(frozen=True)
class Registration:
    """Where the routes go; read on its own so the routes exist (answering 503) even when other keys are wrong."""

    routes: bool
    url_prefix: str
    subdomain: str | None
    receipts: bool = False


def registration(app: Flask) -> Registration:
    """The routing keys, each falling back to its default when unreadable (``load_settings`` reports it)."""
    values: dict[str, Any] = {}
    routing = ("SMS_ENABLE_CAPTCHA", "SMS_REGISTER_ROUTES", "SMS_URL_PREFIX", "SMS_SUBDOMAIN")
    for option in (option for option in SEND_KEYS + FLOW_KEYS if option.name in routing):
        value, problems = option.problems(option.name, app.config.get(option.name))
        if problems:
            value, _ = option.problems(option.name, None)
        values[_field(option.name)] = value
    routes = values["enable_captcha"] is not False and values["register_routes"] is not False
    receipts = bool(app.config.get("SMS_RECEIPT_TOKEN"))
    return Registration(routes, values["url_prefix"] or "", values["subdomain"] or None, receipts)


def _read(options: tuple[Option, ...], app: Flask, problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for option in options:
        if isinstance(option.default, AppDefault):
            option = replace(option, default=_default(option, app))
        raw = app.config.get(option.name)
        if raw is None and option.none_is_value and option.name in app.config:
            values[_field(option.name)] = None
            continue
        value, found = option.problems(option.name, raw)
        problems.extend(found)
        values[_field(option.name)] = value
    return values


def _account_key(entry: str, suffix: str, config: Mapping[str, Any]) -> tuple[str, Any]:
    """Where an entry's key is read: ``SMS_ALIYUN_BACKUP_<suffix>``, else ``SMS_ALIYUN_<suffix>``.

    Returns the key to name in problems and its value (``None`` when neither is set).
    """
    vendor, label = split_entry(entry)
    shared = f"SMS_{vendor.upper()}_{suffix}"
    if label is None:
        return shared, config.get(shared)
    own = f"SMS_{vendor.upper()}_{label.upper()}_{suffix}"
    if config.get(own) is not None:
        return own, config[own]
    if config.get(shared) is not None:
        return shared, config[shared]
    return f"{own} (or {shared})", None


def _provider_settings(
    name: str, cls: type[AnyProvider], config: Mapping[str, Any], problems: list[str]
) -> dict[str, Any]:
    problems += _label_clashes(name, cls)
    settings = {}
    for option in cls.options + cls.common_options:
        key, raw = _account_key(name, option.name, config)
        value, found = option.problems(key, raw)
        problems.extend(found)
        settings[option.name] = value
    problems += _sign_problems(name, cls, settings.get("TEMPLATES"), config)
    sdk_problem = cls.sdk_problem(settings)
    if sdk_problem:
        problems.append(sdk_problem)
    return settings


def _label_clashes(name: str, cls: type[AnyProvider]) -> list[str]:
    """An account label that makes one of its keys read like another key of the vendor's own."""
    vendor, label = split_entry(name)
    if label is None:
        return []
    suffixes = {option.name for option in cls.options}
    clashes = [s for s in suffixes if f"{label.upper()}_{s}" in suffixes]
    if not clashes:
        return []
    key = f"SMS_{vendor.upper()}_{label.upper()}_{clashes[0]}"
    return [f"SMS_PROVIDERS entry {name!r}: {key} would read like {vendor}'s own key; choose another account label"]


def _sign_problems(name: str, cls: type[AnyProvider], templates: Any, config: Mapping[str, Any]) -> list[str]:
    """Templates that name a sign for a vendor that takes none per request (it would be silently dropped)."""
    if cls.takes_sign or not isinstance(templates, Mapping):
        return []
    vendor, _ = split_entry(name)
    key, _ = _account_key(name, "TEMPLATES", config)
    return [
        f"{key}[{purpose!r}] has a 'sign', but {vendor} takes no sign name per request"
        for purpose, template in templates.items()
        if getattr(template, "sign", None)
    ]


def _flow_problems(
    flow: Mapping[str, Any], config: Mapping[str, Any], provider_settings: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The checks that span keys: they run only on values that parsed."""
    return (
        _secret_key_problems(config)
        + _default_purpose_problems(flow["captcha_purposes"], flow["default_purpose"])
        + _coverage_problems(flow, config, provider_settings)
        + _dev_inbox_problems(flow["dev_inbox"], config)
        + [problem for problem in [challenge_sdk_problem(flow["challenge"])] if problem]
    )


def _coverage_problems(
    flow: Mapping[str, Any], config: Mapping[str, Any], provider_settings: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Each purpose needs a provider with its template, unless the vendor texts the codes (SMS_CODE_BACKEND)."""
    purposes = flow["captcha_purposes"] or ()
    if chosen_backend(config) != LOCAL:
        return []  # the vendor's own sign and template; code_backends checks what it cannot do
    return [
        f"captcha purpose {purpose!r} has no template in any provider's SMS_<PROVIDER>_TEMPLATES"
        for purpose in _uncovered(purposes, provider_settings)
    ] + _international_problems(flow["allowed_regions"], purposes, provider_settings)


def _dev_inbox_problems(dev_inbox: Any, config: Mapping[str, Any]) -> list[str]:
    """The dev inbox shows codes on a web page: never outside debug and testing."""
    if not dev_inbox or config.get("DEBUG") or config.get("TESTING"):
        return []
    problem = (
        "SMS_DEV_INBOX is on outside debug and testing: it would show every code the console provider "
        "sends on a web page (GET /sms_dev/inbox). Turn it off, or run in debug mode"
    )
    return [problem]


def _secret_key_problems(config: Mapping[str, Any]) -> list[str]:
    """``SECRET_KEY`` keys the code HMACs: it must be set, and outside debug and testing not guessable."""
    if not config.get("SECRET_KEY"):
        return ["SECRET_KEY must be set: codes are stored as an HMAC keyed with it"]
    if config.get("DEBUG") or config.get("TESTING"):
        return []
    weakness = secret_key_weakness(config["SECRET_KEY"])
    if not weakness:
        return []
    problem = (
        f"SECRET_KEY is {weakness}: codes are stored as an HMAC keyed with it, and with a guessable key "
        "anyone who can read the storage recovers live codes. Generate one with "
        "python -c 'import secrets; print(secrets.token_hex(32))' (allowed in debug and testing only)"
    )
    return [problem]


def _default_purpose_problems(purposes: Any, default: Any) -> list[str]:
    """The default purpose must be one the captcha endpoints accept, or a bare request is always refused."""
    if purposes and default is not None and default not in purposes:
        return [f"SMS_DEFAULT_PURPOSE {default!r} must be one of SMS_CAPTCHA_PURPOSES {list(purposes)}"]
    return []


def _international_problems(
    regions: Any, purposes: Any, provider_settings: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """When numbers abroad may ask for a code, each purpose needs a provider with an international template."""
    if regions is not None and not regions - {"CN"}:
        return []
    return [
        f"SMS_ALLOWED_REGIONS lets numbers outside mainland China ask for a code, but no provider can text "
        f"them for captcha purpose {purpose!r}: add it to SMS_<PROVIDER>_INTL_TEMPLATES (Aliyun, Tencent, "
        "Huawei, Volcengine, Qiniu and Yunpian need international templates of their own)"
        for purpose in _uncovered(purposes, provider_settings, international=True)
    ]


def _metrics_problems(wanted: Any) -> list[str]:
    if wanted is True and importlib.util.find_spec("prometheus_client") is None:
        return ['SMS_METRICS is True but prometheus_client is not installed: pip install "Flask-SMS-Captcha[metrics]"']
    return []


def _no_provider_problems(sending: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """An empty ``SMS_PROVIDERS`` is for a vendor-checked ``SMS_CODE_BACKEND`` only (the vendor texts the codes)."""
    vendor_checked = chosen_backend(config) != LOCAL and sending["enable_captcha"] is not False
    if sending["providers"] == () and not vendor_checked:
        return ["SMS_PROVIDERS is empty: name a provider (only a vendor-checked SMS_CODE_BACKEND needs none)"]
    return []


def _strategy_problems(sending: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """``SMS_WEIGHTS`` names only listed providers, and ``weighted`` has a weight to draw by; and there is a
    provider, unless a vendor-checked ``SMS_CODE_BACKEND`` texts the codes."""
    listed, chosen = sending["providers"] or (), sending["weights"] or {}
    problems = _no_provider_problems(sending, config)
    problems += [
        f"SMS_WEIGHTS names {name!r}, which is not in SMS_PROVIDERS {list(listed)}"
        for name in chosen
        if listed and name not in listed
    ]
    if sending["strategy"] == "weighted" and not any(weight > 0 for weight in chosen.values()):
        problems.append("SMS_STRATEGY 'weighted' needs SMS_WEIGHTS with a weight above 0, e.g. {'aliyun': 80}")
    return problems


MIN_SECRET_KEY_BYTES = 16

# Keys copied from docs, tutorials and templates, compared without case, spaces or punctuation.
_PLACEHOLDER_KEYS = frozenset(
    {
        "changeme",
        "changethis",
        "changethiskey",
        "changemeinproduction",
        "pleasechangeme",
        "replaceme",
        "secret",
        "secretkey",
        "secretkeyhere",
        "mysecret",
        "mysecretkey",
        "yoursecretkey",
        "yoursecretkeyhere",
        "yoursecretkeygoeshere",
        "supersecret",
        "supersecretkey",
        "topsecret",
        "thisisasecret",
        "thisisasecretkey",
        "keepitsecret",
        "keepitsecretkeepitsafe",
        "flasksecretkey",
        "dev",
        "devkey",
        "devsecretkey",
        "development",
        "developmentkey",
        "test",
        "testing",
        "default",
        "password",
        "insecure",
        "notsecret",
        "youwillneverguess",  # the Flask Mega-Tutorial
        "hardtoguessstring",  # Flask Web Development
    }
)
_FLASK_DOCS_KEY = b'_5#y2L"F4Q8z\n\xec]/'  # the example in Flask's own quickstart


def secret_key_weakness(secret: Any) -> str | None:
    """Why ``secret`` is too weak to key the code HMACs, or ``None``; never says the key itself."""
    raw = secret if isinstance(secret, bytes) else str(secret).encode()
    if len(raw) < MIN_SECRET_KEY_BYTES:
        return f"shorter than {MIN_SECRET_KEY_BYTES} bytes"
    folded = "".join(ch for ch in raw.decode("utf-8", "replace").lower() if ch.isalnum())
    if folded in _PLACEHOLDER_KEYS or raw == _FLASK_DOCS_KEY or len(set(raw)) <= 2:
        return "a well-known placeholder"
    return None


def _uncovered(
    purposes: tuple[str, ...], provider_settings: Mapping[str, Mapping[str, Any]], international: bool = False
) -> list[str]:
    """Purposes no provider can send (to numbers abroad, with ``international``); judged only when
    every provider's templates parsed."""
    templates: list[Mapping[str, Any] | None] = [
        _EVERY_PURPOSE
        if not provider_class(name).needs_templates
        else _templates_for(provider_class(name), settings, international)
        for name, settings in provider_settings.items()
    ]
    if not templates or any(known is None for known in templates):
        return []
    return [purpose for purpose in purposes if not any(purpose in known for known in templates if known is not None)]


def _templates_for(
    cls: type[AnyProvider], settings: Mapping[str, Any], international: bool
) -> Mapping[str, Any] | None:
    """The templates a provider uses for mainland numbers, or for numbers abroad (see ``Provider.template_for``);
    ``None`` when they did not parse."""
    if international and settings.get("INTL_TEMPLATES") is not None:
        intl: Mapping[str, Any] = settings["INTL_TEMPLATES"]
        return intl
    if international and cls.separate_intl_templates:
        return {}
    mainland: Mapping[str, Any] | None = settings.get("TEMPLATES")
    return mainland


class _EveryPurpose(dict[str, Any]):
    """The templates of a provider that can send any purpose (``console``)."""

    def __contains__(self, purpose: object) -> bool:
        return True


_EVERY_PURPOSE = _EveryPurpose()


def load_settings(app: Flask) -> Settings:
    """Validate the whole config and raise one :class:`ConfigError` listing every problem."""
    config = app.config
    problems: list[str] = []
    sending = _read(SEND_KEYS, app, problems)
    provider_settings = {}
    for name in sending["providers"] or ():
        try:
            cls = provider_class(name)
        except ProviderLoadError as exc:
            problems.append(f"SMS_PROVIDERS: {exc}")
            continue
        provider_settings[name] = _provider_settings(name, cls, config, problems)
        provider_settings[name]["PROXY"] = sending["proxy"]
    problems.extend(_strategy_problems(sending, config) + _metrics_problems(sending["metrics"]))
    captcha = None
    flow: dict[str, Any] | None = None
    if sending["enable_captcha"] is not False:
        flow = _read(FLOW_KEYS, app, problems)
        problems.extend(_flow_problems(flow, config, provider_settings))
        if flow["code_length"] is not None:
            problems.extend(code_length_problems(sending["test_numbers"] or {}, flow["code_length"]))
        if not problems:
            captcha = CaptchaSettings(
                default_region=sending["default_region"], test_numbers=sending["test_numbers"], **flow
            )
    receipts = _receipt_settings(app, None if flow is None else flow["storage_url"], problems)
    voice = load_voice_settings(config, flow, sending["proxy"], problems)
    backend = load_backend_settings(config, flow, sending, problems)
    if problems:
        raise ConfigError(problems)
    return Settings(
        **sending,
        provider_settings=provider_settings,
        captcha=captcha,
        receipts=receipts,
        voice=voice,
        code_backend=backend,
    )


def _receipt_settings(app: Flask, flow_storage_url: str | None, problems: list[str]) -> ReceiptSettings | None:
    values = _read(RECEIPT_KEYS, app, problems)
    if not values["receipt_token"]:
        return None
    storage_url = flow_storage_url
    if storage_url is None:  # the flow is off: receipts still need the shared storage for de-duplication and status
        (storage,) = (option for option in FLOW_KEYS if option.name == "SMS_STORAGE_URL")
        storage_url = _read((storage,), app, problems)["storage_url"]
    return ReceiptSettings(storage_url=storage_url, **values)


assert {_field(o.name) for o in FLOW_KEYS} | {"default_region", "test_numbers"} == {
    f.name for f in fields(CaptchaSettings)
}
assert {_field(o.name) for o in SEND_KEYS} | {"provider_settings", "captcha", "receipts", "voice", "code_backend"} == {
    f.name for f in fields(Settings)
}
assert {_field(o.name) for o in RECEIPT_KEYS} | {"storage_url"} == {f.name for f in fields(ReceiptSettings)}
