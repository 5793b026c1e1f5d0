"""What a send asked for and what came of it: plain values, shared by the sender, errors and signals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final, Literal

#: the code of an attempt skipped because its provider's circuit breaker is open (``Attempt.code``; no call made)
CIRCUIT_OPEN: Final = "circuit_open"

#: how one attempt ended for its numbers:
#: ``sent`` the vendor accepted them; ``rejected`` final for those numbers (no failover);
#: ``failed`` nothing was sent and the next provider may succeed; ``unknown`` the text may have gone out;
#: ``content`` the vendor refused the text's values (a URL, a blocked keyword, a value's format or length):
#: the next provider may take them, and the vendor's circuit breaker does not count it (it says nothing
#: about the vendor's health, and whoever writes the values must not be able to open the breaker)
Outcome = Literal["sent", "rejected", "failed", "unknown", "content"]


@dataclass(frozen=True)
class Attempt:
    """One request to one provider: what the vendor said, in its own words, and what it means."""

    provider: str
    ok: bool
    code: str = ""
    message: str = ""
    phones: tuple[str, ...] = ()
    #: ``sent``, ``rejected``, ``failed``, ``unknown`` or ``content`` (see :data:`Outcome`)
    outcome: Outcome = "failed"

    def __post_init__(self) -> None:
        if self.ok and self.outcome != "sent":
            object.__setattr__(self, "outcome", "sent")

    def __str__(self) -> str:
        if self.ok:
            return f"{self.provider}: OK"
        return f"{self.provider}: {self.code} {self.message}".rstrip()


@dataclass(frozen=True)
class SmsMessage:
    """What was asked for: numbers in E.164, the purpose and the named parameters."""

    phones: tuple[str, ...]
    purpose: str
    params: dict[str, str]
    #: ``"sms"``, or ``"voice"`` for a call that reads the code out
    channel: str = "sms"


@dataclass(frozen=True)
class SentMessage:
    """One accepted number: the vendor's id for that text and the caller's correlation id."""

    phone: str
    provider: str
    message_id: str
    out_id: str


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
    unknown: dict[str, Attempt] = field(default_factory=dict)  # E.164 -> the attempt that may have sent it
    out_id: str = ""
    messages: list[SentMessage] = field(default_factory=list)
    #: ``"sms"``, or ``"voice"`` for calls
    channel: str = "sms"
    #: (provider, seconds) of each vendor request, in the order they ended
    timings: list[tuple[str, float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


#: what a delivery report says happened to one text
ReportStatus = Literal["delivered", "failed"]

#: the vendors' clock: they send Beijing time without an offset (no daylight saving since 1991)
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class DeliveryReport:
    """What the vendor learned from the carrier about one text (or call), normalised across vendors.

    ``phone`` is E.164; ``code`` and ``description`` are the vendor's own words
    (``DELIVRD``, ``UNDELIV``, ``MK:0001`` ...). ``out_id`` is ``""`` when neither the
    report nor the status store knows it. The times are timezone-aware, or ``None``
    when the vendor's report leaves them out (a Tencent push has no send time);
    ``delivered_at`` is when the carrier reported, also for a failed text.
    """

    provider: str
    phone: str
    message_id: str
    out_id: str
    status: ReportStatus
    code: str
    description: str
    submitted_at: datetime | None
    delivered_at: datetime | None
    #: ``"sms"``, or ``"voice"`` for the result of a call (``delivered``: answered; ``failed``: not)
    channel: str = "sms"
