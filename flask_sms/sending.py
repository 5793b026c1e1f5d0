"""The send loop: split into vendor-sized chunks, fail over in order, gather one result.

A "plan" is the configured providers, in order, that have a template for the
purpose, each with its parameters already rendered. Failover is a loop over
that plan; a chunk that a provider refuses (as a whole, or number by number)
moves to the next provider.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from phonenumbers import PhoneNumber

from .errors import Attempt, ProviderError
from .providers.base import Provider, Template

logger = logging.getLogger("flask_sms")


@dataclass(frozen=True)
class SmsMessage:
    """What was asked for: numbers in E.164, the purpose and the named parameters."""

    phones: tuple[str, ...]
    purpose: str
    params: dict[str, str]


@dataclass
class SendResult:
    """The outcome of one ``send_sms`` call.

    ``ok`` is true when every number was accepted. ``failed`` maps the numbers
    that no provider accepted to the last vendor refusal. ``attempts`` lists
    every request made, in order, with the vendor's own code and message.
    """

    ok: bool = False
    provider: str | None = None
    delivered: dict[str, str] = field(default_factory=dict)  # E.164 -> provider name
    message_ids: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    failed: dict[str, Attempt] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    suppressed: bool = False

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class PlanStep:
    provider: Provider
    template: Template
    rendered: Any


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class _Collector:
    """Gathers results from worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.result = SendResult()
        self.message_ids: dict[str, None] = {}  # ordered set: batches of 10,000 ids stay linear

    def attempt(self, attempt: Attempt) -> None:
        with self.lock:
            self.result.attempts.append(attempt)

    def delivered(self, provider: str, phones: dict[str, str], request_id: str) -> None:
        with self.lock:
            for phone, message_id in phones.items():
                self.result.delivered[phone] = provider
                if message_id:
                    self.message_ids[message_id] = None
            if request_id:
                self.result.request_ids.append(request_id)

    def failed(self, phone: str, attempt: Attempt) -> None:
        with self.lock:
            self.result.failed[phone] = attempt


Numbers = dict[str, PhoneNumber]  # E.164 -> parsed number


def _send_chunk(plan: Sequence[PlanStep], index: int, numbers: Numbers, out: _Collector) -> None:
    step = plan[index]
    provider = step.provider
    leftovers: dict[str, Attempt] = {}
    wire: dict[str, str] = {}  # as the vendor writes it -> E.164
    for phone, number in numbers.items():
        written = provider.format_phone(number)
        if written is None:
            leftovers[phone] = Attempt(
                provider.name, False, "unsupported_number", "this vendor cannot reach that number", (phone,)
            )
        else:
            wire[written] = phone
    for batch in chunked(list(wire), provider.max_per_request):
        shown = tuple(wire[w] for w in batch)
        try:
            reply = provider.send(batch, step.template, step.rendered)
        except ProviderError as exc:
            refusal = Attempt(provider.name, False, exc.code, exc.message, shown)
            out.attempt(refusal)
            logger.warning("SMS via %s failed for %d number(s): %s", provider.name, len(batch), refusal)
            leftovers.update(dict.fromkeys(shown, refusal))
            continue
        out.attempt(Attempt(provider.name, True, "OK", "", shown))
        out.delivered(provider.name, {wire[w]: mid for w, mid in reply.accepted.items() if w in wire}, reply.request_id)
        for written in batch:
            if written in reply.accepted:
                continue
            code, message = reply.rejected.get(written, ("no_status", "the reply did not mention this number"))
            refusal = Attempt(provider.name, False, code, message, (wire[written],))
            out.attempt(refusal)
            logger.warning("SMS via %s refused %s", provider.name, refusal)
            leftovers[wire[written]] = refusal
    if not leftovers:
        return
    if index + 1 < len(plan):
        _send_chunk(plan, index + 1, {phone: numbers[phone] for phone in leftovers}, out)
    else:
        for phone, refusal in leftovers.items():
            out.failed(phone, refusal)


def deliver(plan: Sequence[PlanStep], numbers: Numbers, pool: ThreadPoolExecutor | None) -> SendResult:
    """Send to every number, chunked for the first provider, failing over chunk by chunk."""
    out = _Collector()
    phones = list(numbers)
    chunks = [{phone: numbers[phone] for phone in chunk} for chunk in chunked(phones, plan[0].provider.max_per_request)]
    if len(chunks) == 1 or pool is None:
        for chunk in chunks:
            _send_chunk(plan, 0, chunk, out)
    else:
        for future in [pool.submit(_send_chunk, plan, 0, chunk, out) for chunk in chunks]:
            future.result()
    out.result.message_ids = list(out.message_ids)
    result = out.result
    result.ok = bool(result.delivered) and not result.failed
    for attempt in result.attempts:
        if attempt.ok:
            result.provider = attempt.provider
            break
    return result
