"""The fraud guard's books: decaying counters per dimension value, and its decisions.

Each dimension value (a destination prefix, a region, a client network) and the
app as a whole keep a small record of counters that fade with a half-life
(:data:`HALF_LIVES`): attempts (velocity), sends (history), verified and
unverified codes (conversion), refusals and failed verifies. A code counts as
unverified only once its TTL has passed: until then it waits in a pending
bucket of its send time (``p<bucket>``), which a verify of that code empties
again. Decisions (challenge or block, until when) live in one table.

Every step that must be atomic is one call: *observe* a send (judge it by the
standing decisions and the app's pressure, count it), *decide* (write a new
decision once, across workers), *undo* a send that did not go out, *verified*
(a verify's outcome), *verify refused*, *status* and *release*.

* :class:`MemoryBooks` (``memory://``) keeps them in this process, under a lock,
  bounded: past its size the least recently touched counters are dropped first
  (they are statistics; decisions are kept apart and only expire).
* :class:`RedisBooks` runs each step as one Lua script, so one round trip. All
  keys carry the ``{guard}`` hash tag: one Redis Cluster slot, so a script may
  touch any of them.

Both do the same arithmetic in the same order (``tests/test_guard_books.py``
runs them side by side); times come from the caller's clock (``sms.clock``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .storage import Storage

#: counter -> half-life in seconds
HALF_LIVES: dict[str, float] = {
    "a": 600.0,  # attempts: velocity
    "s": 21600.0,  # sends: the value's own history
    "c": 21600.0,  # verified codes
    "u": 21600.0,  # codes whose TTL passed unverified
    "q": 3600.0,  # refusals while the value stood challenged or blocked
    "r": 3600.0,  # refusals by the app's pressure (the app's record)
    "cf": 3600.0,  # verified codes, recently (the app's record)
    "n": 3600.0,  # decisions made (the app's record)
    "vf": 3600.0,  # failed verifies
    "vq": 3600.0,  # verifies refused
}
#: seconds a value's record is kept after its last use (its counters have faded by then)
RECORD_TTL = 3 * 86400
#: counters this close to zero are dropped
_NEGLIGIBLE = 1e-6
CHALLENGE, BLOCK = 1, 2
ACTIONS = {CHALLENGE: "challenge", BLOCK: "block"}
#: refusal reasons :meth:`Books.observe` can give
REFUSED_BLOCK, REFUSED_CHALLENGE, REFUSED_PRESSURE, REFUSED_UNPROVEN = "block", "challenge", "pressure", "unproven"
SEP = "\x1f"  # between a dimension and its value
LIST_SEP = "\x1e"  # between the parts of a code's record
#: decisions about verifies: they do not put the app's sends under pressure
VERIFY_SIDE = ("verify", "verify_network")
#: a value with at least this many (decayed) verified codes has proven itself
PROVEN = 0.05


def entry_name(dimension: str, value: str) -> str:
    return f"{dimension}{SEP}{value}"


@dataclass(frozen=True)
class Pressure:
    """When the app as a whole is under pressure (values with nothing verified are then challenged)."""

    unverified: float  # at least this many unverified codes ...
    conversion: float  # ... while the app's verified share is below this
    decisions: float  # or this many decisions made recently
    refusals: float  # or this many refusals recently ...
    ratio: float  # ... and over this many times the recent verified codes


@dataclass(frozen=True)
class Observe:
    """One send request, as the books see it."""

    now: float
    ttl: float  # the code's TTL: when an unverified code starts to count
    width: float  # pending buckets' width in seconds
    values: tuple[tuple[str, str], ...]  # (dimension, value)
    code: str  # the code's record name ("purpose:phone")
    network: str | None  # remembered against the phone (the lock-out rule)
    link_ttl: float
    passed: bool  # a human check passed for this request
    enforce: bool  # False in monitor mode: the books are kept as if enforced; the text still goes out
    pressure: Pressure
    #: indices of values that must have proven themselves under pressure / always
    under_pressure: tuple[int, ...] = ()
    always: tuple[int, ...] = ()
    #: False for a code another library checks: its verify is never seen, so it never counts as unverified
    convertible: bool = True


@dataclass
class Observation:
    refused: str  # "" or one of the REFUSED_* reasons
    refused_by: int  # index of the value that refused (-1 for none)
    pressure: bool
    link_new: bool
    counted: bool  # booked as a send (undo() takes it back); a refused one is not, in monitor mode too
    levels: list[tuple[int, float]]  # per value: (standing level, until)
    counters: list[dict[str, float]]
    app: dict[str, float]


@dataclass(frozen=True)
class Decision:
    """A standing decision, with the counts behind it."""

    dimension: str
    value: str
    action: str  # "challenge" / "block"
    until: float
    made_at: float
    reason: str
    counts: Mapping[str, float] = field(default_factory=dict)

    @property
    def level(self) -> int:
        return BLOCK if self.action == "block" else CHALLENGE


def encode_decision(level: int, until: float, made: float, reason: str, counts: Mapping[str, float]) -> str:
    rounded = {key: round(value, 2) for key, value in counts.items()}
    return f"{level};{until!r};{made!r};{reason};{json.dumps(rounded, sort_keys=True)}"


def decode_decision(name: str, raw: Any) -> Decision:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    level, until, made, reason, counts = text.split(";", 4)
    dimension, _, value = name.partition(SEP)
    return Decision(dimension, value, ACTIONS[int(level)], float(until), float(made), reason, json.loads(counts))


def _level(raw: Any, now: float) -> tuple[int, float]:
    if raw is None:
        return 0, 0.0
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    level, until, _ = text.split(";", 2)
    return (int(level), float(until)) if float(until) > now else (0, 0.0)


class Books(ABC):
    @abstractmethod
    def observe(self, request: Observe) -> Observation:
        """Judge a send by the standing decisions and the app's pressure, and count it (one atomic step)."""

    @abstractmethod
    def decide(
        self,
        dimension: str,
        value: str,
        level: int,
        seconds: float,
        now: float,
        reason: str,
        counts: Mapping[str, float],
        undo: Observe | None = None,
    ) -> tuple[bool, float]:
        """Write a decision unless one as strong stands: (made here, until).

        A block lasts ``seconds`` doubled once per block of the value that ended
        less than a day before. ``undo``: take that send back in the same step.
        """

    @abstractmethod
    def undo(self, request: Observe, link_new: bool) -> None:
        """Take back a send :meth:`observe` counted that did not go out."""

    @abstractmethod
    def verified(
        self, now: float, code: str, ok: bool, network: str | None
    ) -> tuple[dict[str, float], dict[str, float], list[Decision]]:
        """A verify's outcome: a conversion for the code's send, or a failure for ``network``.

        Returns the app's counters, the network's, and the standing verify decisions
        (for ``network`` and app-wide).
        """

    @abstractmethod
    def verify_refused(self, now: float, network: str | None) -> None:
        """Count a verify the guard refused."""

    @abstractmethod
    def decisions(self, now: float, names: Iterable[str] | None = None) -> list[Decision]:
        """The standing decisions (only those named, when ``names`` is given)."""

    @abstractmethod
    def release(self, value: str, dimensions: Sequence[str]) -> int:
        """Lift every decision about ``value`` and forget its counters: how many decisions were lifted."""


# -- the arithmetic, in Python (the Lua below is the same, line for line) --------------------------
def touch(record: dict[str, float], now: float) -> None:
    """Fade every counter to ``now`` and fold the pending buckets whose codes' TTL has passed into ``u``.

    A pending bucket is named by the second its codes' TTL ends (``p<second>``).
    """
    last = record.get("at")
    if last is not None and now > last:
        _fade(record, now - last)
    if last is None or now > last:
        record["at"] = now
    _fold(record, now)


def _fade(record: dict[str, float], elapsed: float) -> None:
    for name, half_life in HALF_LIVES.items():
        if name in record:
            record[name] *= 0.5 ** (elapsed / half_life)


def _fold(record: dict[str, float], now: float) -> None:
    """Pending buckets whose codes' TTL has passed: their codes count as unverified (``u``)."""
    for name in sorted(key for key in record if key.startswith("p")):
        matured_at = int(name[1:])
        if matured_at <= now:
            count = record.pop(name)
            record["u"] = record.get("u", 0.0) + count * 0.5 ** ((now - matured_at) / HALF_LIVES["u"])


def add(record: dict[str, float], name: str, amount: float = 1.0) -> None:
    record[name] = record.get(name, 0.0) + amount


def bucket_for(now: float, width: float, ttl: float) -> str:
    """The pending bucket of a code sent at ``now``: named by the second the TTL of its bucket's last code ends."""
    return f"p{math.ceil((math.floor(now / width) + 1) * width + ttl)}"


def _take_back(record: dict[str, float], bucket: str) -> None:
    """Uncount one send from a record (its attempt stays: it was one); a bucket it never reached stays as it is."""
    add(record, "s", -1.0)
    pending = record.get(bucket, 0.0) - 1.0
    if pending > _NEGLIGIBLE:
        record[bucket] = pending
    else:
        record.pop(bucket, None)


def under_pressure(app: Mapping[str, float], pressure: Pressure) -> bool:
    """Whether the app's own books say it is being pumped (the same test the scripts make)."""
    verified, unverified = app.get("c", 0.0), app.get("u", 0.0)
    share = verified / (verified + unverified) if verified + unverified > 0 else 1.0
    if unverified >= pressure.unverified and share < pressure.conversion:
        return True
    if app.get("n", 0.0) >= pressure.decisions:
        return True
    refusals = app.get("r", 0.0)
    return refusals >= pressure.refusals and refusals > pressure.ratio * app.get("cf", 0.0)


def code_record(bucket: str, values: Sequence[tuple[str, str]]) -> str:
    return LIST_SEP.join([bucket, *(entry_name(dimension, value) for dimension, value in values)])


# -- memory:// -------------------------------------------------------------------------------------
class MemoryBooks(Books):
    """This process's books, under one lock, in ``memory://``'s bounded part for them
    (:data:`~.memory.GUARD`): counters that may be forgotten, oldest-written first, and never
    crowd out the codes, cool-downs and quotas."""

    def __init__(self, cache: Any = None, clock: Callable[[], float] = time.time) -> None:
        from .memory import GUARD, MemoryCache

        self.lock = threading.Lock()
        if cache is None:  # the codes live in an app's own cache=: the guard keeps a part of its own
            cache = MemoryCache(capacity=0, bounded={GUARD.prefix: GUARD.capacity}, clock=clock)
        self.cache = cache
        self.prefix = GUARD.prefix

    def _get(self, name: str) -> Any:
        return self.cache.get(self.prefix + name)

    def _put(self, name: str, value: Any, ttl: float) -> None:
        self.cache.set(self.prefix + name, value, timeout=math.ceil(ttl))

    def _pop(self, name: str) -> Any:
        value = self._get(name)
        if value is not None:
            self.cache.delete(self.prefix + name)
        return value

    @property
    def table(self) -> dict[str, str]:
        """The standing decisions (one entry of the part; written again at each change)."""
        table = self._get("decisions")
        if table is None:
            table = {}
            self._put("decisions", table, RECORD_TTL)
        return table  # type: ignore[no-any-return]

    def _record(self, name: str, now: float) -> dict[str, float]:
        record = self._get("v:" + name)
        if record is None:
            record = {}
        touch(record, now)
        self._put("v:" + name, record, RECORD_TTL)  # kept as given: later changes need no write
        return record  # type: ignore[no-any-return]

    def observe(self, request: Observe) -> Observation:
        with self.lock:
            return self._observe(request)

    def _observe(self, request: Observe) -> Observation:
        now = request.now
        app = self._record("app", now)
        records = [self._record(entry_name(d, v), now) for d, v in request.values]
        for record in [app, *records]:
            add(record, "a")
        levels = [_level(self.table.get(entry_name(d, v)), now) for d, v in request.values]
        pressure = under_pressure(app, request.pressure)
        refused, refused_by = _refusal(request, records, levels, pressure)
        if refused:
            _book_refusal(app, records, levels, refused)
        else:
            _forgive(records, levels, request.passed)
        link_new = False if refused else self._book_send(request, [app, *records])
        self._keep_code(request, bool(refused))
        return Observation(
            refused, refused_by, pressure, link_new, not refused, levels, [dict(r) for r in records], dict(app)
        )

    def _keep_code(self, request: Observe, refused: bool) -> None:
        """The code's record, for its verify to find (monitor: a refused text still goes out, its verify counts)."""
        if request.convertible and (not refused or not request.enforce):
            bucket = bucket_for(request.now, request.width, request.ttl)
            record = (code_record(bucket, request.values), request.now + request.ttl)
            self._put("code:" + request.code, record, request.ttl + 60)

    def _book_send(self, request: Observe, records: list[dict[str, float]]) -> bool:
        """Count a send in every record (pending until its TTL, when its verify can be seen); whether its
        network is new to the phone."""
        bucket = bucket_for(request.now, request.width, request.ttl)
        for record in records:
            add(record, "s")
            if request.convertible:
                add(record, bucket)
        return self._link(request)

    def _link(self, request: Observe) -> bool:
        """Remember that ``request.network`` texted this phone; whether it had not before."""
        if request.network is None:
            return False
        links = self._get("links:" + request.code) or {}
        for network in [network for network, until in links.items() if until <= request.now]:
            del links[network]
        new = request.network not in links
        links[request.network] = request.now + request.link_ttl
        self._put("links:" + request.code, links, request.link_ttl + 60)
        return new

    def undo(self, request: Observe, link_new: bool) -> None:
        with self.lock:
            self._undo(request, link_new)

    def _undo(self, request: Observe, link_new: bool) -> None:
        bucket = bucket_for(request.now, request.width, request.ttl) if request.convertible else "-"
        names = ["app", *(entry_name(d, v) for d, v in request.values)]
        for name in names:
            record = self._get("v:" + name)
            if record is not None:
                _take_back(record, bucket)
        self._pop("code:" + request.code)
        links = self._get("links:" + request.code)
        if link_new and request.network is not None and links is not None:
            links.pop(request.network, None)

    def decide(
        self,
        dimension: str,
        value: str,
        level: int,
        seconds: float,
        now: float,
        reason: str,
        counts: Mapping[str, float],
        undo: Observe | None = None,
    ) -> tuple[bool, float]:
        with self.lock:
            if undo is not None:
                self._undo(undo, False)
            name = entry_name(dimension, value)
            standing, until = _level(self.table.get(name), now)
            if standing >= level:
                return False, until
            record = self._record(name, now) if level == BLOCK else {}
            until = now + _block_seconds(record, seconds, now) if level == BLOCK else now + seconds
            table = self.table
            table[name] = encode_decision(level, until, now, reason, counts)
            self._put("decisions", table, RECORD_TTL)
            if dimension not in VERIFY_SIDE:
                add(self._record("app", now), "n")
            return True, until

    def verified(
        self, now: float, code: str, ok: bool, network: str | None
    ) -> tuple[dict[str, float], dict[str, float], list[Decision]]:
        with self.lock:
            app = self._record("app", now)
            net = self._record(entry_name("network", network), now) if network else {}
            if ok:
                self._convert(app, code, now)
            else:
                add(app, "vf")
                if network:
                    add(net, "vf")
            names = [entry_name("verify", "*")] + ([entry_name("verify_network", network)] if network else [])
            return dict(app), dict(net), self._decisions(now, names)

    def _convert(self, app: dict[str, float], code: str, now: float) -> None:
        found = self._pop("code:" + code)
        if found is None or found[1] <= now:
            return
        bucket, *names = found[0].split(LIST_SEP)
        for record in [app, *(self._record(name, now) for name in names)]:
            _convert_one(record, bucket)
        add(app, "cf")

    def verify_refused(self, now: float, network: str | None) -> None:
        with self.lock:
            if network:
                add(self._record(entry_name("network", network), now), "vq")

    def decisions(self, now: float, names: Iterable[str] | None = None) -> list[Decision]:
        with self.lock:
            return self._decisions(now, names)

    def _decisions(self, now: float, names: Iterable[str] | None) -> list[Decision]:
        table = self.table
        for name in [name for name, raw in table.items() if _level(raw, now)[0] == 0]:
            del table[name]
        chosen = table if names is None else {n: table[n] for n in names if n in table}
        return [decode_decision(name, raw) for name, raw in chosen.items()]

    def release(self, value: str, dimensions: Sequence[str]) -> int:
        with self.lock:
            lifted = 0
            table = self.table
            for dimension in dimensions:
                name = entry_name(dimension, value)
                lifted += table.pop(name, None) is not None
                self._pop("v:" + name)
            return lifted


def _refusal(
    request: Observe, records: list[dict[str, float]], levels: list[tuple[int, float]], pressure: bool
) -> tuple[str, int]:
    """Why a send is refused before any new decision: a standing block or challenge, the app's pressure."""
    worst = max(range(len(levels)), key=lambda index: levels[index][0], default=-1)
    if worst >= 0 and levels[worst][0] == BLOCK:
        return REFUSED_BLOCK, worst
    if request.passed:
        return "", -1
    if worst >= 0 and levels[worst][0] == CHALLENGE:
        return REFUSED_CHALLENGE, worst
    unproven = _unproven(records, request.always)
    if unproven >= 0:
        return REFUSED_UNPROVEN, unproven
    unproven = _unproven(records, request.under_pressure) if pressure else -1
    return (REFUSED_PRESSURE, unproven) if unproven >= 0 else ("", -1)


def _unproven(records: list[dict[str, float]], indices: Sequence[int]) -> int:
    """The first of ``indices`` whose value has no verified code lately (-1: none)."""
    return next((index for index in indices if records[index].get("c", 0.0) < PROVEN), -1)


def _book_refusal(
    app: dict[str, float], records: list[dict[str, float]], levels: list[tuple[int, float]], refused: str
) -> None:
    """A refusal: against each value that stood challenged or blocked (``q``), and, when it was the app's
    pressure that refused (values that never proved themselves), against the app (``r``): a pumper
    moving from fresh value to fresh value keeps the pressure on; one hammering a blocked value does not."""
    if refused in (REFUSED_PRESSURE, REFUSED_UNPROVEN):
        add(app, "r")
    for record, (level, _) in zip(records, levels):
        if level:
            add(record, "q")


def _forgive(records: list[dict[str, float]], levels: list[tuple[int, float]], passed: bool) -> None:
    """A passed human check for a challenged value takes back the refusal that asked for it: people
    behind a challenged network are refused once each, then pass; only refusals nobody answers add up."""
    if not passed:
        return
    for record, (level, _) in zip(records, levels):
        if level and record.get("q", 0.0) > 0:
            record["q"] = max(0.0, record["q"] - 1.0)


def _convert_one(record: dict[str, float], bucket: str) -> None:
    pending = record.get(bucket, 0.0)
    if pending >= 1.0 - _NEGLIGIBLE:
        pending -= 1.0
        if pending > _NEGLIGIBLE:
            record[bucket] = pending
        else:
            record.pop(bucket, None)
    add(record, "c")


def _block_seconds(record: dict[str, float], seconds: float, now: float) -> float:
    """12 h (``seconds``), doubled once for each block of the value that ended less than a day before."""
    strikes = record.get("k", 0.0) if now < record.get("ke", 0.0) + 86400 else 0.0
    until = seconds * 2**strikes
    record["k"] = strikes + 1
    record["ke"] = now + until
    return until


# -- Redis -----------------------------------------------------------------------------------------
_LUA_COMMON = """
local HL = {a=600, s=21600, c=21600, u=21600, q=3600, r=3600, cf=3600, n=3600, vf=3600, vq=3600}
local SEP = '\\031'
local LIST_SEP = '\\030'
local function load(key)
  local flat = redis.call('HGETALL', key)
  local rec = {}
  for i = 1, #flat, 2 do rec[flat[i]] = tonumber(flat[i + 1]) end
  return rec
end
local function touch(rec, now)
  local last = rec.at
  if last and now > last then
    local elapsed = now - last
    for name, hl in pairs(HL) do
      if rec[name] then rec[name] = rec[name] * 0.5 ^ (elapsed / hl) end
    end
  end
  if (not last) or now > last then rec.at = now end
  local pending = {}
  for name, _ in pairs(rec) do
    if string.sub(name, 1, 1) == 'p' then pending[#pending + 1] = name end
  end
  table.sort(pending)
  for _, name in ipairs(pending) do
    local matured = tonumber(string.sub(name, 2))
    if matured <= now then
      rec.u = (rec.u or 0) + rec[name] * 0.5 ^ ((now - matured) / HL.u)
      rec[name] = nil
    end
  end
end
local function add(rec, name, amount) rec[name] = (rec[name] or 0) + (amount or 1) end
local function save(key, rec, ttl)
  redis.call('DEL', key)
  local flat = {}
  for name, value in pairs(rec) do
    flat[#flat + 1] = name
    flat[#flat + 1] = string.format('%.17g', value)
  end
  if #flat > 0 then
    redis.call('HSET', key, unpack(flat))
    redis.call('EXPIRE', key, ttl)
  end
end
local function level_of(raw, now)
  if not raw then return 0, 0 end
  local first = string.find(raw, ';', 1, true)
  local second = string.find(raw, ';', first + 1, true)
  local until_ = tonumber(string.sub(raw, first + 1, second - 1))
  if until_ > now then return tonumber(string.sub(raw, 1, first - 1)), until_ end
  return 0, 0
end
local function flatten(rec)
  local flat = {}
  for name, value in pairs(rec) do
    flat[#flat + 1] = name
    flat[#flat + 1] = string.format('%.17g', value)
  end
  return flat
end
local function take_back(rec, bucket)
  add(rec, 's', -1)
  local pending = (rec[bucket] or 0) - 1
  if pending > 1e-6 then rec[bucket] = pending else rec[bucket] = nil end
end
"""

# KEYS: decisions, app, code record, links, then one record per value.
# ARGV: now, ttl, width, record ttl, link ttl, passed, enforce, network ('' for none), bucket,
#       code record, 5 pressure numbers, proven, under-pressure indices (csv), always indices (csv),
#       convertible, then the values' decision names.
_OBSERVE = (
    _LUA_COMMON
    + """
local now, ttl, width = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local keep, link_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local passed, enforce, network, bucket = ARGV[6] == '1', ARGV[7] == '1', ARGV[8], ARGV[9]
local p_unverified, p_conversion, p_decisions = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local p_refusals, p_ratio, proven = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
local function indices(csv)
  local out = {}
  for item in string.gmatch(csv, '[^,]+') do out[#out + 1] = tonumber(item) + 1 end
  return out
end
local pressured, always = indices(ARGV[17]), indices(ARGV[18])
local n = #KEYS - 4
local app = load(KEYS[2])
touch(app, now)
add(app, 'a')
local records, levels, untils = {}, {}, {}
for i = 1, n do
  records[i] = load(KEYS[4 + i])
  touch(records[i], now)
  add(records[i], 'a')
  levels[i], untils[i] = level_of(redis.call('HGET', KEYS[1], ARGV[19 + i]), now)
end
local verified, unverified = app.c or 0, app.u or 0
local share = 1
if verified + unverified > 0 then share = verified / (verified + unverified) end
local refusals = app.r or 0
local pressure = (unverified >= p_unverified and share < p_conversion) or (app.n or 0) >= p_decisions
  or (refusals >= p_refusals and refusals > p_ratio * (app.cf or 0))
local refused, refused_by = '', -1
local worst = 0
for i = 1, n do
  if levels[i] > (levels[worst] or 0) then worst = i end
end
if worst > 0 and levels[worst] == 2 then
  refused, refused_by = 'block', worst - 1
elseif not passed then
  if worst > 0 and levels[worst] == 1 then
    refused, refused_by = 'challenge', worst - 1
  else
    for _, i in ipairs(always) do
      if refused == '' and (records[i].c or 0) < proven then refused, refused_by = 'unproven', i - 1 end
    end
    if refused == '' and pressure then
      for _, i in ipairs(pressured) do
        if refused == '' and (records[i].c or 0) < proven then refused, refused_by = 'pressure', i - 1 end
      end
    end
  end
end
if refused ~= '' then
  if refused == 'pressure' or refused == 'unproven' then add(app, 'r') end
  for i = 1, n do
    if levels[i] > 0 then add(records[i], 'q') end
  end
elseif passed then
  for i = 1, n do
    if levels[i] > 0 and (records[i].q or 0) > 0 then records[i].q = math.max(0, records[i].q - 1) end
  end
end
local counted = refused == ''
local convertible = ARGV[19] == '1'
local link_new = 0
if (counted or not enforce) and convertible then redis.call('SET', KEYS[3], ARGV[10], 'EX', math.ceil(ttl) + 60) end
if counted then
  add(app, 's')
  if convertible then add(app, bucket) end
  for i = 1, n do
    add(records[i], 's')
    if convertible then add(records[i], bucket) end
  end
  if network ~= '' then
    local until_ = redis.call('HGET', KEYS[4], network)
    if (not until_) or tonumber(until_) <= now then link_new = 1 end
    redis.call('HSET', KEYS[4], network, string.format('%.17g', now + link_ttl))
    redis.call('EXPIRE', KEYS[4], math.ceil(link_ttl) + 60)
  end
end
save(KEYS[2], app, keep)
local out = {refused, refused_by, pressure and 1 or 0, link_new, counted and 1 or 0, flatten(app)}
for i = 1, n do
  save(KEYS[4 + i], records[i], keep)
  out[#out + 1] = {levels[i], string.format('%.17g', untils[i]), flatten(records[i])}
end
return out
"""
)

# KEYS: app, code record, links, then one record per value.
# ARGV: bucket, network ('' for none), link_new, record ttl.
_UNDO = (
    _LUA_COMMON
    + """
for i = 4, #KEYS do
  local rec = load(KEYS[i])
  if rec.at then
    take_back(rec, ARGV[1])
    save(KEYS[i], rec, tonumber(ARGV[4]))
  end
end
local rec = load(KEYS[1])
if rec.at then
  take_back(rec, ARGV[1])
  save(KEYS[1], rec, tonumber(ARGV[4]))
end
redis.call('DEL', KEYS[2])
if ARGV[3] == '1' and ARGV[2] ~= '' then redis.call('HDEL', KEYS[3], ARGV[2]) end
return 1
"""
)

# KEYS: decisions, app, the value's record. ARGV: name, level, seconds, now, encoded tail (made;reason;counts),
# record ttl, whether it counts towards the app's pressure.
_DECIDE = (
    _LUA_COMMON
    + """
local now, level, seconds = tonumber(ARGV[4]), tonumber(ARGV[2]), tonumber(ARGV[3])
local standing, until_ = level_of(redis.call('HGET', KEYS[1], ARGV[1]), now)
if standing >= level then return {0, string.format('%.17g', until_)} end
if level == 2 then
  local rec = load(KEYS[3])
  local strikes = 0
  if rec.ke and now < rec.ke + 86400 then strikes = rec.k or 0 end
  seconds = seconds * 2 ^ strikes
  rec.k = strikes + 1
  rec.ke = now + seconds
  if not rec.at then rec.at = now end
  save(KEYS[3], rec, tonumber(ARGV[6]))
end
until_ = now + seconds
redis.call('HSET', KEYS[1], ARGV[1], level .. ';' .. string.format('%.17g', until_) .. ';' .. ARGV[5])
local keep_table = math.ceil(seconds) + 86400
if redis.call('TTL', KEYS[1]) < keep_table then redis.call('EXPIRE', KEYS[1], keep_table) end
if ARGV[7] == '1' then
  local app = load(KEYS[2])
  touch(app, now)
  add(app, 'n')
  save(KEYS[2], app, tonumber(ARGV[6]))
end
return {1, string.format('%.17g', until_)}
"""
)

# KEYS: decisions, app, code record, the verifying network's record (any key of the slot when none).
# ARGV: now, record ttl, ok, key prefix for value records, has a network, then decision names to return.
_VERIFIED = (
    _LUA_COMMON
    + """
local now, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
local app = load(KEYS[2])
touch(app, now)
local has_net = ARGV[5] == '1'
local net = {}
if has_net then
  net = load(KEYS[4])
  touch(net, now)
end
if ARGV[3] == '1' then
  local raw = redis.call('GET', KEYS[3])
  if raw then
    redis.call('DEL', KEYS[3])
    local parts = {}
    for item in string.gmatch(raw, '[^' .. LIST_SEP .. ']+') do parts[#parts + 1] = item end
    local bucket = parts[1]
    local function convert(rec)
      local pending = rec[bucket] or 0
      if pending >= 1 - 1e-6 then
        pending = pending - 1
        if pending > 1e-6 then rec[bucket] = pending else rec[bucket] = nil end
      end
      add(rec, 'c')
    end
    convert(app)
    add(app, 'cf')
    for i = 2, #parts do
      local key = ARGV[4] .. string.gsub(parts[i], SEP, ':', 1)
      local rec = load(key)
      touch(rec, now)
      convert(rec)
      save(key, rec, keep)
      if key == KEYS[4] then net = rec end
    end
  end
else
  add(app, 'vf')
  if has_net then add(net, 'vf') end
end
save(KEYS[2], app, keep)
if has_net then save(KEYS[4], net, keep) end
local standing = {}
for i = 6, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw and level_of(raw, now) > 0 then
    standing[#standing + 1] = ARGV[i]
    standing[#standing + 1] = raw
  end
end
return {flatten(app), flatten(net), standing}
"""
)

# KEYS: app, the network's record (any key of the slot when none). ARGV: now, record ttl, has a network.
_VERIFY_REFUSED = (
    _LUA_COMMON
    + """
local now, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] == '1' then
  local net = load(KEYS[2])
  touch(net, now)
  add(net, 'vq')
  save(KEYS[2], net, keep)
end
return 1
"""
)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _record_from(flat: Sequence[Any]) -> dict[str, float]:
    return {_text(flat[i]): float(_text(flat[i + 1])) for i in range(0, len(flat), 2)}


class RedisBooks(Books):
    """Shared by every worker and host on one Redis (plain, TLS, Sentinel or Cluster): one script per step."""

    def __init__(self, client: Any, key_prefix: str) -> None:
        self.client = client
        self.base = f"{key_prefix}sms:{{guard}}:"
        self.table = self.base + "decisions"
        self.app = self.base + "app"
        self._observe = client.register_script(_OBSERVE)
        self._undo = client.register_script(_UNDO)
        self._decide = client.register_script(_DECIDE)
        self._verified = client.register_script(_VERIFIED)
        self._verify_refused = client.register_script(_VERIFY_REFUSED)

    def _value_key(self, dimension: str, value: str) -> str:
        return f"{self.base}v:{dimension}:{value}"

    def observe(self, request: Observe) -> Observation:
        keys = [self.table, self.app, self.base + "code:" + request.code, self.base + "links:" + request.code]
        keys += [self._value_key(d, v) for d, v in request.values]
        bucket = bucket_for(request.now, request.width, request.ttl)
        pressure = request.pressure
        args: list[Any] = [
            repr(request.now),
            repr(request.ttl),
            repr(request.width),
            RECORD_TTL,
            repr(request.link_ttl),
            "1" if request.passed else "0",
            "1" if request.enforce else "0",
            request.network or "",
            bucket,
            code_record(bucket, request.values),
            repr(pressure.unverified),
            repr(pressure.conversion),
            repr(pressure.decisions),
            repr(pressure.refusals),
            repr(pressure.ratio),
            repr(PROVEN),
            ",".join(map(str, request.under_pressure)),
            ",".join(map(str, request.always)),
            "1" if request.convertible else "0",
            *(entry_name(d, v) for d, v in request.values),
        ]
        reply = self._observe(keys=keys, args=args)
        refused, refused_by, pressured, link_new, counted, app = reply[:6]
        levels = [(int(level), float(_text(until))) for level, until, _ in reply[6:]]
        counters = [_record_from(flat) for _, _, flat in reply[6:]]
        return Observation(
            _text(refused),
            int(refused_by),
            bool(pressured),
            bool(link_new),
            bool(counted),
            levels,
            counters,
            _record_from(app),
        )

    def undo(self, request: Observe, link_new: bool) -> None:
        keys = [self.app, self.base + "code:" + request.code, self.base + "links:" + request.code]
        keys += [self._value_key(d, v) for d, v in request.values]
        bucket = bucket_for(request.now, request.width, request.ttl) if request.convertible else "-"
        args = [bucket, request.network or "", "1" if link_new else "0", RECORD_TTL]
        self._undo(keys=keys, args=args)

    def decide(
        self,
        dimension: str,
        value: str,
        level: int,
        seconds: float,
        now: float,
        reason: str,
        counts: Mapping[str, float],
        undo: Observe | None = None,
    ) -> tuple[bool, float]:
        if undo is not None:
            self.undo(undo, False)
        tail = encode_decision(level, 0.0, now, reason, counts).split(";", 2)[2]
        keys = [self.table, self.app, self._value_key(dimension, value)]
        pressure = "0" if dimension in VERIFY_SIDE else "1"
        args = [entry_name(dimension, value), level, repr(seconds), repr(now), tail, RECORD_TTL, pressure]
        made, until = self._decide(keys=keys, args=args)
        return bool(int(made)), float(_text(until))

    def verified(
        self, now: float, code: str, ok: bool, network: str | None
    ) -> tuple[dict[str, float], dict[str, float], list[Decision]]:
        names = [entry_name("verify", "*")] + ([entry_name("verify_network", network)] if network else [])
        net = self._value_key("network", network) if network else self.app
        keys = [self.table, self.app, self.base + "code:" + code, net]
        args = [repr(now), RECORD_TTL, "1" if ok else "0", self.base + "v:", "1" if network else "0", *names]
        app, net, standing = self._verified(keys=keys, args=args)
        decisions = [decode_decision(_text(standing[i]), standing[i + 1]) for i in range(0, len(standing), 2)]
        return _record_from(app), _record_from(net), decisions

    def verify_refused(self, now: float, network: str | None) -> None:
        keys = [self.app, self._value_key("network", network) if network else self.app]
        self._verify_refused(keys=keys, args=[repr(now), RECORD_TTL, "1" if network else "0"])

    def decisions(self, now: float, names: Iterable[str] | None = None) -> list[Decision]:
        if names is not None:
            chosen = list(names)
            raw: Mapping[Any, Any] = dict(zip(chosen, self.client.hmget(self.table, chosen))) if chosen else {}
        else:
            raw = self.client.hgetall(self.table) or {}
        found = []
        expired = []
        for name, value in raw.items():
            if value is None:
                continue
            if _level(value, now)[0] == 0:
                expired.append(_text(name))
            else:
                found.append(decode_decision(_text(name), value))
        if expired and names is None:
            self.client.hdel(self.table, *expired)
        return found

    def release(self, value: str, dimensions: Sequence[str]) -> int:
        names = [entry_name(dimension, value) for dimension in dimensions]
        lifted = int(self.client.hdel(self.table, *names))
        self.client.delete(*(self._value_key(dimension, value) for dimension in dimensions))
        return lifted


def books_for(storage: Storage | None, memory: Any = None, clock: Callable[[], float] = time.time) -> Books:
    """Shared through Redis when the state is kept there; this process's otherwise, in ``memory`` (the app's
    ``memory://``) when given, else in a part of its own on ``clock``."""
    if storage is not None and storage.redis is not None:
        return RedisBooks(storage.redis, storage.prefix)
    return MemoryBooks(memory, clock)
