"""``SmsExtension``: wires the sender and the code flow into one or more apps.

The extension builds things and hands calls down; it holds no rule of its own.
Per-app state lives in a weak mapping keyed by the app (Flask-Mail keeps a
``_Mail`` the same way), so the extension never keeps an app alive and one
instance can serve an app factory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, has_request_context, request

from . import (
    _redact,
    backends,
    channels,
    code_backends,
    codes,
    dev_inbox,
    forms,
    idempotency,
    messages,
    metrics,
    test_numbers,
)
from .blueprint import blueprint
from .breaker import Breaker
from .challenge import ChallengeVerifier, VerifierChain, build_verifier
from .cli import sms_cli
from .config import Registration, Settings, apply_defaults, load_settings, registration
from .errors import ConfigError, SmsError, SmsHTTPError
from .flow import BeforeSendHook, Clock, CodeFlow, CodeSent, Verification
from .guard import FraudGuard
from .guard_books import Decision, books_for
from .memory import MemoryCache
from .phones import PhoneInput, parse_phone
from .providers import REGISTRY, AnyProvider, ProviderLoadError, provider_class, split_entry
from .providers.reports import ParsedReceipts
from .receipt_views import receipts_blueprint
from .receipts import Accepted, ReceiptBook
from .results import DeliveryReport, SendResult, SmsMessage
from .sender import Sender
from .signals import sms_sent
from .storage import BreakerState, MemoryBreakerState, breaker_state_for, store_for

logger = logging.getLogger("flask_sms")


@dataclass
class _SmsState:
    """Everything built once per app: its settings, its sender and (unless turned off) its code flow.

    When the ``SMS_*`` config has problems, ``error`` holds them and nothing else is
    built: the app and its other commands keep working, and each use of flask_sms
    raises the error (the routes answer 503), as does ``flask sms check``.
    """

    settings: Settings | None
    sender: Sender | None
    flow: CodeFlow | None
    error: ConfigError | None = None
    #: said once per process, on the first use of the flow (not at startup: CLI commands stay quiet)
    notes: tuple[str, ...] = ()
    #: where codes and limits really live (the startup log line, ``flask sms check``)
    storage: str = ""
    #: delivery reports (de-duplication, status); ``None`` when neither the flow nor receipts keep a storage
    receipts: ReceiptBook | None = None
    #: the ``memory://`` backend built from ``SMS_STORAGE_URL``: it expires keys on ``sms.clock``
    memory: MemoryCache | None = None
    #: the voice channel's sender (``SMS_VOICE_PROVIDERS``); ``None`` when voice is off
    voice: Sender | None = None


def _build_providers(settings: Settings) -> list[AnyProvider]:
    return _built(
        ((name, provider_class(name), settings.provider_settings[name]) for name in settings.providers), settings
    )


def _built(
    classes: Iterable[tuple[str, type[AnyProvider], Mapping[str, Any]]], settings: Settings, what: str = "provider"
) -> list[AnyProvider]:
    """One provider per entry, each with its parsed settings; an SDK refusing its arguments is a config problem."""
    providers = []
    problems = []
    for name, cls, options in classes:
        _redact.register(*(options.get(key) for key in cls.credentials()))
        _redact.guard_loggers(*cls.sdk_loggers, sdk=True)
        try:
            provider = cls(options, settings.timeout)
            provider.name = name  # "aliyun:backup": its own result name and breaker
            providers.append(provider)
        except Exception as exc:  # noqa: BLE001 -- an SDK refusing its arguments is a config problem
            problems.append(f"{what} {name!r} could not be set up: {_redact.redact(str(exc))}")
    if problems:
        raise ConfigError(problems)
    return providers


def _voice_sender(settings: Settings) -> Sender | None:
    """The voice channel's sender: its providers in ``SMS_VOICE_PROVIDERS`` order, the sending options of texts."""
    voice = settings.voice
    if voice is None:
        return None
    classes = ((vendor, channels.voice_class(vendor), voice.provider_settings[vendor]) for vendor in voice.providers)
    return Sender(
        _built(classes, settings, "voice provider"),
        default_region=settings.default_region,
        suppress=settings.suppress_send,
        max_concurrency=settings.max_concurrency,
        failover_on_timeout=settings.failover_on_timeout,
        test_numbers=settings.test_numbers,
        channel=channels.VOICE,
    )


def _receipt_book(backend: Any, settings: Settings, clock: Clock) -> ReceiptBook:
    """Delivery reports in the code storage; with receipts off, only the flow's own (console) reports."""
    receipts = settings.receipts
    if receipts is None:
        return ReceiptBook(backend, 3 * 86400, clock, record=False)
    return ReceiptBook(
        backend,
        receipts.receipt_ttl,
        clock,
        record=True,
        push_limits=receipts.receipt_limits,
        max_stored_bytes=receipts.receipt_max_stored_bytes,
    )


def _warn_if_console(app: Flask, settings: Settings) -> None:
    """The console provider (or test numbers) outside debug/testing: say loudly that codes reach no phone."""
    if app.debug or app.testing:
        return
    if settings.test_numbers:
        backends.warn_once(test_numbers.warning(settings.test_numbers), app)
    consoles = [entry for entry in settings.providers if split_entry(entry)[0] == "console"]
    if not consoles:
        return
    if len(consoles) == len(settings.providers):
        backends.warn_once(
            "SMS_PROVIDERS is ['console'] outside debug and testing: no text is sent to any phone; "
            "codes go only to the log (the flask_sms logger, at INFO). Set SMS_PROVIDERS to your vendors.",
            app,
        )
    else:
        backends.warn_once(
            f"SMS_PROVIDERS {list(settings.providers)} includes 'console' outside debug and testing: a text that "
            "fails over to it reaches no phone; its code goes only to the log.",
            app,
        )


def _shown_providers(settings: Settings) -> str:
    """The providers for the start-up line, and the vendor that makes and checks codes (SMS_CODE_BACKEND)."""
    shown = ", ".join(settings.providers) or "none"
    if settings.code_backend is not None:
        shown += f" (codes made and checked by {settings.code_backend.name})"
    return shown


def _client(client_ip: str | None) -> tuple[str | None, Any]:
    """The client's address and the request, when called inside one (the routes pass the address in)."""
    if not has_request_context():
        return client_ip, None
    return client_ip or request.remote_addr or "unknown", request


class SmsExtension:
    """Sends texts through the configured vendors, with failover, and runs the code flow, for any number of apps."""

    def __init__(self, app: Flask | None = None, *, cache: Any = None, limiter: Any = None) -> None:
        self.cache = cache
        self.limiter = limiter
        self._before_send: list[BeforeSendHook] = []
        self._locale_selectors: list[messages.LocaleSelector] = []
        self._challenge_verifiers: list[ChallengeVerifier] = []
        self._clock: Clock = time.time
        self._states: weakref.WeakKeyDictionary[Flask, _SmsState] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the config and set up sending, the flow and the routes for ``app``.

        Problems with the ``SMS_*`` keys do not raise here: they surface on first
        use, on the routes (503) and in ``flask sms check``. Registering twice, or
        over another ``sms`` extension or blueprint, does raise :class:`ConfigError`.
        """
        where = registration(app)
        self._check_registration(app, where)
        apply_defaults(app)
        try:
            state = self._build(app)
        except ConfigError as exc:
            state = _SmsState(None, None, None, error=exc)
        self._states[app] = state
        app.extensions["sms"] = self
        _enable_extras(app, state)
        if where.routes:
            app.register_blueprint(blueprint, url_prefix=where.url_prefix or None, subdomain=where.subdomain)
            backends.exempt_from_app_limiters(app, blueprint)
        if where.receipts:
            app.register_blueprint(receipts_blueprint, url_prefix=where.url_prefix or None, subdomain=where.subdomain)
            backends.exempt_from_app_limiters(app, receipts_blueprint)
            _exempt_from_csrf(app)
        app.cli.add_command(sms_cli)
        _register_with_flask_security(app)

    def _check_registration(self, app: Flask, where: Registration) -> None:
        if app in self._states:
            raise ConfigError(
                [
                    (
                        "SmsExtension.init_app() was already called for this app: call it once per app "
                        "(one SmsExtension can serve several apps)"
                    )
                ]
            )
        if "sms" in app.extensions:
            raise ConfigError(
                [
                    (
                        "another extension is already set up on this app as app.extensions['sms']: "
                        "create one SmsExtension and call init_app once per app"
                    )
                ]
            )
        existing = app.blueprints.get(blueprint.name)
        if where.routes and existing is not None and existing is not blueprint:
            raise ConfigError(
                [
                    (
                        f"the app already has a blueprint named {blueprint.name!r}, the name flask_sms's routes use: "
                        "rename yours (Blueprint('...', ...) or app.register_blueprint(bp, name='...')), "
                        "or set SMS_REGISTER_ROUTES = False to keep send_code/verify_code without the routes"
                    )
                ]
            )

    def _build(self, app: Flask) -> _SmsState:
        settings = load_settings(app)
        sender = Sender(
            _build_providers(settings),
            default_region=settings.default_region,
            suppress=settings.suppress_send,
            max_concurrency=settings.max_concurrency,
            failover_on_timeout=settings.failover_on_timeout,
            strategy=settings.strategy,
            weights=settings.weights,
            test_numbers=settings.test_numbers,
        )
        voice = _voice_sender(settings)
        self._route(settings, MemoryBreakerState(), None, sender, voice)
        _redact.guard_loggers("flask_sms")
        messages.set_language(app, settings.language, self._locale_selectors)
        _warn_if_console(app, settings)
        if settings.receipts is not None:
            # the token travels in the push URL's query string: mask it in the dev server's access log too
            _redact.register(settings.receipts.receipt_token)
            _redact.guard_loggers("werkzeug")
        if settings.captcha is None and settings.receipts is None:
            storage = "off (SMS_ENABLE_CAPTCHA is false)"
            logger.info("flask_sms: providers %s; storage %s", ", ".join(settings.providers), storage)
            return _SmsState(settings, sender, None, storage=storage, voice=voice)
        backend = self._storage_backend(app, settings)
        store = store_for(backend)
        book = _receipt_book(backend, settings, self._clock)
        sender.ledger = idempotency.ledger_for(store, backend, settings.idempotency_ttl)
        self._route(settings, breaker_state_for(backend), book, sender, voice)
        if voice is not None:
            voice.ledger = sender.ledger  # an out_id is sent once, whatever the channel
        memory = self._own_memory(backend)
        if settings.captcha is None:
            storage = f"receipts in {_redact.url_without_password(settings.storage_url)} (SMS_ENABLE_CAPTCHA is false)"
            logger.info("flask_sms: providers %s; storage %s", ", ".join(settings.providers), storage)
            return _SmsState(settings, sender, None, storage=storage, receipts=book, memory=memory, voice=voice)
        flow, notes, storage = self._build_flow(app, settings, sender, backend, store, voice)
        logger.info("flask_sms: providers %s; storage %s", _shown_providers(settings), storage)
        return _SmsState(
            settings, sender, flow, notes=notes, storage=storage, receipts=book, memory=memory, voice=voice
        )

    def _own_memory(self, backend: Any) -> MemoryCache | None:
        """The ``memory://`` backend built from ``SMS_STORAGE_URL`` (its keys expire on ``sms.clock``);
        ``None`` for Redis or a ``cache=`` passed in (whose clock is the app's own choice)."""
        return backend if isinstance(backend, MemoryCache) and self.cache is None else None

    def _route(
        self, settings: Settings, state: BreakerState, book: ReceiptBook | None, *senders: Sender | None
    ) -> None:
        """Give each channel's sender its breakers (voice's apart from texts', in the same state) and the receipts."""
        for sender in senders:
            if sender is None:
                continue
            own = state if sender.channel == channels.SMS else channels.ChannelBreakerState(state, sender.channel)
            sender.breaker = self._breaker(settings, own)
            sender.receipts = book

    def _breaker(self, settings: Settings, state: BreakerState) -> Breaker | None:
        """The providers' circuit breakers, shared through the storage when it is Redis."""
        if settings.circuit_breaker is None:
            return None
        # a probe claim outlives the probe's own call (connect + read)
        return Breaker(settings.circuit_breaker, state, self._clock, probe_ttl=2 * settings.timeout + 1)

    def _storage_backend(self, app: Flask, settings: Settings) -> Any:
        """The cachelib backend codes and receipts are kept in: the ``cache=`` passed in, or one for the URL."""
        _redact.register_url_password(settings.storage_url)
        _redact.guard_loggers("redis", "redis.connection", "flask_limiter", "limits")
        if self.cache is not None:
            cache = backends.adopt_cache(app, self.cache)
        else:
            cache = backends.make_cache(app, settings.storage_url, settings.timeout, self._clock)
        return app.extensions["cache"][cache]

    def _build_flow(
        self, app: Flask, settings: Settings, sender: Sender, backend: Any, store: Any, voice: Sender | None
    ) -> tuple[CodeFlow, tuple[str, ...], str]:
        assert settings.captcha is not None
        url, timeout = settings.storage_url, settings.timeout
        if self.limiter is not None:
            limits = backends.adopt_limiter(app, self.limiter, url, timeout)
        else:
            limits = backends.own_limits(url, timeout)
        notes = backends.per_process_warnings(app, url, own_cache=self.cache is None, own_limits=self.limiter is None)
        secret = app.config["SECRET_KEY"]
        secret_bytes = secret if isinstance(secret, bytes) else str(secret).encode()
        route = None
        if voice is not None and settings.voice is not None:
            texts = channels.TextLog(backend, settings.voice.after, settings.captcha.code_ttl)
            route = channels.VoiceRoute(voice, settings.voice, texts)
        captcha = settings.captcha
        guard = None
        if captcha.fraud_guard is not None:
            longest = max((item.get_expiry() for item in captcha.phone_limits), default=86400)
            guard = FraudGuard(
                captcha.fraud_guard,
                books_for(store, self._own_memory(backend), lambda: self._clock()),
                self._clock,
                code_ttl=captcha.code_ttl,
                link_ttl=longest,
                home_region=captcha.default_region,
                errors=backends.storage_errors(),
            )
        builtin = None
        if captcha.challenge is not None:
            builtin = build_verifier(captcha.challenge, settings.timeout, settings.proxy)
        verifiers = VerifierChain(builtin, self._challenge_verifiers)
        flow = CodeFlow(
            captcha,
            sender,
            store,
            limits,
            secret_bytes,
            self._before_send,
            self._clock,
            voice=route,
            vendor=self._vendor_route(settings, backend),
            guard=guard,
            verifiers=verifiers,
        )
        return flow, notes, self._describe_storage(url, backend, limits)

    def _vendor_route(self, settings: Settings, cache: Any) -> code_backends.VendorRoute | None:
        """The vendor-checked code backend (SMS_CODE_BACKEND) as the one provider of a sender of its own."""
        chosen = settings.code_backend
        if chosen is None:
            return None
        cls = code_backends.backend_class(chosen.name)
        (backend,) = _built([(cls.name, cls, chosen.settings)], settings, "code backend")
        assert isinstance(backend, code_backends.CodeBackend)
        sender = Sender(
            [backend],
            default_region=settings.default_region,
            suppress=settings.suppress_send,
            max_concurrency=1,
            test_numbers=settings.test_numbers,
        )
        sender.breaker = self._breaker(settings, breaker_state_for(cache))
        return code_backends.VendorRoute(backend, sender)

    def _describe_storage(self, url: str, backend: Any, limits: Any) -> str:
        """The storage really in use: the URL, or what the cache=/limiter= passed in point at."""
        if self.cache is None and self.limiter is None:
            return _redact.url_without_password(url)
        codes_in = backends.describe_cache(backend) + (" (cache=)" if self.cache is not None else "")
        limits_in = backends.describe_limits(limits.storage) + (" (limiter=)" if self.limiter is not None else "")
        return f"codes in {codes_in}, limits in {limits_in}"

    # -- per-app state ---------------------------------------------------------------------
    def _state(self, app: Flask | None = None) -> _SmsState:
        """The app's state; raises its :class:`ConfigError` when the ``SMS_*`` config has problems."""
        if app is None or app is current_app:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            state = self._states[app]
        except KeyError:
            raise RuntimeError("SmsExtension.init_app() was not called for this app") from None
        if state.error is not None:
            raise state.error
        return state

    def _sender(self, channel: str = "sms") -> tuple[Flask, Sender]:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(app)
        if channel == channels.VOICE and state.voice is not None:
            return app, state.voice
        if channel != channels.SMS:
            raise SmsError(f"channel {channel!r}: use 'sms', or 'voice' with SMS_VOICE_PROVIDERS set")
        assert state.sender is not None  # built whenever the config has no problems
        return app, state.sender

    def _flow(self) -> tuple[Flask, CodeFlow]:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(app)
        if state.flow is None:
            raise RuntimeError("the verification flow is off: SMS_ENABLE_CAPTCHA is false")
        for note in state.notes:
            backends.warn_once(note, app)
        return app, state.flow

    def check(self, app: Flask | None = None) -> Settings:
        """Raise the app's :class:`ConfigError` (every problem) if its ``SMS_*`` config has any.

        What ``flask sms check`` runs; call it at the end of an app factory to fail
        at startup instead of on first use. Returns the settings when all is well.
        """
        settings = self._state(app).settings
        assert settings is not None
        return settings

    def problems(self, app: Flask | None = None) -> list[str]:
        """Every problem with the app's ``SMS_*`` config; empty when it is fine."""
        try:
            self.check(app)
        except ConfigError as exc:
            return list(exc.problems)
        return []

    def storage_problems(self, app: Flask | None = None) -> list[str]:
        """Whether the verification flow's limits storage answers (empty when it does, or when the flow is off)."""
        flow = self._state(app).flow
        return [] if flow is None else flow.storage_problems()

    def settings(self, app: Flask | None = None) -> Settings:
        """The validated settings of the current app (raises :class:`ConfigError` if the config has problems)."""
        return self.check(app)

    @property
    def blueprint(self) -> Blueprint:
        """The ``sms`` blueprint of the routes, e.g. for ``csrf.exempt(sms.blueprint)``."""
        return blueprint

    @property
    def clock(self) -> Clock:
        """Where "now" comes from for codes, cool-downs, limits and the circuit breakers (default
        ``time.time``); tests replace it."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        for state in self._states.values():
            if state.flow is not None:
                state.flow.clock = clock
                if state.flow.guard is not None:
                    state.flow.guard.clock = clock
            if state.receipts is not None:
                state.receipts.clock = clock
            for sender in (state.sender, state.voice):
                if sender is not None and sender.breaker is not None:
                    sender.breaker.clock = clock
            if state.memory is not None:
                state.memory.clock = clock

    # -- sending ---------------------------------------------------------------------------
    def send(
        self,
        phones: PhoneInput | Iterable[PhoneInput],
        purpose: str,
        params: Mapping[str, Any] | None = None,
        *,
        out_id: str | None = None,
        idempotent: bool = False,
        channel: str = "sms",
    ) -> SendResult:
        """Send one template to one or many numbers, failing over in ``SMS_PROVIDERS`` order.

        Everything that can be checked locally (numbers, purpose, parameters for
        every provider) is checked before the first vendor is called. ``out_id``
        ties the texts to your records; one is generated when none is given.
        ``idempotent=True`` sends at most once per ``out_id`` across workers (for
        ``SMS_IDEMPOTENCY_TTL`` seconds): a second call returns the first call's
        result without sending, and raises ``DuplicateSend`` while the first is in flight.
        ``channel="voice"`` calls instead, through ``SMS_VOICE_PROVIDERS`` (``params``
        then carry the ``code`` the call reads out).
        """
        app, sender = self._sender(channel)
        return sender.send(app, phones, purpose, params, out_id=out_id, idempotent=idempotent)

    # -- delivery receipts -------------------------------------------------------------------
    def _receipts(self) -> tuple[Flask, _SmsState, ReceiptBook]:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(app)
        if state.receipts is None:
            raise SmsError(
                "delivery reports need a storage: set SMS_RECEIPT_TOKEN (receipts on), or keep the verification flow on"
            )
        settings = state.settings
        assert settings is not None  # built whenever the config has no problems
        per_process = settings.storage_url.startswith(backends.MEMORY_STORAGE) and self.cache is None
        if per_process and settings.receipts is not None and not (app.debug or app.testing):
            backends.warn_once(
                "SMS_STORAGE_URL is memory://: each worker process keeps its own delivery-report marks and "
                "statuses, so a vendor's retry that reaches another worker is announced again and status() "
                "answers only for reports this worker saw. Use redis:// in production.",
                app,
            )
        return app, state, state.receipts

    def fetch_reports(
        self,
        provider: str,
        *,
        phone: PhoneInput | None = None,
        date: date | None = None,
        message_id: str | None = None,
    ) -> list[DeliveryReport]:
        """Ask ``provider``'s query API for delivery reports (Aliyun QuerySendDetails, Tencent PullSmsSendStatus*).

        Aliyun needs ``phone`` and a ``date`` (Beijing calendar day, default today) within
        the last 30 days; Tencent polls by ``phone`` (the last 7 days, or that ``date``)
        or, without one, drains its report queue. Every report fetched is returned;
        ``delivery_reported`` fires for those not seen before (push or poll), and
        ``status()`` then knows them. Vendors with no query API raise :class:`SmsError`.
        """
        app, state, book = self._receipts()
        assert state.sender is not None and state.settings is not None
        found = next((p for p in state.sender.providers if p.name == provider), None)
        if found is None:
            known = ", ".join(p.name for p in state.sender.providers)
            raise SmsError(f"provider {provider!r} is not in SMS_PROVIDERS ({known})")
        number = None if phone is None else parse_phone(phone, state.settings.default_region)
        reports = found.fetch_reports(phone=number, day=date, message_id=message_id)
        accepted = book.accept(app, reports)
        if accepted.failures:  # every report was read and announced; the first handler error is the caller's
            raise accepted.failures[0]
        return accepted.reports

    def status(self, out_id: str) -> DeliveryReport | None:
        """The latest delivery report for a send's ``out_id`` (``SendResult.out_id``), or ``None`` yet.

        Kept for ``SMS_RECEIPT_TTL`` seconds in the storage, across workers with Redis.
        """
        return self._receipts()[2].status(out_id)

    def receive_receipts(
        self, provider: str, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> tuple[ParsedReceipts, Accepted]:
        """Read one vendor push (the receipt route calls this): (what was read, what announcing it did).

        Raises ``ForgedReceipt`` when the vendor's own signature on it fails, ``BadReceipt``
        when the body is not the vendor's format at all.
        """
        app, state, book = self._receipts()
        assert state.settings is not None
        vendor = channels.vendor_of_receipt(provider)
        if vendor is not None:  # "aliyun-voice": a call's result, reported as the vendor's
            parsed = channels.voice_class(vendor).parse_receipts(body, content_type)
            return parsed, book.accept(app, parsed.reports)
        cls = provider_class(provider)
        cls.verify_receipt(state.settings.provider_settings.get(provider), headers or {}, body)
        parsed = cls.parse_receipts(body, content_type)
        if any(report.provider != provider for report in parsed.reports):  # an account: its own name
            parsed.reports[:] = [dataclasses.replace(report, provider=provider) for report in parsed.reports]
        return parsed, book.accept(app, parsed.reports)

    @staticmethod
    def receipt_answer(provider: str, content_type: str) -> tuple[bytes, str]:
        """What ``provider`` expects back after a push: (body, media type)."""
        vendor = channels.vendor_of_receipt(provider)
        if vendor is not None:
            return channels.voice_class(vendor).receipt_answer(content_type)
        return provider_class(provider).receipt_answer(content_type)

    def receipt_providers(self) -> tuple[str, ...]:
        """The providers whose receipt push the route reads: the built-in vendors that document one,
        and every entry of this app's ``SMS_PROVIDERS`` that does (``"aliyun:backup"``, your own)."""
        names = dict.fromkeys(name for name in REGISTRY if provider_class(name).receipt_formats)
        for entry in self.settings().providers:
            try:
                if provider_class(entry).receipt_formats:
                    names[entry] = None
            except ProviderLoadError:  # reported by flask sms check
                continue
        names.update(dict.fromkeys(channels.receipt_names(self.settings().voice)))
        return tuple(names)

    # -- the verification flow -----------------------------------------------------------------
    def send_code(
        self,
        phone: str,
        purpose: str | None = None,
        *,
        client_ip: str | None = None,
        channel: str = "sms",
        challenge: Mapping[str, str] | None = None,
    ) -> CodeSent:
        """Send a fresh code, after every check the public route makes (the fraud guard included).

        Raises an :class:`~flask_sms.errors.SmsHTTPError` (an HTTP exception that
        renders as the route's JSON error) when it refuses: ``ChallengeRequired``
        (428) asks for ``challenge``, the solved human check. Inside a request the
        client's address defaults to ``request.remote_addr``. ``channel="voice"``
        calls the phone instead (``SMS_VOICE_PROVIDERS``); the call replaces any
        texted code, as a text replaces a called one. Keep the result's ``nonce``
        for :meth:`verify_code`.
        """
        app, flow = self._flow()
        address, current_request = _client(client_ip)
        if current_request is not None:
            _check_origin(flow, current_request)
        return flow.send_code(
            app,
            phone,
            purpose or flow.settings.default_purpose,
            client_ip=address,
            request=current_request,
            channel=channel,
            challenge=challenge,
        )

    def send_external_code(
        self,
        phone: str,
        code: str,
        *,
        purpose: str,
        client_ip: str | None = None,
        challenge: Mapping[str, str] | None = None,
    ) -> CodeSent:
        """Text a code another library made and will check itself (Flask-Security-Too's, say), under every limit of
        :meth:`send_code`: the cross-site refusal, ``SMS_IP_LIMITS``, the ``before_send`` hooks, the cool-down, the
        phone quotas, ``SMS_GLOBAL_LIMITS`` and failover. The code is not stored.

        ``purpose`` needs a template (taking ``code``, and ``minutes`` if it says them: ``SMS_CODE_TTL`` in
        minutes); it need not be in ``SMS_CAPTCHA_PURPOSES``, so the public route never sends it. Refusals raise
        the same :class:`~flask_sms.errors.SmsHTTPError` as ``send_code`` (``RateLimited`` is a 429).
        ``expires_in`` of the result is 0: the other library decides how long its code lives. The fraud
        guard judges these sends too (velocity: their verifies happen elsewhere); ``challenge`` is the
        solved human check when it asks for one (``ChallengeRequired``, 428).
        """
        app, flow = self._flow()
        address, current_request = _client(client_ip)
        if current_request is not None:
            _check_origin(flow, current_request)
        return flow.send_external_code(
            app, phone, code, purpose, client_ip=address, request=current_request, challenge=challenge
        )

    def verify_code(
        self,
        phone: str,
        code: str,
        purpose: str | None = None,
        *,
        client_ip: str | None = None,
        nonce: str | None = None,
        challenge: Mapping[str, str] | None = None,
    ) -> Verification:
        """Check and consume a code. The result is truthy on success; ``reason`` says why not.

        ``nonce`` is the send's (``CodeSent.nonce``): without it the guesses count as a
        stranger's (a smaller budget that never kills the owner's code; no live code
        answers ``invalid_code``). Inside a request it makes the route's checks first:
        it refuses a cross-site request (``CrossSiteRequest``, 403) and counts
        ``SMS_VERIFY_IP_LIMITS`` for the client (raises ``RateLimited``).
        """
        app, flow = self._flow()
        address, current_request = _client(client_ip)
        if current_request is not None:
            _check_origin(flow, current_request)
        chosen = purpose or flow.settings.default_purpose
        return flow.verify_code(app, phone, code, chosen, client_ip=address, nonce=nonce, challenge=challenge)

    def guard_status(self, app: Flask | None = None) -> list[Decision]:
        """What the fraud guard challenges or blocks now, with the counts behind each decision
        (``flask sms guard`` prints the same). Empty when ``SMS_FRAUD_GUARD`` is off."""
        state = self._state(app)
        if state.flow is None or state.flow.guard is None:
            return []
        return state.flow.guard.status()

    def challenge_verifier(self, verifier: ChallengeVerifier) -> ChallengeVerifier:
        """Register ``verifier(challenge, client_ip) -> bool``: your own human check, in place of
        ``SMS_CHALLENGE``'s. Raising from it refuses the challenged request (503, fail closed)."""
        self._challenge_verifiers.append(verifier)
        return verifier

    def check_origin(self) -> None:
        """Refuse the current request if a browser sent it from another site (raises ``CrossSiteRequest``, 403).

        The routes, ``send_code`` and ``verify_code`` do this first; call it in a view
        of yours that should refuse cross-site requests the same way.
        """
        _check_origin(self._flow()[1], request)

    def issue_token(self, phone: str, purpose: str | None = None) -> str:
        """A signed, single-use verification token for a phone you verified (what the verify route answers).

        ``phone`` should be the E.164 number of a successful :meth:`verify_code`
        (``result.phone``). Valid for ``SMS_TOKEN_TTL`` seconds.
        """
        flow = self._flow()[1]
        return flow.issue_token(phone, purpose or flow.settings.default_purpose)

    def redeem_token(self, token: str, purpose: str | None = None) -> str | None:
        """The verified E.164 phone of a token from ``POST /sms_captcha/verify``, exactly once.

        Returns ``None`` for a token that is forged, expired, already redeemed (by
        any worker: the token's id is kept in the code storage), issued for
        another purpose (``purpose`` defaults to ``SMS_DEFAULT_PURPOSE``), or minted
        by another app, even one with the same ``SECRET_KEY`` (``SMS_TOKEN_AUDIENCE``). Raises
        ``StorageUnavailable`` when the storage cannot be reached (fail closed).
        """
        flow = self._flow()[1]
        return flow.redeem_token(token, purpose or flow.settings.default_purpose)

    def storage(self, app: Flask | None = None) -> str:
        """Where codes and limits really live, without passwords (as the startup log line says)."""
        return self._state(app).storage

    def verify_form_code(
        self, form_phone: Any, form_code: Any, purpose: str | None = None, *, check_csrf: bool = True
    ) -> Verification:
        """Check the code a form posted; call it after the form validated (``form.validate_on_submit()``).

        ``form_phone`` and ``form_code`` are WTForms fields (or plain strings). On
        failure the reason, in the request's language, is added to ``form_code.errors``
        and the result is falsy (``reason``: ``invalid_code``, ``code_expired``,
        ``too_many_attempts``, ``rate_limited``, ``unavailable``, ``csrf_failed`` ...).
        With Flask-WTF's CSRF in play the code is never checked (so never used up)
        unless this request's CSRF token is good; ``check_csrf=False`` skips that
        when your own CSRF check already ran.
        """
        phone, code = forms.field_value(form_phone), forms.field_value(form_code)
        chosen = purpose or self._flow()[1].settings.default_purpose
        refused = _form_refusal(form_phone, form_code, phone, code, chosen, check_csrf=check_csrf)
        if refused is not None:
            return refused
        nonce = request.form.get("sms_nonce") if has_request_context() else None
        try:
            result = self.verify_code(phone, code, chosen, nonce=nonce or None)
        except SmsHTTPError as exc:  # rate_limited, unavailable: said on the form, not as an HTTP error
            forms.add_error(form_code, str(exc.message or messages.message_for(exc.error, retry_after=exc.retry_after)))
            return Verification(False, exc.error, None, chosen, exc.retry_after)
        if not result:
            forms.add_error(form_code, result.message or messages.message_for(codes.INVALID_CODE))
        return result

    def check_verify_limit(self, client_ip: str) -> None:
        """Count one verify attempt against ``SMS_VERIFY_IP_LIMITS`` (raises ``RateLimited``).

        ``verify_code`` already does this inside a request; this is for counting elsewhere.
        """
        self._flow()[1].check_verify_limit(client_ip)

    # -- the same, for async views --------------------------------------------------------
    async def send_async(
        self,
        phones: PhoneInput | Iterable[PhoneInput],
        purpose: str,
        params: Mapping[str, Any] | None = None,
        *,
        out_id: str | None = None,
        channel: str = "sms",
        idempotent: bool = False,
    ) -> SendResult:
        """:meth:`send` for an ``async def`` view: runs in a worker thread, the event loop keeps going."""
        return await _in_thread(
            self.send, phones, purpose, params, out_id=out_id, channel=channel, idempotent=idempotent
        )

    async def send_code_async(
        self, phone: str, purpose: str | None = None, *, client_ip: str | None = None, channel: str = "sms"
    ) -> CodeSent:
        """:meth:`send_code` for an ``async def`` view (a worker thread with the app and request context)."""
        return await _in_thread(self.send_code, phone, purpose, client_ip=client_ip, channel=channel)

    async def verify_code_async(
        self, phone: str, code: str, purpose: str | None = None, *, client_ip: str | None = None
    ) -> Verification:
        """:meth:`verify_code` for an ``async def`` view (a worker thread with the app and request context)."""
        return await _in_thread(self.verify_code, phone, code, purpose, client_ip=client_ip)

    def before_send(self, hook: BeforeSendHook) -> BeforeSendHook:
        """Register ``hook(phone, purpose, request)``; returning ``False`` (or raising
        :class:`~flask_sms.errors.SendRefused`) refuses the send with 403 ``forbidden``."""
        self._before_send.append(hook)
        return hook

    def locale_selector(self, selector: messages.LocaleSelector) -> messages.LocaleSelector:
        """Set ``selector()``, the language of flask_sms's texts: a locale string (``"zh_CN"``, ``"zh-TW"``, ``"en"``)
        or ``None`` to fall back to Flask-Babel, then ``Accept-Language``. For Flask-BabelPlus or any scheme of
        the app's own; one selector per extension, as with Flask-Babel."""
        self._locale_selectors[:] = [selector]
        return selector

    @contextmanager
    def record_messages(self) -> Iterator[list[SmsMessage]]:
        """Collect every message sent (or suppressed) inside the block, as Flask-Mail does."""
        outbox: list[SmsMessage] = []

        def record(sender: Flask, message: SmsMessage, **extra: Any) -> None:
            outbox.append(message)

        sms_sent.connect(record)
        try:
            yield outbox
        finally:
            sms_sent.disconnect(record)


def _form_refusal(
    form_phone: Any, form_code: Any, phone: str, code: str, purpose: str, *, check_csrf: bool
) -> Verification | None:
    """The failed result for a form that must not reach the code check (bad CSRF, blank field), else ``None``.

    CSRF comes first so a forged post never uses up a code; the reason goes on the field at fault.
    """
    failure = None
    if check_csrf and not forms.csrf_passed(form_code):
        failure = codes.CSRF_FAILED
    elif not phone:
        forms.add_error(form_phone, messages.ui_texts()["phone_required"])
        return Verification(False, codes.INVALID_PHONE, None, purpose)
    elif not code:
        failure = codes.INVALID_CODE
    if failure is None:
        return None
    forms.add_error(form_code, messages.message_for(failure))
    return Verification(False, failure, None, purpose)


def _enable_extras(app: Flask, state: _SmsState) -> None:
    """The dev inbox (``SMS_DEV_INBOX``) and the Prometheus metrics (``SMS_METRICS``), when on."""
    if state.flow is not None and state.flow.settings.dev_inbox:
        dev_inbox.enable(app)
    if state.settings is not None and state.settings.metrics is not False and metrics.available():
        metrics.enable(app, state.settings.providers)


def _register_with_flask_security(app: Flask) -> None:
    """``SECURITY_SMS_SERVICE = "flask_sms"`` works wherever Flask-Security-Too is in use, without importing it
    (0.6 s) into apps that only have it installed: now if the app imported it already, else before the first
    request that finds it imported (Flask-Security sends its codes inside requests)."""

    def register() -> None:
        if "flask_security" in sys.modules and not registered:
            from .contrib import flask_security

            flask_security.register()
            registered.append(True)

    registered: list[bool] = []
    register()
    if not registered:
        app.before_request_funcs.setdefault(None, []).insert(0, register)


def _exempt_from_csrf(app: Flask) -> None:
    """Vendors post receipts server to server, with no CSRF token: exempt the route from Flask-WTF's
    CSRFProtect, whether it was set up before flask_sms or after (then on the first receipt, before it runs)."""

    def exempt() -> None:
        csrf = app.extensions.get("csrf")
        if csrf is not None and hasattr(csrf, "exempt"):
            csrf.exempt(receipts_blueprint)

    def exempt_before_csrf_runs() -> None:
        if request.blueprint == receipts_blueprint.name:
            exempt()

    exempt()
    app.before_request_funcs.setdefault(None, []).insert(0, exempt_before_csrf_runs)


def _check_origin(flow: CodeFlow, current_request: Any) -> None:
    headers = current_request.headers
    flow.check_origin(headers.get("Origin"), headers.get("Sec-Fetch-Site"), current_request.host)


T = TypeVar("T")


async def _in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (vendor calls, storage) in the loop's default thread pool.

    ``asyncio.to_thread`` copies the context variables, and Flask keeps its app and
    request contexts in them, so ``current_app`` and ``request`` work in the thread.
    """
    return await asyncio.to_thread(function, *args, **kwargs)


def send_sms(
    phones: PhoneInput | Iterable[PhoneInput],
    purpose: str,
    params: Mapping[str, Any] | None = None,
    *,
    out_id: str | None = None,
    idempotent: bool = False,
    channel: str = "sms",
) -> SendResult:
    """Send through the current app's :class:`SmsExtension` (see :meth:`SmsExtension.send`)."""
    try:
        extension: SmsExtension = current_app.extensions["sms"]
    except KeyError:
        raise RuntimeError("SmsExtension is not set up on this app; call SmsExtension(app)") from None
    return extension.send(phones, purpose, params, out_id=out_id, idempotent=idempotent, channel=channel)
