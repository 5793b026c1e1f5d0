"""A campaign simulator: attackers and real users against one app, on ``sms.clock``.

Every actor calls the app's real flow (``sms.send_code`` / ``sms.verify_code`` with the
client's address, as the routes do), in time order, on the app's :class:`FakeClock`:
a day of traffic runs in seconds, and the same seed gives the same day. The app is
built by the test (memory:// or a real Redis, the default limits and guard), so what
the figures say is what a deployment with that config does.

* :class:`RealUsers` ask for a code at a steady rate from realistic numbers (random
  mainland prefixes) and networks (home broadband, and a few mobile carriers' NAT
  /24s shared by many users), verify it with the send's nonce after typing for
  10-90 s (or never, for the share that does not convert), and pass a human check
  when they are asked for one.
* :class:`Pumper` is the SMS pumper of issue 18: fresh IPv4 addresses every hour (each
  within the per-IP limit), numbers in sequence, a rotation over prefixes, or random
  ones; it never verifies and never passes a human check.
* :class:`Guesser` guesses codes of phones that have one, spread over many networks.

The clock advances to each event; nothing sleeps.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from flask_sms import SmsHTTPError, fraud_suspected, sms_sent

HOUR = 3600.0
DAY = 24 * HOUR
#: what a real user's browser answers a challenge with (the simulation app's verifier accepts it)
HUMAN = {"token": "solved-by-a-human"}
#: mainland mobile ranges real numbers come from (MVNO ranges left out: they start higher on the ladder)
MAINLAND_RANGES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]
#: first octets of globally routed IPv4 space (mainland carriers' blocks among them)
_PUBLIC_FIRST_OCTETS = (36, 39, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119)
_PUBLIC_FIRST_OCTETS += (120, 121, 122, 123, 124, 125, 171, 175, 180, 182, 183, 202, 210, 211, 218, 219, 220, 221)


def simulation_app(make_app: Callable[..., Flask], storage_url: str, **config: Any) -> Flask:
    """An app under the default config (limits and guard), the console provider, on ``storage_url``,
    with a local human check that passes :data:`HUMAN` (the vendor's check, as a real user passes it)."""
    app = make_app(["console"], storage_url=storage_url, SMS_SUPPRESS_SEND=True, **config)
    app.extensions["sms"].challenge_verifier(lambda challenge, client_ip: challenge == HUMAN)
    return app


class Network:
    """Addresses: random public IPv4 /24s, or one IPv6 /48."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def ipv4(self) -> str:
        while True:
            first = self.rng.choice(_PUBLIC_FIRST_OCTETS)
            address = f"{first}.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
            if ipaddress.ip_address(address).is_global:
                return address

    def in_48(self, network: str) -> str:
        base = ipaddress.ip_network(network)
        return str(base.network_address + self.rng.getrandbits(80))


@dataclass
class Tally:
    """What one actor got."""

    requests: int = 0
    sent: int = 0
    challenged: int = 0  # answered 428 at least once before a code (real users: then passed the check)
    refused: Counter[str] = field(default_factory=Counter)
    verified: int = 0
    served: int = 0  # people who got a code in the end
    wanted: int = 0  # people who asked


class Simulation:
    """Runs actors' events in time order on the app's clock."""

    def __init__(self, app: Flask, clock: Any, seed: int = 18) -> None:
        self.app = app
        self.sms = app.extensions["sms"]
        self.clock = clock
        self.start = clock.now
        self.rng = random.Random(seed)
        self.net = Network(self.rng)
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self.codes: dict[str, str] = {}  # E.164 -> the last code texted
        self.live: dict[str, float] = {}  # E.164 -> until when its code is live (real users' codes)
        self.decisions: list[tuple[float, str, str, str]] = []  # (time, dimension, value, action)

    def at(self, moment: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (moment, next(self._order), action))

    def run(self, hours: float) -> None:
        end = self.start + hours * HOUR

        def texted(sender: Flask, message: Any, **extra: Any) -> None:
            for phone in message.phones:
                self.codes[phone] = message.params["code"]

        def decided(sender: Flask, dimension: str, value: str, action: str, until: float) -> None:
            self.decisions.append((self.clock.now - self.start, dimension, value, action))

        with self.app.app_context(), sms_sent.connected_to(texted), fraud_suspected.connected_to(decided):
            while self._queue and self._queue[0][0] < end:
                moment, _, action = heapq.heappop(self._queue)
                self.clock.now = max(self.clock.now, moment)
                action()

    # -- what actors do ----------------------------------------------------------------------------
    def send(self, phone: str, address: str, challenge: dict[str, str] | None = None) -> tuple[str, Any]:
        """``("sent", CodeSent)`` or ``(error code, exception)``."""
        try:
            if challenge is None:
                return "sent", self.sms.send_code(phone, client_ip=address)
            return "sent", self.sms.send_code(phone, client_ip=address, challenge=challenge)
        except SmsHTTPError as exc:
            return exc.error, exc

    def verify(self, phone: str, code: str, address: str, nonce: str | None = None) -> str:
        try:
            if nonce is None:
                result = self.sms.verify_code(phone, code, client_ip=address)
            else:
                result = self.sms.verify_code(phone, code, client_ip=address, nonce=nonce)
        except SmsHTTPError as exc:
            return exc.error
        return "ok" if result else str(result.reason)


def mainland_number(rng: random.Random, prefixes: list[str] | None = None) -> str:
    prefix = rng.choice(prefixes) if prefixes else rng.choice(MAINLAND_RANGES) + f"{rng.randrange(10000):04d}"
    return prefix + f"{rng.randrange(10000):04d}"


class RealUsers:
    """People signing in: ``per_hour`` of them, ``conversion`` of whom type the code in."""

    def __init__(
        self,
        sim: Simulation,
        per_hour: float = 30,
        conversion: float = 0.8,
        *,
        prefixes: list[str] | None = None,
        carriers: int = 10,
        carrier_share: float = 0.3,
        hours: float = 24,
        start: float = 0.0,
    ) -> None:
        self.sim = sim
        self.tally = Tally()
        self.conversion = conversion
        self.prefixes = prefixes
        self.carrier_networks = [sim.net.ipv4() for _ in range(carriers)]
        self.carrier_share = carrier_share
        moment = sim.start + start
        end = moment + hours * HOUR
        while True:
            moment += sim.rng.expovariate(per_hour / HOUR)
            if moment >= end:
                break
            sim.at(moment, self._arrive)

    def _address(self) -> str:
        rng = self.sim.rng
        if rng.random() < self.carrier_share:
            base = rng.choice(self.carrier_networks).rsplit(".", 1)[0]
            return f"{base}.{rng.randrange(1, 255)}"
        return self.sim.net.ipv4()

    def _arrive(self) -> None:
        self.tally.wanted += 1
        phone, address = mainland_number(self.sim.rng, self.prefixes), self._address()
        self._ask(phone, address, challenged=False)

    def _ask(self, phone: str, address: str, challenged: bool) -> None:
        tally = self.tally
        tally.requests += 1
        outcome, detail = self.sim.send(phone, address, HUMAN if challenged else None)
        if outcome == "challenge_required" and not challenged:
            tally.challenged += 1
            self._ask(phone, address, challenged=True)  # the page shows the check; the person solves it
            return
        if outcome != "sent":
            tally.refused[outcome] += 1
            return
        tally.sent += 1
        tally.served += 1
        self.sim.live.pop("+86" + phone, None)
        self.sim.live["+86" + phone] = self.sim.clock.now + detail.expires_in
        if self.sim.rng.random() < self.conversion:
            delay = self.sim.rng.uniform(10, 90)
            nonce = getattr(detail, "nonce", None) or None
            self.sim.at(self.sim.clock.now + delay, lambda: self._type(phone, address, nonce))

    def _type(self, phone: str, address: str, nonce: str | None) -> None:
        code = self.sim.codes.get("+86" + phone)
        if code is not None and self.sim.verify("+86" + phone, code, address, nonce) == "ok":
            self.tally.verified += 1
            self.sim.live.pop("+86" + phone, None)


class Pumper:
    """Fresh IPv4 addresses every hour, each asking ``per_ip`` times an hour (the per-IP limit), evenly paced.

    ``numbers``: ``"sequential"`` (from ``first``), ``"rotation"`` (the next prefix whenever one is
    refused, or after ``per_prefix`` texts), or ``"random"`` (any mainland number).
    """

    def __init__(
        self,
        sim: Simulation,
        *,
        numbers: str = "sequential",
        first: int = 13800130000,
        ips_per_hour: int = 60,
        per_ip: int = 20,
        hours: float = 24,
        start: float = 0.0,
        per_prefix: int = 10_000,
        addresses: Callable[[], str] | None = None,
    ) -> None:
        self.sim = sim
        self.tally = Tally()
        self.numbers = numbers
        self.next_number = first
        self.per_prefix = per_prefix
        self.in_prefix = 0
        self.addresses = addresses
        rate = ips_per_hour * per_ip
        for hour in range(int(hours)):
            pool = [addresses() if addresses else sim.net.ipv4() for _ in range(ips_per_hour)]
            for index in range(rate):
                moment = sim.start + start + hour * HOUR + (index + 0.5) * HOUR / rate
                sim.at(moment, lambda address=pool[index % ips_per_hour]: self._ask(address))

    def _number(self) -> str:
        if self.numbers == "random":
            return mainland_number(self.sim.rng)
        number = self.next_number
        self.next_number += 1
        self.in_prefix += 1
        if self.numbers == "rotation" and self.in_prefix >= self.per_prefix:
            self._next_prefix()
        return str(number)

    def _next_prefix(self) -> None:
        self.next_number = (self.next_number // 10_000 + 1) * 10_000
        self.in_prefix = 0

    def _ask(self, address: str) -> None:
        self.tally.requests += 1
        outcome, _ = self.sim.send(self._number(), address)
        if outcome == "sent":
            self.tally.sent += 1
            return
        self.tally.refused[outcome] += 1
        if outcome in ("challenge_required", "fraud_suspected") and self.numbers == "rotation":
            self._next_prefix()  # this prefix is watched: move on to a fresh one


def burst(sim: Simulation, tally: Tally, *, at: float, count: int, seconds: float, addresses: int) -> None:
    """``count`` requests in ``seconds`` from ``addresses`` fresh IPv4s, numbers in sequence (the hour-boundary burst)."""
    pool = [sim.net.ipv4() for _ in range(addresses)]
    numbers = iter(range(13900130000, 13900130000 + count))

    def ask(address: str) -> None:
        tally.requests += 1
        outcome, _ = sim.send(str(next(numbers)), address)
        if outcome == "sent":
            tally.sent += 1
        else:
            tally.refused[outcome] += 1

    for index in range(count):
        sim.at(sim.start + at + index * seconds / count, lambda address=pool[index % addresses]: ask(address))


@dataclass
class GuessTally:
    guesses: int = 0  # verify requests made
    checked: int = 0  # guesses compared against a live code (each a one-in-10^6 chance)
    refused: Counter[str] = field(default_factory=Counter)

    @property
    def expected_takeovers(self) -> float:
        return self.checked / 10**6


class Guesser:
    """Guesses codes of phones that have a live one (the strongest attacker: it knows who is signing in),
    from ``networks`` /24s, each within the per-IP verify limit (60 an hour); a network that is refused
    tries again an hour later."""

    def __init__(self, sim: Simulation, *, networks: int = 200, per_hour: int = 60) -> None:
        self.sim = sim
        self.tally = GuessTally()
        self.addresses = [sim.net.ipv4() for _ in range(networks)]
        for address in self.addresses:
            sim.at(sim.start + sim.rng.uniform(0, HOUR / per_hour), lambda a=address: self._guess(a, per_hour))

    def _guess(self, address: str, per_hour: int) -> None:
        now = self.sim.clock.now
        codes = self.sim.live
        while codes and next(iter(codes.values())) <= now:  # kept in the order they expire
            del codes[next(iter(codes))]
        live = list(codes)
        if not live:
            self.sim.at(now + HOUR / per_hour, lambda: self._guess(address, per_hour))
            return
        phone = self.sim.rng.choice(live)
        outcome = self.sim.verify(phone, f"{self.sim.rng.randrange(10**6):06d}", address)
        self.tally.guesses += 1
        wait = HOUR / per_hour
        if outcome in ("challenge_required", "fraud_suspected", "rate_limited"):
            self.tally.refused[outcome] += 1
            wait = HOUR  # refused: try this network again in an hour
        elif outcome in ("invalid_code", "ok"):
            self.tally.checked += 1  # compared against the live code
        self.sim.at(self.sim.clock.now + wait, lambda: self._guess(address, per_hour))
