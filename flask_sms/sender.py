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
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from phonenumbers import PhoneNumber

from .errors import ProviderError, SendError, SmsError, UnknownPurpose
from .phones import PhoneInput, parse_phones
from .providers import AnyProvider, Payload
from .results import Attempt, SendResult, SentMessage, SmsMessage
from .signals import sms_failed, sms_sent

if TYPE_CHECKING:
    from .receipts import ReceiptBook

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
    """A correlation id for a send the caller gave none: 32 hex characters."""
    return uuid.uuid4().hex


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class _Collector:
    """Gathers results from worker threads."""

    def __init__(self, out_id: str = "") -> None:
        self.lock = threading.Lock()
        self.result = SendResult(out_id=out_id)
        self.message_ids: dict[str, None] = {}  # ordered set: batches of 10,000 ids stay linear
        self.reports: list[Any] = []  # delivery reports a provider knew at once (console)

    def attempt(self, attempt: Attempt) -> None:
        with self.lock:
            self.result.attempts.append(attempt)

    def delivered(self, provider: str, phones: dict[str, str], request_id: str) -> None:
        with self.lock:
            for phone, message_id in phones.items():
                self.result.delivered[phone] = provider
                self.result.messages.append(SentMessage(phone, provider, message_id, self.result.out_id))
                if message_id:
                    self.message_ids[message_id] = None
            if request_id:
                self.result.request_ids.append(request_id)

    def failed(self, phone: str, attempt: Attempt) -> None:
        with self.lock:
            self.result.failed[phone] = attempt

    def finish(self) -> SendResult:
        result = self.result
        result.message_ids = list(self.message_ids)
        result.ok = bool(result.delivered) and not result.failed
        result.provider = next((attempt.provider for attempt in result.attempts if attempt.ok), None)
        return result


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


def _send_batch(step: PlanStep, batch: list[str], wire: dict[str, str], out: _Collector) -> dict[str, Attempt]:
    """One request; returns the numbers it did not send (E.164 -> the refusal)."""
    provider = step.provider
    shown = tuple(wire[w] for w in batch)
    try:
        reply = provider.send(batch, step.payload)
    except ProviderError as exc:
        refusal = Attempt(provider.name, False, exc.code, exc.message, shown)
        out.attempt(refusal)
        logger.warning(
            "SMS via %s failed for %d number(s): %s", provider.name, len(batch), refusal, extra=FAILURE_RECORD
        )
        return dict.fromkeys(shown, refusal)
    out.attempt(Attempt(provider.name, True, "OK", "", shown))
    out.delivered(provider.name, {wire[w]: mid for w, mid in reply.accepted.items() if w in wire}, reply.request_id)
    if reply.reports:
        with out.lock:
            out.reports.extend(reply.reports)
    refused = {}
    for written in batch:
        if written not in reply.accepted:
            code, message = reply.rejected.get(written, ("no_status", "the reply did not mention this number"))
            refusal = Attempt(provider.name, False, code, message, (wire[written],))
            out.attempt(refusal)
            logger.warning("SMS via %s refused %s", provider.name, refusal, extra=FAILURE_RECORD)
            refused[wire[written]] = refusal
    return refused


def _send_chunk(plan: Sequence[PlanStep], index: int, numbers: Numbers, out: _Collector) -> None:
    """Send a chunk through ``plan[index]``; what it does not send goes on to the next provider."""
    step = plan[index]
    wire, leftovers = _wire_numbers(step.provider, numbers)
    for batch in step.provider.batches(list(wire)):
        leftovers.update(_send_batch(step, batch, wire, out))
    if leftovers and index + 1 < len(plan):
        _send_chunk(plan, index + 1, {phone: numbers[phone] for phone in leftovers}, out)
    else:
        for phone, refusal in leftovers.items():
            out.failed(phone, refusal)


class Sender:
    """Sends one template to one or many numbers through the providers, failing over in order."""

    def __init__(
        self, providers: Sequence[AnyProvider], *, default_region: str, suppress: bool, max_concurrency: int
    ) -> None:
        self.providers = list(providers)
        self.default_region = default_region
        self.suppress = suppress
        self.max_concurrency = max_concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        #: where delivery reports and (with receipts on) message ids go; ``None`` without a storage
        self.receipts: ReceiptBook | None = None

    def send(
        self,
        app: object,
        phones: PhoneInput | Iterable[PhoneInput],
        purpose: str,
        params: Mapping[str, Any] | None = None,
        *,
        out_id: str | None = None,
    ) -> SendResult:
        """Parse the numbers, then :meth:`send_numbers`. ``app`` is the signals' sender."""
        self._check_call(purpose, params, out_id)
        return self.send_numbers(app, parse_phones(phones, self.default_region), purpose, params, out_id=out_id)

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
        ``SessionContext``, Ronglian ``reqId``); one is generated when none is given.
        """
        values = {str(name): value for name, value in (params or {}).items()}
        correlation = out_id or new_out_id()
        plan = [
            dataclasses.replace(step, payload=dataclasses.replace(step.payload, out_id=correlation))
            for step in self.plan(purpose, values)
        ]
        message = SmsMessage(
            tuple(numbers), purpose, {name: str(value) for name, value in values.items() if value is not None}
        )
        if self.suppress:
            first = plan[0].provider.name
            result = SendResult(
                ok=True,
                provider=first,
                delivered=dict.fromkeys(message.phones, first),
                suppressed=True,
                out_id=correlation,
            )
        else:
            result, reports = self._deliver(plan, numbers, correlation)
            self._note_receipts(app, result, reports)
            if not result.delivered:
                error = SendError(result.attempts, result)
                logger.error(
                    "SMS %r to %d number(s) failed on every provider: %s",
                    purpose,
                    len(numbers),
                    error,
                    extra=FAILURE_RECORD,
                )
                sms_failed.send(app, message=message, error=error)
                raise error
        sms_sent.send(app, message=message, result=result)
        return result

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

    def plan(self, purpose: str, params: Mapping[str, Any]) -> list[PlanStep]:
        """The providers with a template for ``purpose``, in order, each with its payload rendered."""
        plan = []
        for provider in self.providers:
            template = provider.template_for(purpose)
            if template is not None:
                plan.append(PlanStep(provider, provider.render(purpose, template, params)))
        if not plan:
            raise UnknownPurpose(purpose)
        return plan

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

    def deliver(self, plan: Sequence[PlanStep], numbers: Numbers, out_id: str = "") -> SendResult:
        """Send to every number, chunked for the first provider, failing over chunk by chunk."""
        return self._deliver(plan, numbers, out_id)[0]

    def _deliver(self, plan: Sequence[PlanStep], numbers: Numbers, out_id: str) -> tuple[SendResult, list[Any]]:
        out = _Collector(out_id)
        phones = list(numbers)
        chunks = [
            {phone: numbers[phone] for phone in chunk} for chunk in chunked(phones, plan[0].provider.max_per_request)
        ]
        if len(chunks) == 1:
            _send_chunk(plan, 0, chunks[0], out)
        else:
            pool = self._chunk_pool()
            for future in [pool.submit(_send_chunk, plan, 0, chunk, out) for chunk in chunks]:
                future.result()
        return out.finish(), out.reports

    def _chunk_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="flask_sms")
            return self._pool
