"""The verification-code flow: one code per phone and purpose, rate limited, single use.

``send_code`` and ``verify_code`` are the whole flow; the blueprint's routes
only read the request and call them, so an app's own login or register view
gets exactly the same checks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, has_request_context, request

from .errors import (
    CaptchaError,
    Forbidden,
    InvalidPhone,
    InvalidPhoneNumber,
    InvalidPurpose,
    RateLimited,
    RegionNotAllowed,
    SendError,
    SendFailed,
    StorageUnavailable,
)
from .phones import e164, parse_phone, region_of
from .signals import code_sent, code_verified, verification_failed
from .storage import EXPIRED, INVALID, LOCKED, OK, CodeStore, Keys, Quota, keys_for

logger = logging.getLogger("flask_sms")

BeforeSendHook = Callable[[str, str, Any], Any]


@dataclass(frozen=True)
class CaptchaSettings:
    default_purpose: str
    purposes: tuple[str, ...]
    code_length: int
    code_ttl: int
    max_attempts: int
    resend_interval: int
    phone_limits: tuple[Any, ...]
    ip_limits: tuple[Any, ...]
    global_limits: tuple[Any, ...]
    verify_ip_limits: tuple[Any, ...]
    allowed_regions: frozenset[str] | None  # None: every region
    default_region: str


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

    def __bool__(self) -> bool:
        return self.ok


def storage_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the storage cannot be reached" for the installed backends."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError, OSError]
    try:
        from limits.errors import StorageError

        errors.append(StorageError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from redis.exceptions import RedisError

        errors.append(RedisError)
    except ImportError:
        pass
    return tuple(errors)


class CodeService:
    """Per-app flow state: settings, the code store, the limiter and the HMAC key."""

    def __init__(self, settings: CaptchaSettings, store: CodeStore, limiter: Any, secret_key: bytes) -> None:
        self.settings = settings
        self.store = store
        self.limiter = limiter
        # A key of our own, derived from SECRET_KEY, so codes are bound to this use.
        self.hmac_key = hmac.new(secret_key, b"flask_sms verification code v1", hashlib.sha256).digest()
        self.storage_errors = storage_errors()

    # -- pieces ----------------------------------------------------------------------------
    @contextmanager
    def storage(self) -> Iterator[None]:
        """Fail closed: any storage fault becomes 503 ``unavailable``."""
        try:
            yield
        except CaptchaError:
            raise
        except self.storage_errors as exc:
            logger.error("SMS code storage unavailable: %s", exc)
            raise StorageUnavailable() from None

    def digest(self, purpose: str, phone: str, code: str) -> str:
        message = f"{purpose}\x00{phone}\x00{code}".encode()
        return hmac.new(self.hmac_key, message, hashlib.sha256).hexdigest()

    def new_code(self) -> str:
        length = self.settings.code_length
        return f"{secrets.randbelow(10**length):0{length}d}"

    def _limit(self, items: Sequence[Any], *identifiers: str, hit: bool) -> None:
        if not items or self.limiter is None or not self.limiter.enabled:
            return
        strategy = self.limiter.limiter
        for item in items:
            allowed = strategy.hit(item, "flask_sms", *identifiers) if hit else strategy.test(item, "flask_sms", *identifiers)
            if not allowed:
                reset_at = strategy.get_window_stats(item, "flask_sms", *identifiers).reset_time
                raise RateLimited(retry_after=max(1, math.ceil(reset_at - time.time())))

    def parse(self, phone: object, purpose: object) -> tuple[str, str]:
        if not isinstance(purpose, str) or purpose not in self.settings.purposes:
            raise InvalidPurpose()
        try:
            number = parse_phone(phone, self.settings.default_region)
        except InvalidPhoneNumber:
            raise InvalidPhone() from None
        allowed = self.settings.allowed_regions
        if allowed is not None and region_of(number) not in allowed:
            raise RegionNotAllowed()
        return e164(number), purpose

    # -- the flow --------------------------------------------------------------------------
    def send_code(
        self,
        app: Flask,
        phone: object,
        purpose: object,
        hooks: Sequence[BeforeSendHook],
        clock: Callable[[], float],
        send: Callable[[str, str, dict[str, Any]], Any],
    ) -> CodeSent:
        settings = self.settings
        phone, purpose = self.parse(phone, purpose)
        in_request = has_request_context()
        if in_request:
            with self.storage():
                self._limit(settings.ip_limits, "ip", request.remote_addr or "unknown", hit=True)
        for hook in hooks:
            if hook(phone, purpose, request if in_request else None) is False:
                raise Forbidden()

        keys = keys_for(purpose, phone)
        quotas = [(keys.quota(item.amount, item.get_expiry()), item.amount, item.get_expiry())
                  for item in settings.phone_limits]
        code = self.new_code()
        now = clock()
        with self.storage():
            # One atomic step, before the vendor is called: cool-down free and quotas
            # with room, then take the cool-down, store the code and count the send.
            wait = self.store.begin(keys, quotas, self.digest(purpose, phone, code), now,
                                    settings.resend_interval, settings.code_ttl)
            if wait > 0:
                raise RateLimited(retry_after=max(1, math.ceil(wait)))
            try:
                self._limit(settings.global_limits, "global", hit=True)
            except RateLimited:
                self.store.undo(keys, quotas, now)
                raise

        try:
            send(phone, purpose, {"code": code, "minutes": max(1, settings.code_ttl // 60)})
        except SendError as exc:
            logger.error("verification code to %s not sent: %s", phone, exc)
            self._undo(keys, quotas, now)
            raise SendFailed() from None
        except BaseException:
            self._undo(keys, quotas, now)
            raise
        # Nothing touches the storage after a delivered text.
        code_sent.send(app, phone=phone, purpose=purpose)
        return CodeSent(phone, purpose, settings.code_ttl, settings.resend_interval)

    def _undo(self, keys: Keys, quotas: list[Quota], now: float) -> None:
        try:
            self.store.undo(keys, quotas, now)
        except self.storage_errors:
            logger.warning("could not undo an undelivered send (storage unavailable); its cool-down stays")

    def verify_code(self, app: Flask, phone: object, code: object, purpose: object, clock: Callable[[], float]) -> Verification:
        purpose_text = purpose if isinstance(purpose, str) else ""
        try:
            phone, purpose = self.parse(phone, purpose)
        except CaptchaError as exc:
            if isinstance(exc, StorageUnavailable):  # pragma: no cover - parse touches no storage
                raise
            return self._failed(app, None, purpose_text, exc.error)
        if not isinstance(code, str) or not code.isascii():
            return self._failed(app, phone, purpose, INVALID)
        keys = keys_for(purpose, phone)
        settings = self.settings
        with self.storage():
            outcome = self.store.check(
                keys.code, keys.fails, self.digest(purpose, phone, code.strip()), clock(),
                settings.code_ttl, settings.max_attempts,
            )
        if outcome == OK:
            code_verified.send(app, phone=phone, purpose=purpose)
            return Verification(True, None, phone, purpose)
        assert outcome in (INVALID, EXPIRED, LOCKED), outcome
        return self._failed(app, phone, purpose, outcome)

    @staticmethod
    def _failed(app: Flask, phone: str | None, purpose: str, reason: str) -> Verification:
        verification_failed.send(app, phone=phone, purpose=purpose, reason=reason)
        return Verification(False, reason, phone, purpose)

    def verify_limit(self, client_ip: str) -> None:
        with self.storage():
            self._limit(self.settings.verify_ip_limits, "verify_ip", client_ip, hit=True)
