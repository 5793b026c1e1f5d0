"""The verification-code flow, ``sms.codes``: one code per phone and purpose, rate limited, single use.

:class:`CodeFlow` owns every rule of the flow: its clock, its ``before_send``
hooks, all its limits, the cross-site refusal and the verification tokens. It is
handed the app's :class:`~.sender.Sender` and never reads the request itself:
callers pass what they read (the client's address, the request for the hooks and
the cross-site check) in, so the routes and an app's own views get exactly the
same checks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from phonenumbers import PhoneNumber

from . import _redact, code_backends, forms, reporting
from .backends import evicting_cache_warnings, eviction_warnings, storage_errors
from .challenge import ChallengeVerifier, Unreachable
from .channels import SMS, VOICE, VoiceRoute, channel_problem, voice_keys
from .code_backends import CheckUnavailable, VendorRoute
from .codes import CODE_EXPIRED, INVALID_CODE, VERIFY_FAILURES
from .config import CaptchaSettings
from .errors import (
    ChallengeFailed,
    ChallengeRequired,
    ChallengeUnavailable,
    CrossSiteRequest,
    FraudSuspected,
    HTTPInvalidPhoneNumber,
    HTTPUnknownPurpose,
    InvalidPhoneNumber,
    PhoneRejected,
    RateLimited,
    RegionNotAllowed,
    SendRefused,
    SmsHTTPError,
    StorageUnavailable,
    UnknownPurpose,
    as_refusal,
)
from .guard import FraudGuard, SendTicket
from .messages import detail_for, message_for
from .nonces import NonceSigner
from .options import normalise_origin
from .phones import e164, number_type, parse_phone, region_of
from .ratelimits import RateLimits, client_key
from .sender import Sender
from .signals import code_sent, code_verified, verification_failed
from .storage import OK, CodeStore, Keys, Quota, token_key
from .tokens import TokenSigner

logger = logging.getLogger("flask_sms")


def _same_keys(keys: Keys) -> Keys:
    return keys


#: ``hook(phone, purpose, request)``; returning ``False`` refuses the send
BeforeSendHook = Callable[[str, str, Any], Any]


@dataclass(frozen=True)
class CodeSent:
    """A code went out. Both times are in seconds."""

    phone: str
    purpose: str
    expires_in: int
    resend_after: int
    #: ``"sms"`` or ``"voice"``: how this code went out
    channel: str = SMS
    #: seconds until a call may be asked for instead, when voice is offered for this phone (else ``None``)
    voice_after: int | None = None
    #: echo it in the verify request: it proves this client asked for the code (see :mod:`.nonces`)
    nonce: str = ""


@dataclass(frozen=True)
class _Way:
    """How one channel sends a code: its sender, cool-down, quotas, and the keys they are counted under."""

    sender: Sender
    resend_interval: int
    phone_limits: tuple[Any, ...]
    keys: Callable[[Keys], Keys]


@dataclass(frozen=True)
class _Send:
    """One code on its way: the number, the purpose, the code, and its digest (empty: another library keeps it)."""

    phone: str
    number: PhoneNumber
    purpose: str
    code: str
    digest: str
    #: sent through the vendor-checked backend (SMS_CODE_BACKEND); ``code`` is empty and ``digest`` a marker
    #: when the vendor makes the code (not for a test number, nor under SMS_SUPPRESS_SEND)
    vendor: bool = False


@dataclass(frozen=True)
class _Client:
    """Who asks: the client's address, the channel, and whether its human check passed."""

    app: Any
    address: str | None
    channel: str
    passed: bool


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
    """One app's verification flow (``sms.codes``): send a code, check it, hand out and redeem the proof.

    Built once per app by the extension; reach it as :attr:`SmsExtension.codes
    <flask_sms.SmsExtension.codes>`. :meth:`SmsExtension.send_code <flask_sms.SmsExtension.send_code>` and
    ``verify_code`` read the request (the client's address, the cross-site check) and call the methods
    of the same names here; call these yourself where there is no request, or to pass what you read.
    Every refusal is an :class:`~flask_sms.SmsHTTPError` that renders as the routes' JSON.
    """

    def __init__(
        self,
        app: object,
        settings: CaptchaSettings,
        sender: Sender,
        store: CodeStore,
        limits: RateLimits,
        secret_key: bytes,
        hooks: Sequence[BeforeSendHook],
        clock: Callable[[], float],
        *,
        voice: VoiceRoute | None = None,
        vendor: VendorRoute | None = None,
        guard: FraudGuard | None = None,
        verifiers: Sequence[ChallengeVerifier] = (),
        storage: str = "",
    ) -> None:
        #: the app the flow's signals are sent for (a weak reference: the app owns the flow)
        self._app = weakref.ref(app)
        #: ``SMS_*`` settings of the flow (codes, limits, purposes, tokens)
        self.settings = settings
        #: where codes and limits really live, without passwords (what the startup log line says)
        self.storage = storage
        #: the fraud guard (``SMS_FRAUD_GUARD``); ``None`` when it is off
        self.guard = guard
        #: the voice channel (``SMS_VOICE_PROVIDERS``); ``None`` when it is off
        self._voice = voice
        #: the vendor-checked code backend (SMS_CODE_BACKEND); ``None``: codes are made and checked here
        self._vendor = vendor
        #: whether the vendor makes and checks the codes: not under SMS_SUPPRESS_SEND, where no vendor is
        #: asked, so codes are made and checked here and ``record_messages()`` shows them as with any backend
        self._vendor_checks = vendor is not None and not vendor.sender.suppress
        #: where a phone's code and attempt count are kept: per purpose, or per number when the vendor
        #: keeps one code per number (see :func:`flask_sms.code_backends.keys_function`)
        self._keys = code_backends.keys_function(vendor)
        self._ways = {SMS: _Way(sender, settings.resend_interval, settings.phone_limits, _same_keys)}
        if voice is not None:
            self._ways[VOICE] = _Way(
                voice.sender, voice.settings.resend_interval, voice.settings.phone_limits, voice_keys
            )
        self._store = store
        self._limits = limits
        # A key of our own, derived from SECRET_KEY, so codes are bound to this use.
        self._hmac_key = hmac.new(secret_key, b"flask_sms verification code v1", hashlib.sha256).digest()
        self._tokens = TokenSigner(secret_key, settings.token_audience)
        self._nonces = NonceSigner(secret_key)
        self._hooks = hooks
        self._clock = clock
        self._storage_errors = storage_errors()
        #: the human check: the last of these (``@sms.challenge_verifier``, else ``SMS_CHALLENGE``'s)
        self._verifiers = verifiers
        #: the key of this flow's storage outage, said once per process while it lasts
        self._outage = f"storage:{id(self)}"

    # -- pieces ----------------------------------------------------------------------------
    @contextmanager
    def _fail_closed(self) -> Iterator[None]:
        """Fail closed: any storage fault becomes 503 ``unavailable``."""
        try:
            yield
        except SmsHTTPError:
            raise
        except self._storage_errors as exc:
            reporting.once(
                self._outage,
                logging.ERROR,
                "flask_sms answers 503 unavailable: its code storage cannot be reached (said once until it "
                "answers again): %s",
                exc,
            )
            raise StorageUnavailable() from None
        if reporting.forget(self._outage):
            reporting.say(logging.WARNING, "flask_sms: the code storage answers again")

    def _digest(self, purpose: str, phone: str, code: str) -> str:
        message = f"{purpose}\x00{phone}\x00{code}".encode()
        return hmac.new(self._hmac_key, message, hashlib.sha256).hexdigest()

    def _new_code(self) -> str:
        length = self.settings.code_length
        return f"{secrets.randbelow(10**length):0{length}d}"

    def _parse(self, phone: object, purpose: object, *, route: bool = True) -> tuple[str, PhoneNumber, str]:
        """The one parse of a flow call: (E.164, number, purpose), or the route's 400. ``route``: the purpose must
        be one the routes offer (SMS_CAPTCHA_PURPOSES)."""
        if not isinstance(purpose, str) or (route and purpose not in self.settings.captcha_purposes):
            raise HTTPUnknownPurpose(purpose, "the purpose is not in SMS_CAPTCHA_PURPOSES")
        try:
            number = parse_phone(phone, self.settings.default_region)
        except InvalidPhoneNumber as exc:
            raise as_refusal(exc) from None
        allowed = self.settings.allowed_regions
        if allowed is not None and region_of(number) not in allowed:
            raise RegionNotAllowed()
        types = self.settings.allowed_number_types
        if types is not None and number_type(number) not in types:
            raise HTTPInvalidPhoneNumber(
                phone, "not a mobile number (SMS_ALLOWED_NUMBER_TYPES)", detail_for("not_mobile")
            )
        return e164(number), number, purpose

    def check_origin(self, request: Any) -> None:
        """Refuse a browser request sent from another site (:class:`~flask_sms.CrossSiteRequest`, 403 ``forbidden``).

        ``request`` is the request to judge (``flask.request`` in a view): its ``Origin`` and
        ``Sec-Fetch-Site`` headers and its host. A request passes when it carries neither header (curl,
        server-to-server, tests), when the browser says ``Sec-Fetch-Site: same-origin``, or when its
        ``Origin`` is the app's own host (any scheme: a TLS proxy may hide the scheme) or is listed in
        ``SMS_ALLOWED_ORIGINS``. Anything else, ``Sec-Fetch-Site: cross-site`` first of all, is refused
        before any limit is counted or any storage touched. The routes, ``sms.send_code`` and
        ``sms.verify_code`` make this check first; call it in a view of yours that should refuse
        cross-site requests the same way.
        """
        allowed = self.settings.allowed_origins
        if allowed is None:  # ["*"]
            return
        headers = request.headers
        origin = headers.get("Origin")
        site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
        if origin is None:
            if site == "cross-site":
                raise CrossSiteRequest()
            return
        if not _origin_passes(origin, site, request.host, allowed):
            raise CrossSiteRequest(origin)

    # -- the flow --------------------------------------------------------------------------
    def send_code(
        self,
        phone: object,
        purpose: object = None,
        *,
        client_ip: str | None = None,
        request: Any = None,
        channel: str = SMS,
        challenge: Mapping[str, str] | None = None,
    ) -> CodeSent:
        """Check everything, store the code, then hand it to the channel's sender; undo if nothing was sent.

        ``purpose`` defaults to ``SMS_DEFAULT_PURPOSE``. ``client_ip`` is counted against
        ``SMS_IP_LIMITS`` when given; ``request`` is what the ``before_send`` hooks see. One code
        lives per phone and purpose, whatever the channel: a call replaces a texted code and the
        other way round. Each channel has its own cool-down and quotas. Keep the result's
        ``nonce`` for :meth:`verify_code`.
        """
        self._way(channel)  # a channel that is off or unknown: the route's 400 before anything else
        phone_e164, number, purpose_name = self._parse(phone, purpose or self.settings.default_purpose)
        sent = self._code_for(phone_e164, number, purpose_name)
        return self._send(self._app(), sent, client_ip, request, channel, challenge)

    def _code_for(self, phone: str, number: PhoneNumber, purpose: str) -> _Send:
        """Our code for the phone (a test number's fixed one, SMS_TEST_NUMBERS), or the vendor's, which we never see."""
        code = self.settings.test_numbers.get(phone)
        if code is None and self._vendor_checks:
            return _Send(phone, number, purpose, "", code_backends.marker(purpose), vendor=True)
        code = code or self._new_code()
        return _Send(phone, number, purpose, code, self._digest(purpose, phone, code), vendor=self._vendor is not None)

    def send_external_code(
        self,
        phone: object,
        code: str,
        *,
        purpose: str,
        client_ip: str | None = None,
        request: Any = None,
        challenge: Mapping[str, str] | None = None,
    ) -> CodeSent:
        """Send a code another library made and checks itself, under every limit of :meth:`send_code`; nothing is
        stored but the cool-down and the counts. ``purpose`` needs a template, not a place in SMS_CAPTCHA_PURPOSES
        (the public route never sends it)."""
        if not isinstance(code, str) or not code.strip() or len(code) > 32:
            raise ValueError("send_external_code needs the code as a non-empty string of at most 32 characters")
        if not purpose:
            raise HTTPUnknownPurpose(purpose, "send_external_code needs a purpose that a provider has a template for")
        phone_e164, number, purpose_name = self._parse(phone, purpose, route=False)
        sent = _Send(phone_e164, number, purpose_name, code.strip(), "")
        return self._send(self._app(), sent, client_ip, request, SMS, challenge)

    def _send(
        self,
        app: Any,
        sent: _Send,
        client_ip: str | None,
        request: Any,
        channel: str = SMS,
        challenge: Mapping[str, str] | None = None,
    ) -> CodeSent:
        """The one way a code goes out: per-IP limit, hooks, the human check, then :meth:`_begin` (the code
        store, the fraud guard, the ceiling) and the channel's vendor call."""
        settings = self.settings
        way = self._ways[channel]
        client = self._admit(app, sent, client_ip, request, channel, challenge)
        phone_keys = self._keys(sent.purpose, sent.phone)
        if channel == VOICE:
            self._offered(phone_keys)
        keys, quotas, now, ticket = self._begin(sent, way, way.keys(phone_keys), client)
        params = {"code": sent.code, "minutes": max(1, settings.code_ttl // 60)} if sent.code else {}
        sender = self._vendor.sender if sent.vendor and self._vendor is not None else way.sender

        def give_back() -> None:
            self._undo(keys, quotas, now, code=bool(sent.digest))
            self._guard_undo(ticket)

        _hand_over(sender, app, sent, params, give_back)
        # Sent, or may have been (the vendor never answered): the code, the cool-down and the
        # quota stay, so a slow vendor cannot be made to text a phone again and again.
        # Nothing touches the storage after a delivered text.
        code_sent.send(app, phone=sent.phone, purpose=sent.purpose, channel=channel)
        voice_after = self._voice_after(channel, phone_keys, now) if sent.digest else None
        if not sent.digest:
            return CodeSent(sent.phone, sent.purpose, 0, way.resend_interval, channel, voice_after)
        # the nonce names a code we keep; a vendor-checked one is checked there, for anyone alike
        nonce = "" if sent.code == "" else self._nonces.make(sent.purpose, sent.phone, now + settings.code_ttl)
        return CodeSent(sent.phone, sent.purpose, settings.code_ttl, way.resend_interval, channel, voice_after, nonce)

    def _admit(
        self,
        app: Any,
        sent: _Send,
        client_ip: str | None,
        request: Any,
        channel: str,
        challenge: Mapping[str, str] | None,
    ) -> _Client:
        """The refusals before any code is stored: the per-IP limit, the hooks, the human check."""
        settings = self.settings
        if client_ip is not None:
            with self._fail_closed():
                self._limits.hit(
                    settings.ip_limits, "ip", client_key(client_ip, settings.ipv6_prefix), now=self._clock()
                )
        for hook in self._hooks:
            if hook(sent.phone, sent.purpose, request) is False:
                raise SendRefused()
        client = _Client(app, client_ip, channel, self._challenge_passed(challenge, client_ip))
        if settings.challenge_mode == "always" and not client.passed:
            raise ChallengeRequired()
        return client

    def _begin(
        self, sent: _Send, way: _Way, keys: Keys, client: _Client
    ) -> tuple[Keys, list[Quota], float, SendTicket | None]:
        """Every refusal before the vendor is called: (the keys, the quotas counted, now, the guard's ticket).

        First the code store's atomic step (the channel's cool-down free and quotas with room: take the
        cool-down, store the code if it is ours, count the send), then the fraud guard (it sees only sends
        the flow's own rules let through), then the app-wide ceiling. A refusal gives back what the
        steps before it took.
        """
        settings = self.settings
        quotas = [
            (keys.quota(item.amount, item.get_expiry()), item.amount, item.get_expiry()) for item in way.phone_limits
        ]
        now = self._clock()
        with self._fail_closed():
            wait = self._store.begin(keys, quotas, sent.digest, now, way.resend_interval, settings.code_ttl)
        if wait > 0:
            quotas, ticket = [], self._despite_quota(sent, way, client, keys, now, wait)
        else:
            try:
                ticket = self._guard_send(sent, client)
            except BaseException:
                self._undo(keys, quotas, now, code=bool(sent.digest))
                raise
        try:
            with self._fail_closed():
                self._limits.hit(settings.global_limits, "global", now=now)
        except BaseException:
            self._undo(keys, quotas, now, code=bool(sent.digest))
            self._guard_undo(ticket)
            raise
        return keys, quotas, now, ticket

    def _guard_send(self, sent: _Send, client: _Client) -> SendTicket | None:
        """The fraud guard's judgement of a send (safe and test numbers are neither judged nor counted)."""
        settings = self.settings
        if self.guard is None or sent.phone in settings.safe_numbers or sent.phone in settings.test_numbers:
            return None
        return self.guard.before_send(
            client.app,
            sent.number,
            sent.phone,
            sent.purpose,
            client.address,
            client.passed,
            convertible=bool(sent.digest),
            channel=client.channel,
        )

    def _despite_quota(
        self, sent: _Send, way: _Way, client: _Client, keys: Keys, now: float, wait: float
    ) -> SendTicket | None:
        """A phone whose quota an attacker spent still gets its owner's code: a request from a network
        that has not texted it, with a passed human check, is not refused by the quota (the cool-down
        stays). Anything else the code store refused: ``RateLimited``.

        Without a human check configured, or with the guard off, the quota refuses as always.
        """
        settings = self.settings
        if wait <= way.resend_interval or not self._verifiers:
            raise RateLimited(retry_after=max(1, math.ceil(wait)))
        ticket = self._guard_send(sent, client)
        if ticket is None or not ticket.new_network_for_phone:
            self._guard_undo(ticket)
            raise RateLimited(retry_after=max(1, math.ceil(wait)))
        if not client.passed:
            self._guard_undo(ticket)
            raise ChallengeRequired()
        with self._fail_closed():
            wait = self._store.begin(keys, [], sent.digest, now, way.resend_interval, settings.code_ttl)
        if wait > 0:
            self._guard_undo(ticket)
            raise RateLimited(retry_after=max(1, math.ceil(wait)))
        return ticket

    def _guard_undo(self, ticket: SendTicket | None) -> None:
        if self.guard is not None:
            self.guard.undo(ticket)

    def _challenge_passed(self, challenge: Mapping[str, str] | None, client_ip: str | None) -> bool:
        """Whether the request's human check passed (False when it brought none).

        A wrong one raises ``ChallengeFailed`` (400); a verifier that cannot be reached (or that
        raises) ``ChallengeUnavailable`` (503): fail closed, and only requests that carry a
        challenge feel it.
        """
        if challenge is None:
            return False
        if not self._verifiers:
            raise ChallengeFailed()
        verifier = self._verifiers[-1]
        try:
            passed = verifier(challenge, client_ip or "")
        except Unreachable as exc:
            logger.error("flask_sms: the human check's verifier could not be reached: %s", exc)
            raise ChallengeUnavailable() from None
        except Exception:
            logger.exception("flask_sms: the human check's verifier raised")
            raise ChallengeUnavailable() from None
        if passed is not True:
            raise ChallengeFailed()
        return True

    def _way(self, channel: str) -> _Way:
        """The channel's way of sending, or the route's 400 (``field: channel``) for one that is off or unknown."""
        way = self._ways.get(channel) if isinstance(channel, str) else None
        if way is None:
            problem = channel_problem(channel, self._voice)
            assert problem is not None
            raise problem
        return way

    def _offered(self, keys: Keys) -> None:
        """A call only after ``SMS_VOICE_AFTER`` texts within the code's lifetime (403 ``forbidden``)."""
        assert self._voice is not None
        with self._fail_closed():
            self._voice.check_offered(keys, self._clock())

    def _voice_after(self, channel: str, keys: Keys, now: float) -> int | None:
        """When the send answer may offer a call (``voice_after``): after a text once enough went out, and again
        after a call's cool-down. A text is noted (after it went out) only while voice is on."""
        voice = self._voice
        if voice is None:
            return None
        if channel == VOICE:
            return voice.settings.resend_interval
        texted = voice.texts.texted(keys, now) if voice.settings.after else 0
        return self.settings.resend_interval if texted >= voice.settings.after else None

    def _undo(self, keys: Keys, quotas: list[Quota], now: float, code: bool = True) -> None:
        try:
            self._store.undo(keys, quotas, now, code)
        except self._storage_errors:
            logger.warning("could not undo an undelivered send (storage unavailable); its cool-down stays")

    def verify_code(
        self,
        phone: object,
        code: object,
        purpose: object = None,
        *,
        client_ip: str | None = None,
        nonce: object = None,
        challenge: Mapping[str, str] | None = None,
    ) -> Verification:
        """Check and consume a code, after ``SMS_VERIFY_IP_LIMITS`` when the client's address is known.

        The result is truthy on success; ``reason`` says why not. ``purpose`` defaults to
        ``SMS_DEFAULT_PURPOSE``. With the send's ``nonce`` (``CodeSent.nonce``) the verify is the
        code's owner's (``SMS_MAX_ATTEMPTS`` guesses, told when the code expired); without it, a
        stranger's (a smaller budget that never kills the owner's code; see :mod:`.nonces`), and
        the fraud guard may ask it for a human check.
        """
        if client_ip is not None:
            self.check_verify_limit(client_ip)
        app = self._app()
        parsed = self._verify_input(app, phone, code, purpose or self.settings.default_purpose)
        if isinstance(parsed, Verification):
            return parsed
        phone_e164, number, purpose_name, typed = parsed
        owner = self._nonces.read(nonce, purpose_name, phone_e164) if nonce else None
        if owner is not None and owner <= self._clock():
            return self._failed(app, phone_e164, purpose_name, CODE_EXPIRED)
        if owner is None:
            self._verify_gate(client_ip, challenge)
        if self._vendor_checks and phone_e164 not in self.settings.test_numbers:
            result = self._vendor_verify(app, phone_e164, number, purpose_name, typed)
        else:
            result = self._local_verify(app, phone_e164, purpose_name, typed, owner)
        self._guard_verified(app, purpose_name, phone_e164, client_ip, result.ok)
        return result

    def _local_verify(self, app: Any, phone: str, purpose: str, typed: str, owner: float | None) -> Verification:
        """Our own code: its HMAC checked and consumed in the store, in one atomic step, for its owner or a stranger."""
        outcome = self._check_local(phone, purpose, typed, owner)
        if outcome == OK:
            code_verified.send(app, phone=phone, purpose=purpose)
            return Verification(True, None, phone, purpose)
        assert outcome in VERIFY_FAILURES, outcome
        return self._failed(app, phone, purpose, outcome)

    def _verify_input(
        self, app: Any, phone: object, code: object, purpose: object
    ) -> Verification | tuple[str, PhoneNumber, str, str]:
        """(E.164, the number, purpose, the code as typed), or the failed result for input no code can match."""
        purpose_text = purpose if isinstance(purpose, str) else ""
        try:
            phone_e164, number, purpose_name = self._parse(phone, purpose)
        except (InvalidPhoneNumber, RegionNotAllowed, UnknownPurpose) as exc:
            return self._failed(app, None, purpose_text, exc.error)
        typed = normalise_code(code) if isinstance(code, str) else ""
        if not typed or not typed.isascii():
            return self._failed(app, phone_e164, purpose_name, INVALID_CODE)
        return phone_e164, number, purpose_name, typed

    def _guard_verified(self, app: Any, purpose: str, phone: str, client_ip: str | None, ok: bool) -> None:
        """The verify's outcome, to the fraud guard (safe and test numbers are not counted)."""
        settings = self.settings
        if self.guard is not None and phone not in settings.safe_numbers and phone not in settings.test_numbers:
            self.guard.after_verify(app, purpose, phone, client_ip, ok)

    def _check_local(self, phone: str, purpose: str, typed: str, owner: float | None) -> str:
        """Check-and-consume, for the code's owner (``owner``: its expiry, from the nonce) or a stranger."""
        settings = self.settings
        with self._fail_closed():
            return self._store.check_code(
                self._keys(purpose, phone),
                self._digest(purpose, phone, typed),
                self._clock(),
                settings.code_ttl,
                settings.max_attempts,
                owner,
                max(1, settings.max_attempts // 2),
            )

    def _verify_gate(self, client_ip: str | None, challenge: Mapping[str, str] | None) -> None:
        """A verify without the send's nonce, from a network (or an app) the guard challenges or blocks."""
        if self.guard is None:
            return
        standing = self.guard.verify_gate(client_ip)
        if standing is None or not self.guard.policy.enforce:
            return
        if standing == "challenge" and self._challenge_passed(challenge, client_ip):
            return
        self.guard.verify_refused(client_ip)
        raise FraudSuspected() if standing == "block" else ChallengeRequired()

    def _check(self, keys: Keys, digest: str, slack: int = 0) -> str:
        """Check-and-consume in the store (``slack``: attempts more than SMS_MAX_ATTEMPTS, see :meth:`_vendor_verify`)."""
        settings = self.settings
        with self._fail_closed():
            return self._store.check(
                keys.code, keys.fails, digest, self._clock(), settings.code_ttl, settings.max_attempts + slack
            )

    def _vendor_verify(self, app: Any, phone: str, number: PhoneNumber, purpose: str, typed: str) -> Verification:
        """A vendor-checked code: count the attempt here first (a guesser is stopped before the vendor is asked),
        then ask the vendor, then use the code up here (single use, across workers).

        The count is a check against a marker no code matches, with one attempt of slack: the
        vendor is asked at most SMS_MAX_ATTEMPTS times per code, and the next guess is
        ``too_many_attempts`` without asking. A vendor that cannot answer is 503, never a pass.
        """
        assert self._vendor is not None
        keys = self._keys(purpose, phone)
        counted = self._check(keys, code_backends.ATTEMPT_MARK, slack=1)
        if counted != INVALID_CODE:  # no live code, or no attempt left: the vendor is not asked
            return self._failed(app, phone, purpose, counted)
        try:
            said = self._vendor.backend.check(number, purpose, typed)
        except CheckUnavailable as exc:
            logger.error("flask_sms answered 503 unavailable: the code could not be checked (never a pass): %s", exc)
            raise StorageUnavailable() from None
        if said != OK:
            return self._failed(app, phone, purpose, said)
        # used up here; not OK when the live code here is another purpose's (a code per number: its PASS
        # is not this purpose's) or another worker used it first
        outcome = self._check(keys, code_backends.marker(purpose), slack=1)
        if outcome != OK:
            return self._failed(app, phone, purpose, outcome)
        code_verified.send(app, phone=phone, purpose=purpose)
        return Verification(True, None, phone, purpose)

    @staticmethod
    def _failed(app: Any, phone: str | None, purpose: str, reason: str) -> Verification:
        verification_failed.send(app, phone=phone, purpose=purpose, reason=reason)
        return Verification(False, reason, phone, purpose)

    def storage_problems(self) -> list[str]:
        """Reach the storage once (``flask sms check``): the limits' and, on Redis, the client the codes' scripts run on."""
        client = getattr(self._store, "client", None)
        try:
            reachable = bool(self._limits.storage.check()) and (client is None or bool(client.ping()))
        except self._storage_errors as exc:
            return [f"the storage (SMS_STORAGE_URL) cannot be reached: {_redact.redact(str(exc))}"]
        return [] if reachable else ["the storage (SMS_STORAGE_URL) cannot be reached"]

    def storage_warnings(self) -> list[str]:
        """What ``flask sms check`` warns about: a store that evicts security state when full (a Redis of
        the codes or of the limits with an evicting ``maxmemory-policy``, a ``SimpleCache`` passed as ``cache=``)."""
        clients = [getattr(self._store, "client", None), getattr(self._limits.storage, "storage", None)]
        redis_clients = [client for client in clients if client is not None and hasattr(client, "config_get")]
        unique = list({id(client): client for client in redis_clients}.values())
        return evicting_cache_warnings(getattr(self._store, "cache", None)) + eviction_warnings(unique)

    def check_verify_limit(self, client_ip: str) -> None:
        """Count one verify attempt from ``client_ip`` against ``SMS_VERIFY_IP_LIMITS`` (raises ``RateLimited``).

        :meth:`verify_code` already counts it when given a ``client_ip``; this is for counting elsewhere
        (calling both counts each attempt twice).
        """
        key = client_key(client_ip, self.settings.ipv6_prefix)
        with self._fail_closed():
            self._limits.hit(self.settings.verify_ip_limits, "verify_ip", key, now=self._clock())

    def verify_form_code(
        self, form_phone: Any, form_code: Any, purpose: str | None = None, *, check_csrf: bool = True
    ) -> Verification:
        """Check the code a form posted; call it after the form validated (``form.validate_on_submit()``).

        ``form_phone`` and ``form_code`` are WTForms fields (or plain strings). On failure the
        reason, in the request's language, is added to ``form_code.errors`` and the result is falsy
        (``reason``: ``invalid_code``, ``code_expired``, ``too_many_attempts``, ``rate_limited``,
        ``unavailable``, ``csrf_failed`` ...). With Flask-WTF's CSRF in play the code is never
        checked (so never used up) unless this request's CSRF token is good; ``check_csrf=False``
        skips that when your own CSRF check already ran. Inside a request it makes
        ``sms.verify_code``'s checks (cross-site, ``SMS_VERIFY_IP_LIMITS``) and reads the send's nonce
        from the ``sms_nonce`` field.
        """
        phone, code = forms.field_value(form_phone), forms.field_value(form_code)
        chosen = purpose or self.settings.default_purpose
        refused = forms.refusal(form_phone, form_code, phone, code, chosen, check_csrf=check_csrf)
        if refused is not None:
            return Verification(False, refused, None, chosen)
        current = forms.current_request()
        try:
            if current is not None:
                self.check_origin(current)
            nonce = current.form.get("sms_nonce") if current is not None else None
            result = self.verify_code(phone, code, chosen, client_ip=forms.client_address(current), nonce=nonce or None)
        except SmsHTTPError as exc:  # rate_limited, unavailable: said on the form, not as an HTTP error
            forms.add_error(form_code, str(exc.message or message_for(exc.error, retry_after=exc.retry_after)))
            return Verification(False, exc.error, None, chosen, exc.retry_after)
        if not result:
            forms.add_error(form_code, result.message or message_for(INVALID_CODE))
        return result

    # -- verification tokens -------------------------------------------------------------------
    def issue_token(self, phone: str, purpose: str | None = None) -> str:
        """A signed, single-use proof that ``phone`` was verified for ``purpose``, valid ``SMS_TOKEN_TTL`` seconds
        (what the verify route answers).

        ``phone`` should be the E.164 number of a successful :meth:`verify_code` (``result.phone``);
        ``purpose`` defaults to ``SMS_DEFAULT_PURPOSE``.
        """
        purpose = purpose or self.settings.default_purpose
        return self._tokens.dumps(phone, purpose, round(self._clock() + self.settings.token_ttl, 3))

    def redeem_token(self, token: object, purpose: str | None = None) -> str | None:
        """The phone of a good, live token for ``purpose`` (default ``SMS_DEFAULT_PURPOSE``), once; ``None`` for
        any other token.

        A forged, expired, wrong-purpose or other-audience token is refused without
        touching the storage (and is not used up); a good one is marked used in the code storage
        in one atomic step, so of two workers redeeming it at once exactly one wins. Raises
        ``StorageUnavailable`` when the storage cannot be reached (fail closed).
        """
        claim = self._tokens.loads(token)
        now = self._clock()
        if claim is None or claim.purpose != (purpose or self.settings.default_purpose) or claim.expires <= now:
            return None
        with self._fail_closed():
            first = self._store.use_once(token_key(claim.token_id), now, claim.expires)
        return claim.phone if first else None


def _hand_over(sender: Sender, app: Any, sent: _Send, params: Mapping[str, Any], give_back: Callable[[], None]) -> None:
    """The vendor call of a code's send. A domain error of the sender comes out as its HTTP form (the route's
    JSON); ``give_back()`` returns the cool-down and the quota first, unless the number was refused for good."""
    try:
        sender.send_numbers(app, {sent.phone: sent.number}, sent.purpose, params)
    except PhoneRejected as exc:
        # Final for this number (invalid, opted out, the vendor's own cap): asking again at
        # once cannot succeed, so the cool-down and the quota stay.
        raise as_refusal(exc) from exc
    except BaseException as exc:
        # Nothing was sent and nothing may have been: give the cool-down and the quota back.
        give_back()
        refusal = as_refusal(exc)
        if refusal is exc:
            raise
        raise refusal from exc


def normalise_code(code: str) -> str:
    """What the user meant to type: full-width and other Unicode digits as ASCII, no surrounding spaces.

    Chinese input methods often type full-width digits (``１２３４５６``); they are the
    same code, and the HMAC is taken over ASCII digits only.
    """
    text = unicodedata.normalize("NFKC", code).strip()
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char for char in text)


def _origin_passes(origin: str, site: str, host: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request that carries ``Origin`` may go on: a listed origin, else what the browser vouches for.

    ``Sec-Fetch-Site: cross-site`` refuses any origin not listed; ``same-origin`` passes
    (the browser vouches that Origin is the URL's own, whatever Host a proxy passed on);
    without either, the origin must be the app's own host.
    """
    normalised = normalise_origin(origin)  # None for "null" (sandboxed frames, file: pages) and garbage
    if normalised is not None and normalised in allowed:
        return True
    if site == "cross-site":
        return False
    if site == "same-origin":
        return True
    return normalised is not None and _is_own_host(normalised, host)


def _is_own_host(normalised_origin: str, host: str | None) -> bool:
    """Whether an origin names the Host the request came to (any scheme: a TLS proxy may hide the scheme)."""
    own = _host_without_default_port(host or "")
    return bool(own) and _host_without_default_port(normalised_origin.split("://", 1)[1]) == own


def _host_without_default_port(host: str) -> str:
    """``Example.com:443`` -> ``example.com``: the Host header as an origin's host part."""
    host = host.strip().lower()
    for port in (":80", ":443"):
        if host.endswith(port):
            return host[: -len(port)]
    return host
