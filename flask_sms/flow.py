"""The verification-code flow: one code per phone and purpose, rate limited, single use.

:class:`CodeFlow` owns every rule of the flow: its clock, its ``before_send``
hooks and all its limits. It is handed the app's :class:`~.sender.Sender` and
never reads the request: callers pass the client's address in, so the routes
and an app's own views get exactly the same checks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from phonenumbers import PhoneNumber

from . import _redact
from .backends import storage_errors
from .codes import INVALID_CODE, VERIFY_FAILURES
from .config import CaptchaSettings
from .errors import (
    InvalidPhoneNumber,
    RateLimited,
    RegionNotAllowed,
    SendRefused,
    SmsHTTPError,
    StorageUnavailable,
    UnknownPurpose,
)
from .messages import message_for
from .phones import e164, parse_phone, region_of
from .ratelimits import RateLimits
from .sender import Sender
from .signals import code_sent, code_verified, verification_failed
from .storage import OK, CodeStore, Keys, Quota, keys_for

logger = logging.getLogger("flask_sms")

#: ``hook(phone, purpose, request)``; returning ``False`` refuses the send
BeforeSendHook = Callable[[str, str, Any], Any]
Clock = Callable[[], float]


@dataclass(frozen=True)
class CodeSent:
    """A code went out. Both times are in seconds."""

    phone: str
    purpose: str
    expires_in: int
    resend_after: int


@dataclass(frozen=True)
class Verification:
    """Truthy when the code was right; otherwise ``reason`` is the error code."""

    ok: bool
    reason: str | None
    phone: str | None
    purpose: str
    #: seconds to wait, when ``reason`` is ``rate_limited`` (``verify_form_code``)
    retry_after: int | None = None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def message(self) -> str | None:
        """Why not, for a person, in the current language (``None`` on success)."""
        return message_for(self.reason) if self.reason else None


class CodeFlow:
    """Per-app flow: settings, sender, code store, limits, HMAC key, hooks and clock."""

    def __init__(
        self,
        settings: CaptchaSettings,
        sender: Sender,
        store: CodeStore,
        limits: RateLimits,
        secret_key: bytes,
        hooks: Sequence[BeforeSendHook],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.store = store
        self.limits = limits
        # A key of our own, derived from SECRET_KEY, so codes are bound to this use.
        self.hmac_key = hmac.new(secret_key, b"flask_sms verification code v1", hashlib.sha256).digest()
        self.hooks = hooks
        self.clock = clock
        self.storage_errors = storage_errors()

    # -- pieces ----------------------------------------------------------------------------
    @contextmanager
    def _storage(self) -> Iterator[None]:
        """Fail closed: any storage fault becomes 503 ``unavailable``."""
        try:
            yield
        except SmsHTTPError:
            raise
        except self.storage_errors as exc:
            logger.error("SMS code storage unavailable: %s", exc)
            raise StorageUnavailable() from None

    def _digest(self, purpose: str, phone: str, code: str) -> str:
        message = f"{purpose}\x00{phone}\x00{code}".encode()
        return hmac.new(self.hmac_key, message, hashlib.sha256).hexdigest()

    def _new_code(self) -> str:
        length = self.settings.code_length
        return f"{secrets.randbelow(10**length):0{length}d}"

    def _parse(self, phone: object, purpose: object) -> tuple[str, PhoneNumber, str]:
        """The one parse of a flow call: (E.164, number, purpose), or the route's 400."""
        if not isinstance(purpose, str) or purpose not in self.settings.captcha_purposes:
            raise UnknownPurpose(purpose, "the purpose is not in SMS_CAPTCHA_PURPOSES")
        number = parse_phone(phone, self.settings.default_region)
        allowed = self.settings.allowed_regions
        if allowed is not None and region_of(number) not in allowed:
            raise RegionNotAllowed()
        return e164(number), number, purpose

    # -- the flow --------------------------------------------------------------------------
    def send_code(
        self, app: Flask, phone: object, purpose: object, *, client_ip: str | None = None, request: Any = None
    ) -> CodeSent:
        """Check everything, store the code, then hand it to the sender; undo if nothing was sent."""
        settings = self.settings
        phone_e164, number, purpose_name = self._parse(phone, purpose)
        if client_ip is not None:
            with self._storage():
                self.limits.hit(settings.ip_limits, "ip", client_ip, now=self.clock())
        for hook in self.hooks:
            if hook(phone_e164, purpose_name, request) is False:
                raise SendRefused()

        keys = keys_for(purpose_name, phone_e164)
        quotas = [
            (keys.quota(item.amount, item.get_expiry()), item.amount, item.get_expiry())
            for item in settings.phone_limits
        ]
        code = self._new_code()
        now = self.clock()
        with self._storage():
            # One atomic step, before the vendor is called: cool-down free and quotas
            # with room, then take the cool-down, store the code and count the send.
            wait = self.store.begin(
                keys,
                quotas,
                self._digest(purpose_name, phone_e164, code),
                now,
                settings.resend_interval,
                settings.code_ttl,
            )
            if wait > 0:
                raise RateLimited(retry_after=max(1, math.ceil(wait)))
            try:
                self.limits.hit(settings.global_limits, "global", now=now)
            except RateLimited:
                self.store.undo(keys, quotas, now)
                raise

        params = {"code": code, "minutes": max(1, settings.code_ttl // 60)}
        try:
            self.sender.send_numbers(app, {phone_e164: number}, purpose_name, params)
        except BaseException:
            self._undo(keys, quotas, now)
            raise
        # Nothing touches the storage after a delivered text.
        code_sent.send(app, phone=phone_e164, purpose=purpose_name)
        return CodeSent(phone_e164, purpose_name, settings.code_ttl, settings.resend_interval)

    def _undo(self, keys: Keys, quotas: list[Quota], now: float) -> None:
        try:
            self.store.undo(keys, quotas, now)
        except self.storage_errors:
            logger.warning("could not undo an undelivered send (storage unavailable); its cool-down stays")

    def verify_code(
        self, app: Flask, phone: object, code: object, purpose: object, *, client_ip: str | None = None
    ) -> Verification:
        """Check and consume a code, after ``SMS_VERIFY_IP_LIMITS`` when the client's address is known."""
        if client_ip is not None:
            self.check_verify_limit(client_ip)
        purpose_text = purpose if isinstance(purpose, str) else ""
        try:
            phone_e164, _, purpose_name = self._parse(phone, purpose)
        except (InvalidPhoneNumber, RegionNotAllowed, UnknownPurpose) as exc:
            return self._failed(app, None, purpose_text, exc.error)
        if not isinstance(code, str) or not code.isascii():
            return self._failed(app, phone_e164, purpose_name, INVALID_CODE)
        keys = keys_for(purpose_name, phone_e164)
        settings = self.settings
        with self._storage():
            outcome = self.store.check(
                keys.code,
                keys.fails,
                self._digest(purpose_name, phone_e164, code.strip()),
                self.clock(),
                settings.code_ttl,
                settings.max_attempts,
            )
        if outcome == OK:
            code_verified.send(app, phone=phone_e164, purpose=purpose_name)
            return Verification(True, None, phone_e164, purpose_name)
        assert outcome in VERIFY_FAILURES, outcome
        return self._failed(app, phone_e164, purpose_name, outcome)

    @staticmethod
    def _failed(app: Flask, phone: str | None, purpose: str, reason: str) -> Verification:
        verification_failed.send(app, phone=phone, purpose=purpose, reason=reason)
        return Verification(False, reason, phone, purpose)

    def storage_problems(self) -> list[str]:
        """Reach the limits storage once (``flask sms check``); the codes live in the same place unless ``cache=``."""
        try:
            reachable = bool(self.limits.storage.check())
        except self.storage_errors as exc:
            return [f"the storage (SMS_STORAGE_URL) cannot be reached: {_redact.redact(str(exc))}"]
        return [] if reachable else ["the storage (SMS_STORAGE_URL) cannot be reached"]

    def check_verify_limit(self, client_ip: str) -> None:
        """Count one verify attempt from ``client_ip`` against ``SMS_VERIFY_IP_LIMITS``."""
        with self._storage():
            self.limits.hit(self.settings.verify_ip_limits, "verify_ip", client_ip, now=self.clock())
