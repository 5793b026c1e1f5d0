"""``SmsExtension``: wires the sender and the code flow into one or more apps.

The extension builds things and hands calls down; it holds no rule of its own.
Per-app state lives in a weak mapping keyed by the app (Flask-Mail keeps a
``_Mail`` the same way), so the extension never keeps an app alive and one
instance can serve an app factory.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_request_context, request

from . import _redact, backends, messages
from .blueprint import blueprint
from .cli import sms_cli
from .config import Settings, apply_defaults, load_settings
from .errors import ConfigError
from .flow import BeforeSendHook, Clock, CodeFlow, CodeSent, Verification
from .phones import PhoneInput
from .providers import AnyProvider, provider_class
from .results import SendResult, SmsMessage
from .sender import Sender
from .signals import sms_sent
from .storage import store_for

logger = logging.getLogger("flask_sms")


@dataclass
class _SmsState:
    """Everything built once per app: its settings, its sender and (unless turned off) its code flow."""

    settings: Settings
    sender: Sender
    flow: CodeFlow | None


def _build_providers(settings: Settings) -> list[AnyProvider]:
    providers = []
    problems = []
    for name in settings.providers:
        cls = provider_class(name)
        options = settings.provider_settings[name]
        _redact.register(*(options.get(key) for key in cls.credentials()))
        _redact.guard_loggers(*cls.sdk_loggers)
        try:
            providers.append(cls(options, settings.timeout))
        except Exception as exc:  # noqa: BLE001 -- an SDK refusing its arguments is a config problem
            problems.append(f"provider {name!r} could not be set up: {_redact.redact(str(exc))}")
    if problems:
        raise ConfigError(problems)
    return providers


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
        self._clock: Clock = time.time
        self._states: weakref.WeakKeyDictionary[Flask, _SmsState] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        apply_defaults(app)
        settings = load_settings(app)
        sender = Sender(
            _build_providers(settings),
            default_region=settings.default_region,
            suppress=settings.suppress_send,
            max_concurrency=settings.max_concurrency,
        )
        _redact.guard_loggers("flask_sms")
        logger.info(
            "flask_sms: providers %s; storage %s",
            ", ".join(settings.providers),
            _redact.url_without_password(settings.storage_url)
            if settings.captcha
            else "off (SMS_ENABLE_CAPTCHA is false)",
        )
        flow = self._build_flow(app, settings, sender) if settings.captcha is not None else None
        messages.set_language(app, settings.language)
        self._states[app] = _SmsState(settings, sender, flow)
        app.extensions["sms"] = self
        if flow is not None:
            app.register_blueprint(blueprint, url_prefix=settings.url_prefix or None)
        app.cli.add_command(sms_cli)

    def _build_flow(self, app: Flask, settings: Settings, sender: Sender) -> CodeFlow:
        assert settings.captcha is not None
        url, timeout = settings.storage_url, settings.timeout
        _redact.register_url_password(url)
        _redact.guard_loggers("redis", "redis.connection", "flask_limiter", "limits")
        if self.cache is not None:
            cache = backends.adopt_cache(app, self.cache)
        else:
            cache = backends.make_cache(app, url, timeout)
        if self.limiter is not None:
            limits = backends.adopt_limiter(app, self.limiter)
        else:
            limits = backends.own_limits(url, timeout)
        backends.warn_if_per_process(app, url, own_cache=self.cache is None)
        secret = app.config["SECRET_KEY"]
        secret_bytes = secret if isinstance(secret, bytes) else str(secret).encode()
        store = store_for(app.extensions["cache"][cache])
        return CodeFlow(settings.captcha, sender, store, limits, secret_bytes, self._before_send, self._clock)

    # -- per-app state ---------------------------------------------------------------------
    def _state(self, app: Flask | None = None) -> _SmsState:
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return self._states[app]
        except KeyError:
            raise RuntimeError("SmsExtension.init_app() was not called for this app") from None

    def _flow(self) -> tuple[Flask, CodeFlow]:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        flow = self._state(app).flow
        if flow is None:
            raise RuntimeError("the verification flow is off: SMS_ENABLE_CAPTCHA is false")
        return app, flow

    def settings(self, app: Flask | None = None) -> Settings:
        """The validated settings of the current app."""
        return self._state(app).settings

    @property
    def clock(self) -> Clock:
        """Where "now" comes from for codes, cool-downs and limits (default ``time.time``); tests replace it."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        for state in self._states.values():
            if state.flow is not None:
                state.flow.clock = clock

    # -- sending ---------------------------------------------------------------------------
    def send(
        self,
        phones: PhoneInput | Iterable[PhoneInput],
        purpose: str,
        params: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send one template to one or many numbers, failing over in ``SMS_PROVIDERS`` order.

        Everything that can be checked locally (numbers, purpose, parameters for
        every provider) is checked before the first vendor is called.
        """
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return self._state(app).sender.send(app, phones, purpose, params)

    # -- the verification flow -----------------------------------------------------------------
    def send_code(self, phone: str, purpose: str | None = None, *, client_ip: str | None = None) -> CodeSent:
        """Send a fresh code, after every check the public route makes.

        Raises an :class:`~flask_sms.errors.SmsHTTPError` (an HTTP exception that
        renders as the route's JSON error) when it refuses. Inside a request the
        client's address defaults to ``request.remote_addr``.
        """
        app, flow = self._flow()
        address, current_request = _client(client_ip)
        return flow.send_code(
            app, phone, purpose or flow.settings.default_purpose, client_ip=address, request=current_request
        )

    def verify_code(
        self, phone: str, code: str, purpose: str | None = None, *, client_ip: str | None = None
    ) -> Verification:
        """Check and consume a code. The result is truthy on success; ``reason`` says why not.

        Inside a request it first counts ``SMS_VERIFY_IP_LIMITS`` for the client,
        as the route does (raises ``RateLimited``).
        """
        app, flow = self._flow()
        address, _ = _client(client_ip)
        return flow.verify_code(app, phone, code, purpose or flow.settings.default_purpose, client_ip=address)

    def check_verify_limit(self, client_ip: str) -> None:
        """Count one verify attempt against ``SMS_VERIFY_IP_LIMITS`` (raises ``RateLimited``).

        ``verify_code`` already does this inside a request; this is for counting elsewhere.
        """
        self._flow()[1].check_verify_limit(client_ip)

    def before_send(self, hook: BeforeSendHook) -> BeforeSendHook:
        """Register ``hook(phone, purpose, request)``; returning ``False`` (or raising
        :class:`~flask_sms.errors.SendRefused`) refuses the send with 403 ``forbidden``."""
        self._before_send.append(hook)
        return hook

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


def send_sms(
    phones: PhoneInput | Iterable[PhoneInput],
    purpose: str,
    params: Mapping[str, Any] | None = None,
) -> SendResult:
    """Send through the current app's :class:`SmsExtension` (see :meth:`SmsExtension.send`)."""
    try:
        extension: SmsExtension = current_app.extensions["sms"]
    except KeyError:
        raise RuntimeError("SmsExtension is not set up on this app; call SmsExtension(app)") from None
    return extension.send(phones, purpose, params)
