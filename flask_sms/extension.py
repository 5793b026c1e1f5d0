"""``SmsExtension``: wires the sender, the code flow and the receipts into one or more apps.

The extension builds things and hands calls down; it holds no rule of its own. Its public
surface is small, in the shape of Flask-SQLAlchemy's ``db.session``: sending (``send``), the
verification flow's everyday calls (``send_code``, ``verify_code``, ``redeem_token``, which read
the request), registration hooks, and two per-app properties for everything else:
:attr:`~SmsExtension.codes` (the app's :class:`~flask_sms.flow.CodeFlow`) and
:attr:`~SmsExtension.receipts` (its :class:`~flask_sms.receipts.Receipts`).

Per-app state lives in a weak mapping keyed by the app (Flask-Mail keeps a
``_Mail`` the same way), so the extension never keeps an app alive and one
instance can serve an app factory. It is built by :func:`flask_sms.state.build_state`.
"""

from __future__ import annotations

import logging
import sys
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, current_app, request

from . import backends, channels, dev_inbox, forms, messages, metrics, test_numbers
from .blueprint import blueprint
from .challenge import ChallengeVerifier
from .cli import sms_cli
from .clock import Clock, TimeSource
from .config import Registration, Settings, apply_defaults, load_settings, registration
from .errors import ConfigError, SmsError
from .flow import BeforeSendHook, CodeFlow, CodeSent, Verification
from .guard_books import Decision
from .phones import PhoneInput
from .providers import split_entry
from .receipt_views import receipts_blueprint
from .receipts import Receipts
from .results import SendResult, SmsMessage
from .sender import Sender
from .signals import sms_sent
from .state import AppState, build_state, mask_secrets, open_storage

if TYPE_CHECKING:
    from .interface import SmsInterface

logger = logging.getLogger("flask_sms")


class SmsExtension:
    """Sends texts through the configured vendors, with failover, and runs the code flow, for any number of apps.

    ``cache=`` and ``limiter=`` are an app's own Flask-Caching and Flask-Limiter objects, used through
    their public APIs: codes go to the cache (on a Redis cache, the atomic steps run as scripts on the
    Redis ``SMS_STORAGE_URL`` names), limits to the limiter's storage.
    """

    def __init__(self, app: Flask | None = None, *, cache: Any = None, limiter: Any = None) -> None:
        self._cache = cache
        self._limiter = limiter
        self._before_send: list[BeforeSendHook] = []
        self._locale_selectors: list[messages.LocaleSelector] = []
        self._challenge_verifiers: list[ChallengeVerifier] = []
        self._clock = Clock()
        self._states: weakref.WeakKeyDictionary[Flask, AppState] = weakref.WeakKeyDictionary()
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
            state = AppState(None, error=exc)
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

    def _build(self, app: Flask) -> AppState:
        settings = load_settings(app)
        mask_secrets(settings)
        opened = open_storage(app, settings, cache=self._cache, limiter=self._limiter, clock=self._clock)
        state = build_state(
            app,
            settings,
            opened,
            secret_key=_secret_key(app),
            clock=self._clock,
            hooks=self._before_send,
            verifiers=self._challenge_verifiers,
        )
        messages.set_language(app, settings.language, self._locale_selectors)
        _warn_if_console(app, settings)
        logger.info("flask_sms: providers %s; storage %s", _shown_providers(settings), state.storage)
        return state

    # -- per-app state ---------------------------------------------------------------------
    def _state(self, app: Flask | None = None) -> AppState:
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

    def check(self, app: Flask | None = None) -> Settings:
        """Raise the app's :class:`ConfigError` (every problem) if its ``SMS_*`` config has any.

        What ``flask sms check`` runs; call it at the end of an app factory to fail
        at startup instead of on first use. Returns the validated settings when all is well.
        """
        settings = self._state(app).settings
        assert settings is not None
        return settings

    @property
    def codes(self) -> CodeFlow:
        """The current app's verification flow: :class:`~flask_sms.flow.CodeFlow`, for everything beyond
        :meth:`send_code`, :meth:`verify_code` and :meth:`redeem_token` (``issue_token``,
        ``verify_form_code``, ``check_origin``, ``check_verify_limit``, ``settings``, ``storage``).

        Raises the app's :class:`ConfigError` when its config has problems, and ``RuntimeError``
        when the flow is off (``SMS_ENABLE_CAPTCHA = False``).
        """
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(app)
        if state.codes is None:
            raise RuntimeError("the verification flow is off: SMS_ENABLE_CAPTCHA is false")
        for note in state.notes:
            backends.warn_once(note, app)
        return state.codes

    @property
    def receipts(self) -> Receipts:
        """The current app's delivery reports: :class:`~flask_sms.receipts.Receipts` (``push``, ``fetch``,
        ``status``).

        Raises :class:`SmsError` when the app keeps no storage for them (``SMS_RECEIPT_TOKEN`` unset and
        the verification flow off).
        """
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        state = self._state(app)
        if state.receipts is None:
            raise SmsError(
                "delivery reports need a storage: set SMS_RECEIPT_TOKEN (receipts on), or keep the verification flow on"
            )
        for note in state.receipt_notes:
            backends.warn_once(note, app)
        return state.receipts

    @property
    def blueprint(self) -> Blueprint:
        """The ``sms`` blueprint of the routes, e.g. for ``csrf.exempt(sms.blueprint)``."""
        return blueprint

    @property
    def clock(self) -> TimeSource:
        """Where "now" comes from for codes, cool-downs, limits, the circuit breakers, the fraud guard and the
        receipts (default ``time.time``); tests replace it, and every piece of every app follows at once."""
        return self._clock.source

    @clock.setter
    def clock(self, clock: TimeSource) -> None:
        self._clock.use(clock)

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
        then carry the ``code`` the call reads out). Errors are plain exceptions
        (``SendError``, ``InvalidPhoneNumber`` ...), not HTTP ones.
        """
        app, sender = self._sender(channel)
        return sender.send(app, phones, purpose, params, out_id=out_id, idempotent=idempotent)

    # -- the verification flow, reading the request -----------------------------------------------------
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
        (428) asks for ``challenge``, the solved human check. Inside a request it refuses a
        cross-site request first, and the client's address defaults to ``request.remote_addr``.
        ``channel="voice"`` calls the phone instead (``SMS_VOICE_PROVIDERS``); the call replaces
        any texted code, as a text replaces a called one. Keep the result's ``nonce`` for
        :meth:`verify_code`. :meth:`CodeFlow.send_code <flask_sms.flow.CodeFlow.send_code>` is the
        same without reading the request.
        """
        codes, current = self._codes_for_request()
        return codes.send_code(
            phone,
            purpose,
            client_ip=forms.client_address(current, client_ip),
            request=current,
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
        codes, current = self._codes_for_request()
        return codes.send_external_code(
            phone,
            code,
            purpose=purpose,
            client_ip=forms.client_address(current, client_ip),
            request=current,
            challenge=challenge,
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
        codes, current = self._codes_for_request()
        address = forms.client_address(current, client_ip)
        return codes.verify_code(phone, code, purpose, client_ip=address, nonce=nonce, challenge=challenge)

    def redeem_token(self, token: str, purpose: str | None = None) -> str | None:
        """The verified E.164 phone of a token from ``POST /sms_captcha/verify``, exactly once.

        Returns ``None`` for a token that is forged, expired, already redeemed (by
        any worker: the token's id is kept in the code storage), issued for
        another purpose (``purpose`` defaults to ``SMS_DEFAULT_PURPOSE``), or minted
        by another app, even one with the same ``SECRET_KEY`` (``SMS_TOKEN_AUDIENCE``). Raises
        ``StorageUnavailable`` when the storage cannot be reached (fail closed).
        """
        return self.codes.redeem_token(token, purpose)

    def _codes_for_request(self) -> tuple[CodeFlow, Any]:
        """The flow, and the current request (``None`` outside one) once it passed the cross-site check."""
        codes = self.codes
        current = forms.current_request()
        if current is not None:
            codes.check_origin(current)
        return codes, current

    def guard_status(self, app: Flask | None = None) -> list[Decision]:
        """What the fraud guard challenges or blocks now, with the counts behind each decision
        (``flask sms guard`` prints the same). Empty when ``SMS_FRAUD_GUARD`` is off."""
        state = self._state(app)
        if state.codes is None or state.codes.guard is None:
            return []
        return state.codes.guard.status()

    # -- hooks -------------------------------------------------------------------------------------
    def challenge_verifier(self, verifier: ChallengeVerifier) -> ChallengeVerifier:
        """Register ``verifier(challenge, client_ip) -> bool``: your own human check, in place of
        ``SMS_CHALLENGE``'s. Raising from it refuses the challenged request (503, fail closed)."""
        self._challenge_verifiers.append(verifier)
        return verifier

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


def _secret_key(app: Flask) -> bytes:
    secret = app.config["SECRET_KEY"]
    return secret if isinstance(secret, bytes) else str(secret).encode()


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


def _enable_extras(app: Flask, state: AppState) -> None:
    """The dev inbox (``SMS_DEV_INBOX``) and the Prometheus metrics (``SMS_METRICS``), when on."""
    if state.codes is not None and state.codes.settings.dev_inbox:
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


if TYPE_CHECKING:

    def _conforms(sms: SmsExtension) -> SmsInterface:
        """mypy checks here that the extension is what the routes, the CLI and contrib expect of it."""
        return sms
