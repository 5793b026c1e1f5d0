"""The fraud guard (``SMS_FRAUD_GUARD``): sees campaigns that no single request shows.

Every code sent and verified is counted per *dimension value*: the destination
prefix (mainland numbers: the first 7 digits of the national number, 号段 + H码;
elsewhere the E.164 number without its last 4 digits), the destination region,
and the client network (IPv4 /24, IPv6 /48). From those counts it judges:

* **conversion**: the share of a value's codes that were verified. A code counts
  as unverified only once its TTL has passed, so real users still typing are
  never taken for fraud;
* **velocity**: a value's recent attempts against its own history and against
  the app's;

and climbs a ladder *per value*, never for the whole app: allow, then challenge
(a human check, see :mod:`.challenge`), then block (12 h, doubled while it
repeats). Numbers in MVNO ranges (170/171/162/165) climb with half the evidence;
a region none of whose codes was verified lately starts at the challenge. When
the app as a whole is being pumped, values that have never shown a verified code
are challenged until they do. Verify has its side too: failed verifies per
client network, and an app-wide surge of failures, challenge verifies that do
not carry the send's nonce.

The flow calls :meth:`FraudGuard.before_send` before a send and
:meth:`FraudGuard.after_verify` after a verify; each is one storage round trip
(:mod:`.guard_books`). Decisions are announced with the ``fraud_suspected``
signal, once across workers. A storage fault inside the guard never refuses a
send (fail open); the flow's own rules stay fail-closed.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from phonenumbers import PhoneNumber

from .errors import ChallengeRequired, FraudSuspected
from .guard_books import (
    BLOCK,
    CHALLENGE,
    HALF_LIVES,
    REFUSED_BLOCK,
    Books,
    Decision,
    Observation,
    Observe,
    Pressure,
    entry_name,
)
from .phones import MAINLAND_CHINA, region_of
from .signals import fraud_suspected

logger = logging.getLogger("flask_sms")

#: the send-side dimensions, and the verify side's (``verify`` is app-wide, value ``*``)
SEND_DIMENSIONS = ("prefix", "region", "network")
VERIFY_DIMENSIONS = ("verify_network", "verify")
#: MVNO (虚拟运营商) ranges, favoured by SMS farms
MVNO_RANGES = ("170", "171", "162", "165")
MODES = ("standard", "strict", "monitor")


@dataclass(frozen=True)
class Policy:
    """The ladder's thresholds; counts are the faded counts of :data:`~.guard_books.HALF_LIVES`."""

    enforce: bool = True
    #: challenge: this many unverified codes while under this verified share ...
    unverified_challenge: float = 4
    conversion_challenge: float = 0.3
    #: ... or this many attempts in the last minutes, with under this share of them verified, over
    #: the value's own history this many times, and this share of the app's attempts (a network:
    #: the second share; a carrier's NAT carries many people)
    velocity_challenge: float = 5
    verified_share: float = 0.2
    history_factor: float = 4
    share_challenge: float = 0.04
    network_share_challenge: float = 0.1
    #: block (from a challenge): this many refused attempts, or this many unverified under this share
    refusals_block: float = 20
    unverified_block: float = 10
    conversion_block: float = 0.1
    #: evidence weight of a number in an MVNO range
    risky_weight: float = 2
    challenge_seconds: float = 3600
    block_seconds: float = 12 * 3600
    #: verify: failed verifies from one network, refused verifies to block it, app-wide failures
    verify_failures_challenge: float = 10
    verify_refusals_block: float = 20
    app_verify_failures: float = 50
    app_verify_ratio: float = 3
    pressure: Pressure = field(default_factory=lambda: Pressure(5, 0.3, 3, 20, 2))


POLICIES: dict[str, Policy] = {
    "standard": Policy(),
    "monitor": Policy(enforce=False),
    "strict": Policy(
        unverified_challenge=2,
        conversion_challenge=0.5,
        velocity_challenge=3,
        share_challenge=0.02,
        network_share_challenge=0.05,
        refusals_block=10,
        unverified_block=5,
        conversion_block=0.2,
        risky_weight=3,
        verify_failures_challenge=5,
        verify_refusals_block=10,
        app_verify_failures=25,
        pressure=Pressure(3, 0.4, 2, 10, 2),
    ),
}


@lru_cache(maxsize=8192)
def network_of(address: str | None) -> str | None:
    """The client network a send counts against: IPv4 /24, IPv6 /48; ``None`` for no public address.

    An address that is not globally routable (loopback, private, link-local, the documentation
    ranges) is not a network the guard can judge: it is a proxy in front of the app (apply
    ``ProxyFix``) or internal traffic.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        return None
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network((ip, bits), strict=False))


def prefix_of(number: PhoneNumber, phone_e164: str) -> str:
    """Mainland: the first 7 digits of the national number (号段 + H码); elsewhere E.164 without its last 4 digits."""
    if number.country_code == MAINLAND_CHINA:
        return "+86" + str(number.national_number)[:7]
    return phone_e164[:-4]


def is_risky(number: PhoneNumber) -> bool:
    """A mainland number in an MVNO range (170/171/162/165)."""
    return number.country_code == MAINLAND_CHINA and str(number.national_number).startswith(MVNO_RANGES)


@dataclass
class SendTicket:
    """What :meth:`FraudGuard.before_send` booked, so a send that does not go out can be taken back."""

    request: Observe
    observation: Observation
    #: the client network has not texted this phone lately (a passed challenge may then lift its quota)
    new_network_for_phone: bool


@dataclass
class _Judged:
    dimension: str
    value: str
    level: int
    reason: str
    counts: dict[str, float]


class FraudGuard:
    """One app's guard: its policy, its books and the home region (never "new")."""

    def __init__(
        self,
        mode: str,
        books: Books,
        clock: Callable[[], float],
        *,
        code_ttl: float,
        link_ttl: float,
        home_region: str,
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self.mode = mode
        self.policy = POLICIES[mode]
        self.books = books
        self.clock = clock
        self.code_ttl = code_ttl
        self.width = max(5.0, math.ceil(code_ttl / 20))
        self.link_ttl = link_ttl
        self.home_region = home_region
        self.errors = errors
        #: this process's view of the verify-side decisions, refreshed by every verify's round trip
        self._verify_view: dict[str, Decision] = {}

    @contextmanager
    def _fail_open(self, what: str) -> Iterator[None]:
        try:
            yield
        except self.errors as exc:
            logger.warning("flask_sms fraud guard: storage unavailable during %s, allowing it: %s", what, exc)
        except Exception:  # fail open whatever went wrong; the traceback goes to the log
            logger.exception("flask_sms fraud guard: failed during %s, allowing it", what)

    # -- sends -----------------------------------------------------------------------------------
    def before_send(
        self,
        app: Any,
        number: PhoneNumber,
        phone: str,
        purpose: str,
        client_ip: str | None,
        passed: bool,
        *,
        convertible: bool = True,
        channel: str = "sms",
    ) -> SendTicket | None:
        """Judge and count a send; raise ``FraudSuspected`` / ``ChallengeRequired``. ``None``: not booked.

        ``convertible``: False for a code another library checks (``send_external_code``): its
        verifies are never seen, so only velocity judges it. ``channel``: each channel is judged on
        its own (a call's values read ``voice:+861380013``), since calls cost and are abused apart.
        """
        ticket = None
        with self._fail_open("a send"):
            ticket = self._before_send(app, number, phone, purpose, client_ip, passed, convertible, channel)
        if ticket is not None:
            self._enforce(ticket)
        return ticket

    def _before_send(
        self,
        app: Any,
        number: PhoneNumber,
        phone: str,
        purpose: str,
        client_ip: str | None,
        passed: bool,
        convertible: bool,
        channel: str,
    ) -> SendTicket:
        network = network_of(client_ip)
        region = region_of(number) or "ZZ"  # a number of no region (+882 ...): the unknown region
        values: list[tuple[str, str]] = [("prefix", prefix_of(number, phone)), ("region", region)]
        if network is not None:
            values.append(("network", network))
        if channel != "sms":
            values = [(dimension, f"{channel}:{value}") for dimension, value in values]
        request = Observe(
            now=self.clock(),
            ttl=self.code_ttl,
            width=self.width,
            values=tuple(values),
            code=f"{purpose}:{phone}",
            network=network,
            link_ttl=self.link_ttl,
            passed=passed,
            enforce=self.policy.enforce,
            pressure=self.policy.pressure,
            under_pressure=(0, 2) if network is not None else (0,),
            always=(1,) if values[1][1] != self._home(channel) else (),
            convertible=convertible,
        )
        observation = self.books.observe(request)
        weight = self.policy.risky_weight if is_risky(number) else 1.0
        ticket = SendTicket(request, observation, observation.link_new)
        self._climb(app, ticket, weight)
        return ticket

    def _climb(self, app: Any, ticket: SendTicket, weight: float) -> None:
        """Make the decisions the new counts call for, each once across workers, and announce them."""
        observation = ticket.observation
        for index, (dimension, value) in enumerate(ticket.request.values):
            level, _ = observation.levels[index]
            judged = self._judge(dimension, value, observation.counters[index], observation.app, level, weight)
            if judged is not None:
                self._apply(app, ticket, index, judged)

    def _apply(self, app: Any, ticket: SendTicket, index: int, judged: _Judged) -> None:
        """Write a new decision; when it refuses this very send, take the send back in the same step
        (in monitor mode too: its books are kept as if enforced)."""
        observation = ticket.observation
        refuses = judged.level == BLOCK or not ticket.request.passed
        undo = ticket.request if observation.counted and refuses else None
        _, until = self._decide(app, judged, undo)
        observation.counted = observation.counted and undo is None
        if refuses and (judged.level == BLOCK or not observation.refused):
            observation.refused = REFUSED_BLOCK if judged.level == BLOCK else "challenge"
            observation.refused_by = index
        observation.levels[index] = (judged.level, until)

    def _home(self, channel: str) -> str:
        return self.home_region if channel == "sms" else f"{channel}:{self.home_region}"

    def _judge(
        self,
        dimension: str,
        value: str,
        counts: Mapping[str, float],
        app: Mapping[str, float],
        level: int,
        weight: float,
    ) -> _Judged | None:
        """The rung the counts call for, when above the standing one.

        Never for the app itself: the home region, and any value that holds half of the app's
        verified codes, are not judged (deciding on them would be deciding for the whole app).
        """
        if dimension == "region" and value.rpartition(":")[2] == self.home_region:
            return None
        if app.get("c", 0.0) >= 5 and counts.get("c", 0.0) >= 0.5 * app.get("c", 0.0):
            return None
        weight = weight if dimension == "prefix" else 1.0
        summary = {
            "attempts": counts.get("a", 0.0),
            "sends": counts.get("s", 0.0),
            "verified": counts.get("c", 0.0),
            "unverified": counts.get("u", 0.0) * weight,
            "refused": counts.get("q", 0.0),
        }
        if level >= CHALLENGE:
            reason = self._block_reason(summary)
            return _Judged(dimension, value, BLOCK, reason, summary) if reason else None
        reason = self._challenge_reason(dimension, summary, weight, app.get("a", 0.0))
        return _Judged(dimension, value, CHALLENGE, reason, summary) if reason else None

    def _block_reason(self, summary: Mapping[str, float]) -> str | None:
        """Why a challenged value is now blocked: refusals nobody answered, or codes nobody verified."""
        policy = self.policy
        if summary["refused"] >= policy.refusals_block:
            return "refused"
        if summary["unverified"] >= policy.unverified_block and _share(summary) < policy.conversion_block:
            return "unverified"
        return None

    def _challenge_reason(
        self, dimension: str, summary: Mapping[str, float], weight: float, app_attempts: float
    ) -> str | None:
        policy = self.policy
        if summary["unverified"] >= policy.unverified_challenge and _share(summary) < policy.conversion_challenge:
            return "unverified"
        share = policy.network_share_challenge if dimension == "network" else policy.share_challenge
        if self._fast(summary["attempts"] * weight, summary["sends"], summary["verified"], share * app_attempts):
            return "velocity"
        return None

    def _fast(self, attempts: float, sends: float, verified: float, app_share: float) -> bool:
        """Velocity: many recent attempts, few of them verified, over the value's own history and its share of the app's."""
        policy = self.policy
        history = sends * HALF_LIVES["a"] / HALF_LIVES["s"]
        return (
            attempts >= policy.velocity_challenge
            and verified < policy.verified_share * attempts
            and attempts >= policy.history_factor * history
            and attempts >= app_share
        )

    def _decide(self, app: Any, judged: _Judged, undo: Observe | None) -> tuple[bool, float]:
        seconds = self.policy.block_seconds if judged.level == BLOCK else self.policy.challenge_seconds
        made, until = self.books.decide(
            judged.dimension, judged.value, judged.level, seconds, self.clock(), judged.reason, judged.counts, undo
        )
        if made:
            action = "block" if judged.level == BLOCK else "challenge"
            logger.warning(
                "flask_sms fraud guard: %s %s %s until %s (%s; %s)",
                action,
                judged.dimension,
                judged.value,
                _when(until),
                judged.reason,
                ", ".join(f"{key} {value:.1f}" for key, value in judged.counts.items()),
            )
            fraud_suspected.send(app, dimension=judged.dimension, value=judged.value, action=action, until=until)
        return made, until

    def _enforce(self, ticket: SendTicket) -> None:
        observation = ticket.observation
        if not observation.refused or not self.policy.enforce:
            return
        if observation.refused == REFUSED_BLOCK:
            _, until = observation.levels[observation.refused_by]
            raise FraudSuspected(retry_after=max(1, math.ceil(until - self.clock())) if until else None)
        raise ChallengeRequired()

    def undo(self, ticket: SendTicket | None) -> None:
        """Take back a booked send that did not go out (refused later in the flow, or never delivered)."""
        if ticket is None or not ticket.observation.counted:
            return
        with self._fail_open("taking back a send"):
            self.books.undo(ticket.request, ticket.observation.link_new)
            ticket.observation.counted = False

    # -- verifies --------------------------------------------------------------------------------
    def verify_gate(self, client_ip: str | None) -> str | None:
        """What this process knows stands against a nonce-less verify from ``client_ip``: "block", "challenge" or None."""
        now = self.clock()
        network = network_of(client_ip)
        names = [entry_name("verify", "*")] + ([entry_name("verify_network", network)] if network else [])
        standing = [self._verify_view[name] for name in names if name in self._verify_view]
        levels = [decision.level for decision in standing if decision.until > now]
        if not levels:
            return None
        return "block" if max(levels) == BLOCK else "challenge"

    def verify_refused(self, client_ip: str | None) -> None:
        with self._fail_open("a refused verify"):
            self.books.verify_refused(self.clock(), network_of(client_ip))

    def after_verify(self, app: Any, purpose: str, phone: str, client_ip: str | None, ok: bool) -> None:
        """Count a verify's outcome (a conversion of the code's send, or a failure from the client's network)."""
        with self._fail_open("a verify"):
            self._after_verify(app, purpose, phone, client_ip, ok)

    def _after_verify(self, app: Any, purpose: str, phone: str, client_ip: str | None, ok: bool) -> None:
        network = network_of(client_ip)
        app_counts, network_counts, standing = self.books.verified(self.clock(), f"{purpose}:{phone}", ok, network)
        names = [entry_name("verify", "*")] + ([entry_name("verify_network", network)] if network else [])
        for name in names:
            self._verify_view.pop(name, None)
        for decision in standing:
            self._verify_view[entry_name(decision.dimension, decision.value)] = decision
        if ok:
            return
        for judged in self._judge_verify(network, network_counts, app_counts):
            _, until = self._decide(app, judged, None)
            action = "block" if judged.level == BLOCK else "challenge"
            decision = Decision(
                judged.dimension, judged.value, action, until, self.clock(), judged.reason, judged.counts
            )
            self._verify_view[entry_name(judged.dimension, judged.value)] = decision

    def _judge_verify(
        self, network: str | None, counts: Mapping[str, float], app: Mapping[str, float]
    ) -> list[_Judged]:
        policy = self.policy
        judged = []
        standing = {name: decision.level for name, decision in self._verify_view.items()}
        if network is not None:
            level = standing.get(entry_name("verify_network", network), 0)
            summary = {"failed": counts.get("vf", 0.0), "refused": counts.get("vq", 0.0)}
            if level >= CHALLENGE and counts.get("vq", 0.0) >= policy.verify_refusals_block:
                judged.append(_Judged("verify_network", network, BLOCK, "refused", summary))
            elif level == 0 and counts.get("vf", 0.0) >= policy.verify_failures_challenge:
                judged.append(_Judged("verify_network", network, CHALLENGE, "failed", summary))
        failures, verified = app.get("vf", 0.0), app.get("cf", 0.0)
        surge = failures >= policy.app_verify_failures and failures > policy.app_verify_ratio * verified
        if surge and standing.get(entry_name("verify", "*"), 0) == 0:
            judged.append(_Judged("verify", "*", CHALLENGE, "failed", {"failed": failures, "verified": verified}))
        return judged

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> list[Decision]:
        """Every standing decision, with the counts behind it (soonest to end first)."""
        return sorted(self.books.decisions(self.clock()), key=lambda decision: decision.until)

    def release(self, value: str) -> int:
        """Lift every decision about ``value`` (a prefix, region or network as ``status`` shows it)."""
        lifted = self.books.release(value, SEND_DIMENSIONS + VERIFY_DIMENSIONS)
        for name in [name for name, decision in self._verify_view.items() if decision.value == value]:
            del self._verify_view[name]
        return lifted


def _share(summary: Mapping[str, float]) -> float:
    """The verified share of a value's codes whose outcome is known (1 with none known)."""
    verified, unverified = summary["verified"], summary["unverified"]
    return verified / (verified + unverified) if verified + unverified > 0 else 1.0


def _when(moment: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
