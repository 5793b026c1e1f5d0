"""``SmsExtension``: config, provider clients and the send function for one or more apps."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, current_app

from . import _redact, backends
from .captcha import BeforeSendHook, CodeSent, CodeService, Verification
from .config import Settings, apply_defaults, load_settings
from .errors import ConfigError, SendError, SmsError, UnknownPurpose
from .phones import PhoneInput, parse_phones
from .providers import Provider, provider_class
from .sending import PlanStep, SendResult, SmsMessage, deliver
from .signals import sms_failed, sms_sent
from .storage import store_for

logger = logging.getLogger("flask_sms")


@dataclass
class _AppState:
    """Everything built once per app: settings, provider clients, the chunk pool."""

    settings: Settings
    providers: list[Provider]
    codes: CodeService | None = None
    pool: ThreadPoolExecutor | None = field(default=None)

    def chunk_pool(self) -> ThreadPoolExecutor:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.settings.max_concurrency, thread_name_prefix="flask_sms")
        return self.pool


def _build_providers(settings: Settings) -> list[Provider]:
    providers = []
    problems = []
    for name in settings.providers:
        cls = provider_class(name)
        options = settings.provider_settings[name]
        _redact.register(*(options.get(key) for key in cls.credentials))
        _redact.guard_loggers(*cls.sdk_loggers)
        try:
            providers.append(cls(options, settings.timeout))
        except Exception as exc:  # noqa: BLE001 -- an SDK refusing its arguments is a config problem
            problems.append(f"provider {name!r} could not be set up: {_redact.redact(str(exc))}")
    if problems:
        raise ConfigError(problems)
    return providers


class SmsExtension:
    """Sends texts through the configured vendors, with failover, for any number of apps.

    Per-app state lives in a weak mapping keyed by the app, so the extension
    never keeps an app alive and one instance can serve an app factory.
    """

    #: where "now" comes from for codes and cool-downs; tests replace it
    clock: Callable[[], float] = staticmethod(time.time)

    def __init__(self, app: Flask | None = None, *, cache: Any = None, limiter: Any = None) -> None:
        self.cache = cache
        self.limiter = limiter
        self._before_send: list[BeforeSendHook] = []
        self._states: weakref.WeakKeyDictionary[Flask, _AppState] = weakref.WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        apply_defaults(app)
        settings = load_settings(app)
        providers = _build_providers(settings)
        _redact.guard_loggers("flask_sms")
        state = _AppState(settings, providers)
        logger.info(
            "flask_sms: providers %s; storage %s",
            ", ".join(settings.providers),
            _redact.url_without_password(settings.storage_url) if settings.captcha else "off (SMS_ENABLE_CAPTCHA is false)",
        )
        if settings.captcha is not None:
            state.codes = self._code_service(app, settings)
            from .blueprint import blueprint

            app.register_blueprint(blueprint, url_prefix=settings.url_prefix or None)
        self._states[app] = state
        app.extensions["sms"] = self

        from .cli import sms_cli

        app.cli.add_command(sms_cli)

    def _code_service(self, app: Flask, settings: Settings) -> CodeService:
        assert settings.captcha is not None
        url, timeout = settings.storage_url, settings.timeout
        _redact.register_url_password(url)
        _redact.guard_loggers("redis", "redis.connection", "flask_limiter", "limits")
        if self.cache is not None:
            cache = backends.adopt_cache(app, self.cache)
        else:
            cache = backends.make_cache(app, url, timeout)
        if self.limiter is not None:
            limiter = backends.adopt_limiter(app, self.limiter)
        else:
            limiter = backends.OwnLimits(url, timeout)
        backends.warn_if_per_process(app, url, own_cache=self.cache is None)
        secret = app.config["SECRET_KEY"]
        secret_bytes = secret if isinstance(secret, bytes) else str(secret).encode()
        store = store_for(app.extensions["cache"][cache])
        return CodeService(settings.captcha, store, limiter, secret_bytes)

    # -- helpers ---------------------------------------------------------------------------
    def _state(self, app: Flask | None = None) -> _AppState:
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return self._states[app]
        except KeyError:
            raise RuntimeError("SmsExtension.init_app() was not called for this app") from None

    def settings(self, app: Flask | None = None) -> Settings:
        """The validated settings of the current app."""
        return self._state(app).settings

    def _plan(self, state: _AppState, purpose: str, params: Mapping[str, Any]) -> list[PlanStep]:
        plan = []
        for provider in state.providers:
            template = provider.template_for(purpose)
            if template is not None:
                plan.append(PlanStep(provider, template, provider.render(purpose, template, params)))
        if not plan:
            raise UnknownPurpose(purpose)
        return plan

    # -- public API ------------------------------------------------------------------------
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
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(app)
        if not isinstance(purpose, str) or not purpose:
            raise SmsError(f"purpose must be a non-empty string (got {purpose!r})")
        if params is not None and not isinstance(params, Mapping):
            raise SmsError(f"params must be a mapping of names to values (got {type(params).__name__})")
        values = {str(name): value for name, value in (params or {}).items()}
        numbers = parse_phones(phones, state.settings.default_region)
        plan = self._plan(state, purpose, values)
        message = SmsMessage(
            tuple(numbers),
            purpose,
            {name: str(value) for name, value in values.items() if value is not None},
        )

        if state.settings.suppress_send:
            first = plan[0].provider.name
            result = SendResult(
                ok=True, provider=first, delivered=dict.fromkeys(message.phones, first), suppressed=True
            )
        else:
            pool = state.chunk_pool() if len(numbers) > plan[0].provider.max_per_request else None
            result = deliver(plan, numbers, pool)
            if not result.delivered:
                error = SendError(result.attempts, result)
                logger.error("SMS %r to %d number(s) failed on every provider: %s", purpose, len(numbers), error)
                sms_failed.send(app, message=message, error=error)
                raise error
        sms_sent.send(app, message=message, result=result)
        return result

    # -- the verification flow -----------------------------------------------------------------
    def _codes(self) -> tuple[Flask, CodeService]:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        codes = self._state(app).codes
        if codes is None:
            raise RuntimeError("the verification flow is off: SMS_ENABLE_CAPTCHA is false")
        return app, codes

    def send_code(self, phone: str, purpose: str | None = None) -> CodeSent:
        """Send a fresh code, after every check the public route makes.

        Raises a :class:`~flask_sms.errors.CaptchaError` (an HTTP exception
        that renders as the route's JSON error) when it refuses.
        """
        app, codes = self._codes()
        return codes.send_code(
            app, phone, purpose or codes.settings.default_purpose, self._before_send, self.clock, self.send
        )

    def verify_code(self, phone: str, code: str, purpose: str | None = None) -> Verification:
        """Check and consume a code. The result is truthy on success; ``reason`` says why not."""
        app, codes = self._codes()
        return codes.verify_code(app, phone, code, purpose or codes.settings.default_purpose, self.clock)

    def check_verify_limit(self, client_ip: str) -> None:
        """Count one verify attempt against ``SMS_VERIFY_IP_LIMITS`` (raises ``RateLimited``)."""
        self._codes()[1].verify_limit(client_ip)

    def before_send(self, hook: BeforeSendHook) -> BeforeSendHook:
        """Register ``hook(phone, purpose, request)``; returning ``False`` (or raising
        :class:`~flask_sms.errors.Forbidden`) refuses the send with 403 ``forbidden``."""
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
        extension = current_app.extensions["sms"]
    except KeyError:
        raise RuntimeError("SmsExtension is not set up on this app; call SmsExtension(app)") from None
    return extension.send(phones, purpose, params)
