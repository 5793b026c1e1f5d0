"""What one app's flask_sms is made of (:class:`AppState`), and how it is made.

``SmsExtension.init_app`` reads the settings, masks their secrets (:func:`mask_secrets`),
opens the storage (:func:`open_storage`: the Flask-Caching cache and the limits' storage,
registered with the app), then calls :func:`build_state`, the one function that builds every
per-app object: providers, senders, breakers, the receipt book, the ledger, the fraud guard,
the flow and the receipts. It only calls constructors, each object gets everything it needs
there, and nothing is set on an object after it is built. The pieces that need "now" are
built with the extension's :class:`~flask_sms.clock.Clock`, so ``sms.clock = ...`` reaches
all of them without touching any.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask

from . import _redact, backends, channels, code_backends
from .breaker import Breaker
from .challenge import ChallengeVerifier, VerifierChain, build_verifier, mask_credentials
from .clock import Clock
from .config import Settings
from .errors import ConfigError
from .flow import BeforeSendHook, CodeFlow
from .guard import FraudGuard
from .guard_books import books_for
from .idempotency import Ledger, ledger_for
from .memory import MemoryCache
from .providers import AnyProvider, provider_class
from .providers.base import ENTRY
from .ratelimits import RateLimits
from .receipt_book import ReceiptBook
from .receipts import Receipts
from .sender import Sender
from .storage import BreakerState, Storage, breaker_state_for, store_for


@dataclass(frozen=True)
class AppState:
    """Everything built once per app: its settings, its senders, its flow and its receipts.

    When the ``SMS_*`` config has problems, ``error`` holds them and nothing else is
    built: the app and its other commands keep working, and each use of flask_sms
    raises the error (the routes answer 503), as does ``flask sms check``.
    """

    settings: Settings | None
    sender: Sender | None = None
    #: the voice channel's sender (``SMS_VOICE_PROVIDERS``); ``None`` when voice is off
    voice: Sender | None = None
    #: ``sms.codes``; ``None`` when ``SMS_ENABLE_CAPTCHA`` is false
    codes: CodeFlow | None = None
    #: ``sms.receipts``; ``None`` when neither the flow nor receipts keep a storage
    receipts: Receipts | None = None
    #: where codes and limits really live (the startup log line, ``flask sms check``)
    storage: str = ""
    #: said once per process, on the first use of the flow (not at startup: CLI commands stay quiet)
    notes: tuple[str, ...] = ()
    #: said once per process, on the first use of the receipts
    receipt_notes: tuple[str, ...] = ()
    error: ConfigError | None = None


@dataclass(frozen=True)
class OpenedStorage:
    """An app's storage, opened before anything is built on it."""

    #: codes, receipts, breakers and idempotent sends; ``None`` when the flow and receipts are off
    storage: Storage | None
    #: the flow's IP, app-wide and verify limits; ``None`` when the flow is off
    limits: RateLimits | None
    #: the ``memory://`` backend built from ``SMS_STORAGE_URL``: the fraud guard keeps its books in a part of it
    memory: MemoryCache | None
    description: str
    notes: tuple[str, ...] = ()
    receipt_notes: tuple[str, ...] = ()


# -- before the build: what is said and registered outside the objects ---------------------------------
def _accounts(settings: Settings) -> Iterator[tuple[str, type[AnyProvider], Mapping[str, Any], str]]:
    """Every vendor account the app talks to: (entry, class, parsed settings, what it is)."""
    for name in settings.providers:
        yield name, provider_class(name), settings.provider_settings[name], "provider"
    if settings.voice is not None:
        for vendor in settings.voice.providers:
            yield vendor, channels.voice_class(vendor), settings.voice.provider_settings[vendor], "voice provider"
    chosen = settings.code_backend
    if chosen is not None:
        cls = code_backends.backend_class(chosen.name)
        yield cls.name, cls, chosen.settings, "code backend"


def mask_secrets(settings: Settings) -> None:
    """Mask every credential, token and storage password in the logs, and guard the vendors' SDK loggers."""
    _redact.guard_loggers("flask_sms")
    for _, cls, options, _ in _accounts(settings):
        _redact.register(*(options.get(key) for key in cls.credentials()))
        _redact.guard_loggers(*cls.sdk_loggers, sdk=True)
    if settings.receipts is not None:
        # the token travels in the push URL's query string: mask it in the dev server's access log too
        _redact.register(settings.receipts.receipt_token)
        _redact.guard_loggers("werkzeug")
    if settings.captcha is not None and settings.captcha.challenge is not None:
        mask_credentials(settings.captcha.challenge)


def open_storage(app: Flask, settings: Settings, *, cache: Any, limiter: Any, clock: Clock) -> OpenedStorage:
    """The app's storage: the ``cache=`` passed in or one for ``SMS_STORAGE_URL`` (registered with the app), the
    redis-py client the scripts run on, and the flow's limits (the ``limiter=``'s storage, or the URL's)."""
    if settings.captcha is None and settings.receipts is None:
        return OpenedStorage(None, None, None, "off (SMS_ENABLE_CAPTCHA is false)")
    url, timeout = settings.storage_url, settings.timeout
    _redact.register_url_password(url)
    _redact.guard_loggers("redis", "redis.connection", "flask_limiter", "limits")
    storage = _open_cache(app, url, timeout, cache, clock)
    memory = storage.cache if isinstance(storage.cache, MemoryCache) and cache is None else None
    per_process = url.startswith(backends.MEMORY_STORAGE) and cache is None
    receipt_notes = _receipt_notes(app) if per_process and settings.receipts is not None else ()
    if settings.captcha is None:
        where = f"receipts in {_redact.url_without_password(url)} (SMS_ENABLE_CAPTCHA is false)"
        return OpenedStorage(storage, None, memory, where, receipt_notes=receipt_notes)
    if limiter is not None:
        limits = backends.adopt_limiter(app, limiter, url, timeout)
    else:
        limits = backends.own_limits(url, timeout)
    notes = backends.per_process_warnings(app, url, own_cache=cache is None, own_limits=limiter is None)
    where = _describe(url, storage, limits, cache=cache is not None, limiter=limiter is not None)
    return OpenedStorage(storage, limits, memory, where, notes, receipt_notes)


def _open_cache(app: Flask, url: str, timeout: float, cache: Any, clock: Clock) -> Storage:
    """The cachelib backend codes and receipts are kept in, and the Redis client their scripts run on.

    With flask_sms's own cache the client is built from ``SMS_STORAGE_URL``. A Redis ``cache=`` passed in is
    used through Flask-Caching's public API, which hands out no connection: the scripts run on a client built
    from a Redis ``SMS_STORAGE_URL``, else from the cache's own ``CACHE_REDIS_*`` config, under its key prefix.
    """
    if cache is None:
        made = backends.make_cache(app, url, timeout, clock)
        backend = app.extensions["cache"][made]
        if not backends.is_redis_url(url):
            return Storage(backend)
        return Storage(backend, backends.redis_client(url, timeout), backends.KEY_PREFIX, url)
    adopted = backends.adopt_cache(app, cache)
    backend = app.extensions["cache"][adopted]
    if not backends.is_redis_cache(backend):
        return Storage(backend)
    where = url if backends.is_redis_url(url) else backends.cache_redis_url(app, cache)
    if where is None:
        raise ConfigError(
            [
                (
                    "the cache passed to SmsExtension keeps its keys in Redis, and flask_sms's atomic steps (one "
                    "Lua script each) need a Redis connection of their own, which Flask-Caching does not hand out: "
                    "set SMS_STORAGE_URL to that Redis (redis://...), or pass a MemoryCache for one process"
                )
            ]
        )
    _redact.register_url_password(where)
    return Storage(backend, backends.redis_client(where, timeout), backends.cache_key_prefix(backend), where)


def _receipt_notes(app: Flask) -> tuple[str, ...]:
    if app.debug or app.testing:
        return ()
    return (
        (
            "SMS_STORAGE_URL is memory://: each worker process keeps its own delivery-report marks and "
            "statuses, so a vendor's retry that reaches another worker is announced again and status() "
            "answers only for reports this worker saw. Use redis:// in production."
        ),
    )


def _describe(url: str, storage: Storage, limits: RateLimits, *, cache: bool, limiter: bool) -> str:
    """The storage really in use: the URL, or where the ``cache=``/``limiter=`` passed in keep codes and limits."""
    if not cache and not limiter:
        return _redact.url_without_password(url)
    if storage.redis is not None:
        codes_in = _redact.url_without_password(storage.url)  # the scripts' Redis: the codes' keys are written there
    else:
        codes_in = backends.describe_cache(storage.cache)
    limits_in = backends.describe_limits(limits.storage)
    return f"codes in {codes_in}{' (cache=)' if cache else ''}, limits in {limits_in}{' (limiter=)' if limiter else ''}"


# -- the build ------------------------------------------------------------------------------------------
def build_state(
    app: Flask,
    settings: Settings,
    opened: OpenedStorage,
    *,
    secret_key: bytes,
    clock: Clock,
    hooks: Sequence[BeforeSendHook],
    verifiers: list[ChallengeVerifier],
) -> AppState:
    """Every per-app object, each built whole by its constructor. ``hooks`` and ``verifiers`` are the
    extension's own lists, shared by reference, so a hook registered after ``init_app`` applies."""
    storage = opened.storage
    book = _receipt_book(storage, settings, clock)
    ledger = None if storage is None else ledger_for(storage, settings.idempotency_ttl)
    breakers = breaker_state_for(storage)
    sender = Sender(
        _providers(settings),
        default_region=settings.default_region,
        suppress=settings.suppress_send,
        max_concurrency=settings.max_concurrency,
        failover_on_timeout=settings.failover_on_timeout,
        strategy=settings.strategy,
        weights=settings.weights,
        test_numbers=settings.test_numbers,
        breaker=_breaker(settings, breakers, clock),
        receipts=book,
        ledger=ledger,
    )
    voice = _voice_sender(settings, channels.ChannelBreakerState(breakers, channels.VOICE), clock, book, ledger)
    flow = None
    if settings.captcha is not None and storage is not None and opened.limits is not None:
        flow = _flow(app, settings, sender, voice, opened, secret_key, clock, hooks, verifiers)
    receipts = None if book is None else Receipts(app, book, settings, sender.providers)
    return AppState(
        settings,
        sender,
        voice,
        flow,
        receipts,
        storage=opened.description,
        notes=opened.notes,
        receipt_notes=opened.receipt_notes,
    )


def _built(accounts: Iterator[tuple[str, type[AnyProvider], Mapping[str, Any], str]], timeout: float) -> list[Any]:
    """One provider per account, named by its entry; an SDK refusing its arguments is a config problem."""
    providers = []
    problems = []
    for name, cls, options, what in accounts:
        try:
            providers.append(cls({**options, ENTRY: name}, timeout))
        except Exception as exc:  # noqa: BLE001 -- an SDK refusing its arguments is a config problem
            problems.append(f"{what} {name!r} could not be set up: {_redact.redact(str(exc))}")
    if problems:
        raise ConfigError(problems)
    return providers


def _providers(settings: Settings) -> list[AnyProvider]:
    return _built((account for account in _accounts(settings) if account[3] == "provider"), settings.timeout)


def _breaker(settings: Settings, state: BreakerState, clock: Clock) -> Breaker | None:
    """The providers' circuit breakers, shared through the storage when it is Redis."""
    if settings.circuit_breaker is None:
        return None
    # a probe claim outlives the probe's own call (connect + read)
    return Breaker(settings.circuit_breaker, state, clock, probe_ttl=2 * settings.timeout + 1)


def _receipt_book(storage: Storage | None, settings: Settings, clock: Clock) -> ReceiptBook | None:
    """Delivery reports in the code storage; with receipts off, only the flow's own (console) reports."""
    if storage is None:
        return None
    receipts = settings.receipts
    if receipts is None:
        return ReceiptBook(storage, 3 * 86400, clock, record=False)
    return ReceiptBook(
        storage,
        receipts.receipt_ttl,
        clock,
        record=True,
        push_limits=receipts.receipt_limits,
        max_stored_bytes=receipts.receipt_max_stored_bytes,
    )


def _voice_sender(
    settings: Settings, breakers: BreakerState, clock: Clock, book: ReceiptBook | None, ledger: Ledger | None
) -> Sender | None:
    """The voice channel's sender: its providers in ``SMS_VOICE_PROVIDERS`` order, the sending options of texts,
    its breakers apart from the texts' (in the same state), and the texts' ledger (an out_id is sent once,
    whatever the channel)."""
    if settings.voice is None:
        return None
    return Sender(
        _built((account for account in _accounts(settings) if account[3] == "voice provider"), settings.timeout),
        default_region=settings.default_region,
        suppress=settings.suppress_send,
        max_concurrency=settings.max_concurrency,
        failover_on_timeout=settings.failover_on_timeout,
        test_numbers=settings.test_numbers,
        channel=channels.VOICE,
        breaker=_breaker(settings, breakers, clock),
        receipts=book,
        ledger=ledger,
    )


def _vendor_route(settings: Settings, storage: Storage, clock: Clock) -> code_backends.VendorRoute | None:
    """The vendor-checked code backend (SMS_CODE_BACKEND) as the one provider of a sender of its own."""
    if settings.code_backend is None:
        return None
    (backend,) = _built((account for account in _accounts(settings) if account[3] == "code backend"), settings.timeout)
    assert isinstance(backend, code_backends.CodeBackend)
    sender = Sender(
        [backend],
        default_region=settings.default_region,
        suppress=settings.suppress_send,
        max_concurrency=1,
        test_numbers=settings.test_numbers,
        breaker=_breaker(settings, breaker_state_for(storage), clock),
    )
    return code_backends.VendorRoute(backend, sender)


def _guard(settings: Settings, opened: OpenedStorage, clock: Clock) -> FraudGuard | None:
    captcha = settings.captcha
    assert captcha is not None
    if captcha.fraud_guard is None:
        return None
    longest = max((item.get_expiry() for item in captcha.phone_limits), default=86400)
    return FraudGuard(
        captcha.fraud_guard,
        books_for(opened.storage, opened.memory, clock),
        clock,
        code_ttl=captcha.code_ttl,
        link_ttl=longest,
        home_region=captcha.default_region,
        errors=backends.storage_errors(),
    )


def _flow(
    app: Flask,
    settings: Settings,
    sender: Sender,
    voice: Sender | None,
    opened: OpenedStorage,
    secret_key: bytes,
    clock: Clock,
    hooks: Sequence[BeforeSendHook],
    verifiers: list[ChallengeVerifier],
) -> CodeFlow:
    captcha, storage, limits = settings.captcha, opened.storage, opened.limits
    assert captcha is not None and storage is not None and limits is not None
    route = None
    if voice is not None and settings.voice is not None:
        texts = channels.TextLog(storage.cache, settings.voice.after, captcha.code_ttl)
        route = channels.VoiceRoute(voice, settings.voice, texts)
    builtin = None
    if captcha.challenge is not None:
        builtin = build_verifier(captcha.challenge, settings.timeout, settings.proxy)
    return CodeFlow(
        app,
        captcha,
        sender,
        store_for(storage),
        limits,
        secret_key,
        hooks,
        clock,
        voice=route,
        vendor=_vendor_route(settings, storage, clock),
        guard=_guard(settings, opened, clock),
        verifiers=VerifierChain(builtin, verifiers),
        storage=opened.description,
    )
