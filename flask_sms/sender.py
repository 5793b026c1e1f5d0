"""The send pipeline, owned by one :class:`Sender` per app: validate, plan, deliver, signal.

A *plan* is the configured providers, in order, that have a template for the
purpose, each with its payload already rendered. Failover is a loop over that
plan: a chunk that a provider refuses (as a whole, or number by number) moves to
the next provider. Everything that can be checked locally (numbers, purpose,
parameters for every provider) is checked before the first vendor is called.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from phonenumbers import PhoneNumber

from .breaker import Breaker, Transition
from .errors import PhoneRejected, ProviderError, SendError, SmsError, UnknownPurpose
from .phones import PhoneInput, is_mainland, parse_phones
from .providers import AnyProvider, Payload, Reply
from .results import CIRCUIT_OPEN, Attempt, Outcome, SendResult, SentMessage, SmsMessage
from .signals import provider_down, provider_up, sms_failed, sms_sent
from .test_numbers import TEST_NUMBER

if TYPE_CHECKING:
    from .idempotency import Ledger
    from .receipt_book import ReceiptBook

logger = logging.getLogger("flask_sms")

#: set on the log records of a vendor failure (``flask sms send`` prints those itself, once)
FAILURE_RECORD = {"flask_sms_send_failure": True}

Numbers = dict[str, PhoneNumber]  # E.164 -> parsed number

#: the longest ``out_id`` every vendor takes (Aliyun OutId < 256, Tencent SessionContext < 512 bytes)
MAX_OUT_ID = 64
T = TypeVar("T")


@dataclass(frozen=True)
class PlanStep:
    provider: AnyProvider
    payload: Payload


def new_out_id() -> str:
    """A correlation id for a send the caller gave none: 32 hex characters (128 random bits)."""
    return secrets.token_hex(16)


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class _Collector:
    """Gathers results from worker threads."""

    def __init__(self, out_id: str = "") -> None:
        self.lock = threading.Lock()
        self.result = SendResult(out_id=out_id)
        self.message_ids: dict[str, None] = {}  # ordered set: batches of 10,000 ids stay linear
        self.reports: list[Any] = []  # delivery reports a provider knew at once (console)
        self.transitions: list[Transition] = []  # breakers that opened or closed during this send

    def attempt(self, attempt: Attempt) -> None:
        with self.lock:
            self.result.attempts.append(attempt)

    def timed(self, provider: str, seconds: float) -> None:
        with self.lock:
            self.result.timings.append((provider, seconds))

    def delivered(self, provider: str, phones: dict[str, str], request_id: str) -> None:
        with self.lock:
            for phone, message_id in phones.items():
                self.result.delivered[phone] = provider
                self.result.messages.append(SentMessage(phone, provider, message_id, self.result.out_id))
                if message_id:
                    self.message_ids[message_id] = None
            if request_id:
                self.result.request_ids.append(request_id)

    def ended(self, phone: str, attempt: Attempt) -> None:
        """A number no provider sent: ``unknown`` when one may have, else failed or rejected."""
        with self.lock:
            if attempt.outcome == "unknown":
                self.result.unknown[phone] = attempt
            else:
                self.result.failed[phone] = attempt

    def transition(self, change: Transition | None) -> None:
        if change is not None:
            with self.lock:
                self.transitions.append(change)

    def finish(self) -> SendResult:
        result = self.result
        result.message_ids = list(self.message_ids)
        result.ok = bool(result.delivered) and not result.failed and not result.unknown
        result.provider = next((attempt.provider for attempt in result.attempts if attempt.ok), None)
        return result


@dataclass
class _Route:
    """How one send moves through the plan: the options and the breaker, shared by its chunks."""

    out: _Collector
    breaker: Breaker | None
    failover_on_timeout: bool


def _wire_numbers(provider: AnyProvider, numbers: Numbers) -> tuple[dict[str, str], dict[str, Attempt]]:
    """Each number as the vendor writes it (-> E.164), and the numbers this vendor cannot reach."""
    wire: dict[str, str] = {}
    unreachable: dict[str, Attempt] = {}
    for phone, number in numbers.items():
        written = provider.format_phone(number)
        if written is None:
            reason = "this vendor cannot reach that number"
            unreachable[phone] = Attempt(provider.name, False, "unsupported_number", reason, (phone,))
        else:
            wire[written] = phone
    return wire, unreachable


def _send_batch(
    step: PlanStep, batch: list[str], wire: dict[str, str], route: _Route, probe: bool
) -> dict[str, Attempt]:
    """One request; returns how it ended for each number it did not send (E.164 -> attempt)."""
    started = time.perf_counter()
    try:
        reply = step.provider.send(batch, step.payload)
    except ProviderError as exc:
        route.out.timed(step.provider.name, time.perf_counter() - started)
        return _batch_refused(step.provider, batch, wire, route, probe, exc)
    route.out.timed(step.provider.name, time.perf_counter() - started)
    _note_accepted(step.provider, batch, wire, route.out, reply)
    ended = _numbers_refused(step.provider, batch, wire, route.out, reply)
    if route.breaker is not None:
        vendor_down = not reply.accepted and any(a.outcome in BREAKER_COUNTS for a in ended.values())
        if vendor_down:
            route.out.transition(route.breaker.failed(step.provider.name, probe))
        else:
            route.out.transition(route.breaker.succeeded(step.provider.name))
    return ended


def _batch_refused(
    provider: AnyProvider, batch: list[str], wire: dict[str, str], route: _Route, probe: bool, exc: ProviderError
) -> dict[str, Attempt]:
    """A request that failed as a whole: every number in it ends with the same attempt; the breaker counts a
    failure or a timeout (a refusal for good or of the content says nothing about the vendor's health)."""
    shown = tuple(wire[w] for w in batch)
    refusal = Attempt(provider.name, False, exc.code, exc.message, shown, exc.outcome or "failed")
    route.out.attempt(refusal)
    logger.warning(
        "SMS via %s %s for %d number(s): %s",
        provider.name,
        _VERB[refusal.outcome],
        len(batch),
        refusal,
        extra=FAILURE_RECORD,
    )
    if route.breaker is not None and refusal.outcome in BREAKER_COUNTS:
        route.out.transition(route.breaker.failed(provider.name, probe))
    return dict.fromkeys(shown, refusal)


def _note_accepted(
    provider: AnyProvider, batch: list[str], wire: dict[str, str], out: _Collector, reply: Reply
) -> None:
    """Collect what the vendor took: one ``OK`` attempt, the message ids, and any report it knew at once."""
    taken = tuple(wire[w] for w in batch if w in reply.accepted)
    if taken:
        out.attempt(Attempt(provider.name, True, "OK", "", taken))
    out.delivered(provider.name, {wire[w]: mid for w, mid in reply.accepted.items() if w in wire}, reply.request_id)
    if reply.reports:
        with out.lock:
            out.reports.extend(reply.reports)


def _numbers_refused(
    provider: AnyProvider, batch: list[str], wire: dict[str, str], out: _Collector, reply: Reply
) -> dict[str, Attempt]:
    """An attempt for each number the reply did not accept; one it does not mention counts as ``no_status``."""
    ended = {}
    for written in batch:
        if written not in reply.accepted:
            code, message = reply.rejected.get(written, ("no_status", "the reply did not mention this number"))
            refusal = Attempt(provider.name, False, code, message, (wire[written],), provider.classify(code))
            out.attempt(refusal)
            logger.warning("SMS via %s %s %s", provider.name, _VERB[refusal.outcome], refusal, extra=FAILURE_RECORD)
            ended[wire[written]] = refusal
    return ended


#: how a log line says each outcome
_VERB = {
    "sent": "sent",
    "rejected": "was refused for good",
    "failed": "failed",
    "unknown": "got no answer",
    "content": "refused the text's values",
}
#: the outcomes the circuit breaker counts: the vendor failed or did not answer. A refusal of the
#: number (``rejected``) or of the values (``content``) is an answer, and the values are the caller's:
#: counting them would let whoever writes a template value move all traffic off a vendor.
BREAKER_COUNTS: tuple[Outcome, ...] = ("failed", "unknown")
#: the outcomes that move a number on to the next provider (``unknown`` too with SMS_FAILOVER_ON_TIMEOUT)
FAILS_OVER: tuple[Outcome, ...] = ("failed", "content")


def _through(step: PlanStep, numbers: Numbers, route: _Route, probe: bool) -> dict[str, Attempt]:
    """Send numbers through one provider; returns how each number it did not send ended there."""
    wire, ended = _wire_numbers(step.provider, numbers)
    for batch in step.provider.batches(list(wire)):
        ended.update(_send_batch(step, batch, wire, route, probe))
    return ended


@dataclass
class _Chunk:
    """One chunk's way through the plan: the numbers still to send and how the others ended so far."""

    remaining: Numbers
    #: E.164 -> how it ended at the last provider that had it
    last: dict[str, Attempt] = field(default_factory=dict)
    #: E.164 -> the first attempt that may have texted it
    maybe_sent: dict[str, Attempt] = field(default_factory=dict)
    skipped: list[PlanStep] = field(default_factory=list)
    called: bool = False

    def skip(self, step: PlanStep, route: _Route) -> None:
        """Pass a provider whose breaker is open, without a call; it stays in reserve (see :func:`_send_chunk`)."""
        name = step.provider.name
        skip = Attempt(name, False, CIRCUIT_OPEN, "skipped: its circuit breaker is open", tuple(self.remaining))
        route.out.attempt(skip)
        self.last.update(dict.fromkeys(self.remaining, skip))
        self.skipped.append(step)

    def through(self, step: PlanStep, route: _Route, probe: bool) -> None:
        """Send the remaining numbers through one provider; keep those that move on."""
        ended = _through(step, self.remaining, route, probe)
        self.remaining = _pass_on(ended, self.remaining, self.last, self.maybe_sent, route)


def _send_chunk(plan: Sequence[PlanStep], numbers: Numbers, route: _Route) -> None:
    """Fail over through the plan: only ``failed`` and ``content`` numbers (and ``unknown`` ones, when asked) move on.

    An open breaker skips its provider without a call; when every provider was
    skipped, the one whose breaker opened first is tried anyway.
    """
    chunk = _Chunk(dict(numbers))
    for step in plan:
        if not chunk.remaining:
            break
        gate = route.breaker.gate(step.provider.name) if route.breaker is not None else "go"
        if gate == "skip":
            chunk.skip(step, route)
            continue
        chunk.called = True
        chunk.through(step, route, probe=gate == "probe")
    if chunk.remaining and not chunk.called and route.breaker is not None:
        # the breaker alone never refuses a send
        chunk.through(_first_opened(chunk.skipped, route.breaker), route, probe=False)
    for phone in chunk.remaining:
        route.out.ended(phone, chunk.maybe_sent.get(phone) or chunk.last[phone])


def _first_opened(skipped: list[PlanStep], breaker: Breaker) -> PlanStep:
    """Of the skipped providers, the one whose breaker opened first: the likeliest to be back."""
    earliest = breaker.earliest([step.provider.name for step in skipped])
    return next((step for step in skipped if step.provider.name == earliest), skipped[0])


def _pass_on(
    ended: dict[str, Attempt], had: Numbers, last: dict[str, Attempt], maybe_sent: dict[str, Attempt], route: _Route
) -> Numbers:
    """The numbers one provider did not send that go on to the next; the others end here."""
    onward: Numbers = {}
    for phone, attempt in ended.items():
        last[phone] = attempt
        if attempt.outcome == "unknown":
            maybe_sent.setdefault(phone, attempt)
        if attempt.outcome in FAILS_OVER or (attempt.outcome == "unknown" and route.failover_on_timeout):
            onward[phone] = had[phone]
        else:  # rejected (final for the number), or unknown: it may be on its way already
            route.out.ended(phone, maybe_sent.get(phone) or attempt)
    return onward


class Sender:
    """Sends one template to one or many numbers through the providers, failing over in order."""

    def __init__(
        self,
        providers: Sequence[AnyProvider],
        *,
        default_region: str,
        suppress: bool,
        max_concurrency: int,
        failover_on_timeout: bool = False,
        strategy: str = "order",
        weights: Mapping[str, int] | None = None,
        test_numbers: Iterable[str] = (),
        channel: str = "sms",
        breaker: Breaker | None = None,
        receipts: ReceiptBook | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.providers = list(providers)
        #: ``"sms"``, or ``"voice"``: the voice channel's sender calls instead of texting
        self.channel = channel
        #: ``SMS_TEST_NUMBERS``: E.164 numbers no provider is ever asked to reach
        self.test_numbers = frozenset(test_numbers)
        self.default_region = default_region
        self.suppress = suppress
        self.max_concurrency = max_concurrency
        self.failover_on_timeout = failover_on_timeout
        #: ``SMS_WEIGHTS`` when ``SMS_STRATEGY`` is ``weighted``: each send draws its first provider
        self.weights = {name: weight for name, weight in (weights or {}).items() if weight > 0}
        if strategy != "weighted":
            self.weights = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        #: where delivery reports and (with receipts on) message ids go; ``None`` without a storage
        self.receipts = receipts
        #: the providers' circuit breakers (``SMS_CIRCUIT_BREAKER``); ``None`` when turned off
        self.breaker = breaker
        #: where idempotent sends are claimed and their results kept; ``None`` without a storage
        self.ledger = ledger

    def send(
        self,
        app: object,
        phones: PhoneInput | Iterable[PhoneInput],
        purpose: str,
        params: Mapping[str, Any] | None = None,
        *,
        out_id: str | None = None,
        idempotent: bool = False,
    ) -> SendResult:
        """Parse the numbers, then :meth:`send_numbers`. ``app`` is the signals' sender.

        ``idempotent``: at most once per ``out_id`` (see :mod:`.idempotency`).
        """
        self._check_call(purpose, params, out_id)
        if not idempotent:
            return self.send_numbers(app, parse_phones(phones, self.default_region), purpose, params, out_id=out_id)
        if not out_id:
            raise TypeError("idempotent=True needs an out_id: the id your records give this send")
        if self.ledger is None:
            raise SmsError("idempotent sends need the storage: keep SMS_ENABLE_CAPTCHA on, or set SMS_RECEIPT_TOKEN")
        numbers = parse_phones(phones, self.default_region)
        return self.ledger.once(out_id, lambda: self.send_numbers(app, numbers, purpose, params, out_id=out_id))

    def send_numbers(
        self,
        app: object,
        numbers: Numbers,
        purpose: str,
        params: Mapping[str, Any] | None = None,
        *,
        out_id: str | None = None,
    ) -> SendResult:
        """Send to numbers parsed already (E.164 -> number), for callers that checked their arguments.

        ``out_id`` ties the texts to the caller's records (Aliyun ``OutId``, Tencent
        ``SessionContext``, ...; Ronglian's receipts find it through the message id); one is
        generated when none is given.
        Raises :class:`SendError` only when no number was sent and none may have been
        (:class:`PhoneRejected` when every vendor that answered refused the numbers for good).
        """
        values = {str(name): value for name, value in (params or {}).items()}
        correlation = out_id or new_out_id()
        groups = _by_kind(numbers)
        plans = self.plans(purpose, values, set(groups), correlation)
        message = SmsMessage(
            tuple(numbers),
            purpose,
            {name: str(value) for name, value in values.items() if value is not None},
            self.channel,
        )
        if self.suppress:
            result = _suppressed(plans, message, correlation)
        elif self.test_numbers.isdisjoint(numbers):
            result = self._delivered(app, plans, groups, correlation, message)
        else:
            result = self._held_back(app, plans, numbers, correlation, message)
        result.channel = self.channel
        sms_sent.send(app, message=message, result=result)
        return result

    def _held_back(
        self,
        app: object,
        plans: Mapping[bool, Sequence[PlanStep]],
        numbers: Numbers,
        correlation: str,
        message: SmsMessage,
    ) -> SendResult:
        """``SMS_TEST_NUMBERS`` count as delivered with no vendor asked; the other numbers go out as usual."""
        rest = {phone: number for phone, number in numbers.items() if phone not in self.test_numbers}
        if rest:
            result = self._delivered(app, plans, _by_kind(rest), correlation, message)
        else:
            result = SendResult(out_id=correlation)
        held = [phone for phone in numbers if phone in self.test_numbers]
        logger.debug("SMS %r: %d test number(s) held back (SMS_TEST_NUMBERS)", message.purpose, len(held))
        result.delivered.update(dict.fromkeys(held, TEST_NUMBER))
        result.ok = not result.failed and not result.unknown
        result.provider = result.provider or TEST_NUMBER
        return result

    def _delivered(
        self,
        app: object,
        plans: Mapping[bool, Sequence[PlanStep]],
        groups: Mapping[bool, Numbers],
        correlation: str,
        message: SmsMessage,
    ) -> SendResult:
        """Deliver, then record and announce how it went; raises when nothing was sent and nothing may have been."""
        out = self._deliver(plans, groups, correlation)
        result = out.finish()
        result.channel = self.channel
        self._note_receipts(app, result, out.reports)
        for change in out.transitions:
            (provider_down if change.down else provider_up).send(app, provider=change.provider, channel=self.channel)
        if result.unknown:
            logger.warning(
                "SMS %r: %d number(s) got no answer from the vendor and may have been sent (not sent again): %s",
                message.purpose,
                len(result.unknown),
                "; ".join(dict.fromkeys(str(attempt) for attempt in result.unknown.values())),
                extra=FAILURE_RECORD,
            )
        if not result.delivered and not result.unknown:
            raise self._failed(app, message, result)
        return result

    def _failed(self, app: object, message: SmsMessage, result: SendResult) -> SendError:
        """Log and announce a send that reached no number, and return the error to raise."""
        error = self._error(result)
        logger.error(
            "SMS %r to %d number(s) %s: %s",
            message.purpose,
            len(message.phones),
            "refused for good" if isinstance(error, PhoneRejected) else "failed on every provider",
            error,
            extra=FAILURE_RECORD,
        )
        sms_failed.send(app, message=message, error=error)
        return error

    @staticmethod
    def _error(result: SendResult) -> SendError:
        if result.failed and all(attempt.outcome == "rejected" for attempt in result.failed.values()):
            return PhoneRejected(result.attempts, result)
        return SendError(result.attempts, result)

    @staticmethod
    def _check_call(purpose: object, params: object, out_id: object = None) -> None:
        if not isinstance(purpose, str) or not purpose:
            raise SmsError(f"purpose must be a non-empty string (got {purpose!r})")
        if params is not None and not isinstance(params, Mapping):
            raise SmsError(f"params must be a mapping of names to values (got {type(params).__name__})")
        if out_id is not None and not (
            isinstance(out_id, str) and 0 < len(out_id) <= MAX_OUT_ID and out_id.isascii() and out_id.isprintable()
        ):
            raise SmsError(f"out_id must be 1-{MAX_OUT_ID} printable ASCII characters")

    def plan(
        self, purpose: str, params: Mapping[str, Any], international: bool = False, out_id: str = ""
    ) -> list[PlanStep]:
        """The providers with a template for ``purpose`` (the international one for numbers outside
        mainland China), in order, each with its payload rendered. May be empty."""
        plan = []
        for provider in self.providers:
            template = provider.template_for(purpose, international)
            if template is not None:
                payload = provider.render(purpose, template, params)
                if out_id:
                    payload = Payload(payload.template, payload.params, payload.text, out_id)
                plan.append(PlanStep(provider, payload))
        return self._ordered(plan)

    def plans(
        self, purpose: str, params: Mapping[str, Any], kinds: set[bool], out_id: str = ""
    ) -> dict[bool, list[PlanStep]]:
        """A plan per kind of number asked for (``True``: outside mainland China); every template is
        rendered, so a missing parameter fails before anything is sent."""
        plans = {kind: self.plan(purpose, params, kind, out_id) for kind in sorted(kinds)}
        if not plans.get(False) and not any(provider.template_for(purpose) for provider in self.providers):
            raise UnknownPurpose(purpose)  # no template at all; a missing international one fails its numbers
        return plans

    def _ordered(self, plan: list[PlanStep]) -> list[PlanStep]:
        """``SMS_STRATEGY = "weighted"``: the first provider drawn by weight, the rest in order."""
        weighted = [(step, self.weights.get(step.provider.name, 0)) for step in plan]
        total = sum(weight for _, weight in weighted)
        if total <= 0 or len(plan) < 2:
            return plan
        draw = secrets.randbelow(total)
        for step, weight in weighted:
            if draw < weight:
                return [step] + [other for other in plan if other is not step]
            draw -= weight
        return plan  # pragma: no cover - the draw is below the total

    def _note_receipts(self, app: object, result: SendResult, reports: list[Any]) -> None:
        """Record the message ids (receipts on) and pass on reports known at once; a storage fault is
        logged, never raised: the texts are out."""
        book = self.receipts
        if book is None or not (reports or (book.record and result.messages)):
            return
        try:
            if book.record:
                book.record_sent(result.messages)
            if reports:
                book.accept(app, [dataclasses.replace(r, out_id=r.out_id or result.out_id) for r in reports])
        except Exception as exc:  # noqa: BLE001 -- the storage's own errors (redis, cachelib) vary
            logger.warning("flask_sms could not record the message ids of out_id %s: %s", result.out_id, exc)

    def _deliver(
        self, plans: Mapping[bool, Sequence[PlanStep]], groups: Mapping[bool, Numbers], out_id: str
    ) -> _Collector:
        """Send every group through its plan, chunked for its first provider, failing over chunk by chunk."""
        route = _Route(_Collector(out_id), self.breaker, self.failover_on_timeout)
        work: list[tuple[Sequence[PlanStep], Numbers]] = []
        for kind, numbers in groups.items():
            plan = plans[kind]
            if not plan:
                reason = "no provider has an international template for this purpose (SMS_<NAME>_INTL_TEMPLATES)"
                for phone in numbers:
                    route.out.ended(phone, Attempt("", False, "no_template", reason, (phone,)))
                continue
            phones = list(numbers)
            work += [
                (plan, {phone: numbers[phone] for phone in chunk})
                for chunk in chunked(phones, plan[0].provider.max_per_request)
            ]
        if len(work) == 1:
            _send_chunk(*work[0], route)
        elif work:
            pool = self._chunk_pool()
            for future in [pool.submit(_send_chunk, plan, chunk, route) for plan, chunk in work]:
                future.result()
        return route.out

    def _chunk_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="flask_sms")
            return self._pool


def _suppressed(plans: Mapping[bool, Sequence[PlanStep]], message: SmsMessage, out_id: str) -> SendResult:
    """``SMS_SUPPRESS_SEND``: every number counts as delivered by the first planned provider, none is called."""
    first = next(steps[0].provider.name for steps in plans.values() if steps)
    return SendResult(
        ok=True,
        provider=first,
        delivered=dict.fromkeys(message.phones, first),
        suppressed=True,
        out_id=out_id,
    )


def _by_kind(numbers: Numbers) -> dict[bool, Numbers]:
    """Mainland (``False``) and other (``True``) numbers: they go in separate requests, each kind
    with its own templates (Tencent refuses a request that mixes them)."""
    groups: dict[bool, Numbers] = {}
    for phone, number in numbers.items():
        groups.setdefault(not is_mainland(number), {})[phone] = number
    return groups
