"""Where codes, wrong-code counters and resend cool-downs live.

Everything is kept through Flask-Caching. Each step that must be atomic is one
operation: *begin* a send (the cool-down is free and the phone's quotas have room:
take the cool-down, store the code's digest with a fresh attempt budget, count the
send), *undo* it when the vendor did not deliver, *check-and-consume* a code, and
*use once* a verification token's id:

* on a Redis backend (``redis://``, ``rediss://``, sentinel, cluster) it is one
  Lua script, so it is atomic across workers and hosts and costs one round trip;
* on any other backend (``memory://``) it runs under a lock, which is atomic
  within one process only (hence the warning outside debug/testing).

Times come from the caller's clock and are stored in the values, so expiry is
decided by that clock (tests drive it); the backend's own TTL only cleans up.
All keys of one phone and purpose (code, failures, cool-down, quota counters)
share a Redis Cluster hash slot through the ``{purpose:phone}`` hash tag.
"""

from __future__ import annotations

import hmac
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .codes import CODE_EXPIRED, INVALID_CODE, TOO_MANY_ATTEMPTS
from .memory import MemoryCache

OK = "ok"  # what check() says for the right code; the failures are error codes from .codes
_CLEANUP_SLACK = 5  # seconds the backend keeps a key past its logical expiry


@dataclass(frozen=True)
class Keys:
    """The keys of one phone and purpose; the braces pin them to one cluster slot."""

    code: str
    fails: str
    cooldown: str
    tag: str

    def quota(self, amount: int, window: int) -> str:
        return f"{self.tag}:quota:{amount}/{window}"


def strangers_key(keys: Keys) -> str:
    """Where the wrong guesses of verifies without the send's nonce are counted."""
    return f"{keys.tag}:strangers"


def keys_for(purpose: str, phone: str) -> Keys:
    tag = f"sms:{{{purpose}:{phone}}}"
    return Keys(f"{tag}:code", f"{tag}:fails", f"{tag}:cooldown", tag)


Quota = tuple[str, int, int]  # (key, amount, window in seconds)


def token_key(token_id: str) -> str:
    """Where a redeemed verification token's id is kept, so it redeems once."""
    return f"sms:token:{token_id}"


class CodeStore(ABC):
    @abstractmethod
    def begin(self, keys: Keys, quotas: Sequence[Quota], digest: str, now: float, interval: float, ttl: float) -> float:
        """Start a send, atomically: if the cool-down is free and every quota has room,
        take the cool-down, store the code's digest (replacing any earlier code), clear
        the wrong-code count (a new code gets a fresh attempt budget) and count the
        send against the quotas.

        An empty ``digest`` begins a send whose code another library keeps
        (``send_external_code``): the cool-down and the quotas as above, no code
        written and no wrong-code count touched.

        Returns 0.0 when begun, else the seconds until a send could succeed: the
        longest wait among the cool-down and the quotas that refused (waiting out
        only the first would be answered with another refusal). Nothing is written
        on a refusal. All of it happens before the vendor call, so once a text is
        out nothing is left to store (a storage outage cannot turn a delivered text
        into an error).
        """

    @abstractmethod
    def undo(self, keys: Keys, quotas: Sequence[Quota], now: float, code: bool = True) -> None:
        """Take back a begun send that was not delivered: free the cool-down,
        drop the undelivered code (unless ``code`` is false: a send begun without one)
        and uncount the quotas (a count back at zero is deleted, so refused sends
        leave no keys behind)."""

    @abstractmethod
    def check(self, code_key: str, fail_key: str, digest: str, now: float, ttl: float, max_attempts: int) -> str:
        """Check-and-consume: ``OK`` (and the code is gone), or INVALID_CODE, CODE_EXPIRED, TOO_MANY_ATTEMPTS."""

    @abstractmethod
    def check_code(
        self,
        keys: Keys,
        digest: str,
        now: float,
        ttl: float,
        max_attempts: int,
        owner_expiry: float | None,
        stranger_budget: int,
    ) -> str:
        """Check-and-consume for its owner or for a stranger (see :mod:`.nonces`), atomically.

        ``owner_expiry`` (from the send's nonce) equal to the live code's expiry: :meth:`check`.
        Anyone else: their wrong guesses count against ``stranger_budget`` per phone and purpose,
        in a window of ``ttl`` seconds from the first; they never kill the code, and a phone with
        no live code answers as one with a wrong guess (INVALID_CODE; once the budget is spent,
        TOO_MANY_ATTEMPTS without the code being looked at).
        """

    @abstractmethod
    def use_once(self, key: str, now: float, until: float) -> bool:
        """Mark ``key`` used until ``until``: True the first time, False ever after (atomic)."""

    def use_once_many(self, keys: Sequence[str], now: float, until: float) -> list[bool]:
        """:meth:`use_once` for each key (each atomic on its own); stores batch them into one call."""
        return [self.use_once(key, now, until) for key in keys]


def _ttl(seconds: float) -> int:
    return math.ceil(seconds) + _CLEANUP_SLACK


class CacheStore(CodeStore):
    """Any Flask-Caching backend; compound steps run under one process-wide lock.

    ``room_for_send(keys)`` (``memory://``'s :meth:`~.memory.MemoryCache.room_for_send`) raises
    before a send's first write when the backend has no room for its keys, so a full store
    refuses a send whole and never leaves half of one behind.
    """

    def __init__(self, cache: Any, room_for_send: Callable[[Sequence[str]], None] | None = None) -> None:
        self.cache = cache
        self.room_for_send = room_for_send
        self.lock = threading.Lock()

    def _wait(self, keys: Keys, quotas: Sequence[Quota], now: float) -> tuple[float, list[tuple[str, int, float]]]:
        """The longest wait among the cool-down and the full quotas, and each quota's (key, count, window end)."""
        wait = 0.0
        until = self.cache.get(keys.cooldown)
        if until is not None and until > now:
            wait = float(until - now)
        counts = []
        for quota_key, amount, window in quotas:
            count, window_end = self.cache.get(quota_key) or (0, 0.0)
            if window_end <= now:
                count, window_end = 0, now + window
            if count >= amount:
                wait = max(wait, float(window_end - now))
            counts.append((quota_key, count, window_end))
        return wait, counts

    def begin(self, keys: Keys, quotas: Sequence[Quota], digest: str, now: float, interval: float, ttl: float) -> float:
        with self.lock:
            wait, counts = self._wait(keys, quotas, now)
            if wait > 0:
                return wait
            if self.room_for_send is not None:
                self.room_for_send([keys.cooldown, keys.code, *(quota_key for quota_key, _, _ in counts)])
            self.cache.set(keys.cooldown, now + interval, timeout=_ttl(interval))
            if digest:
                self.cache.set(keys.code, (digest, now + ttl), timeout=_ttl(ttl))
                self.cache.delete(keys.fails)
            for quota_key, count, window_end in counts:
                self.cache.set(quota_key, (count + 1, window_end), timeout=_ttl(window_end - now))
            return 0.0

    def undo(self, keys: Keys, quotas: Sequence[Quota], now: float, code: bool = True) -> None:
        with self.lock:
            self.cache.delete(keys.cooldown)
            if code:
                self.cache.delete(keys.code)
            for quota_key, _, _ in quotas:
                count, window_end = self.cache.get(quota_key) or (0, 0.0)
                if count > 1 and window_end > now:
                    self.cache.set(quota_key, (count - 1, window_end), timeout=_ttl(window_end - now))
                else:
                    self.cache.delete(quota_key)

    def check(self, code_key: str, fail_key: str, digest: str, now: float, ttl: float, max_attempts: int) -> str:
        with self.lock:
            return self._check(code_key, fail_key, digest, now, ttl, max_attempts)

    def _check(self, code_key: str, fail_key: str, digest: str, now: float, ttl: float, max_attempts: int) -> str:
        failures, failures_expire = self.cache.get(fail_key) or (0, 0.0)
        if failures_expire <= now:
            failures = 0
        if failures >= max_attempts:
            self.cache.delete(code_key)
            return TOO_MANY_ATTEMPTS
        stored = self.cache.get(code_key)
        if stored is None or stored[1] <= now:
            return CODE_EXPIRED
        if failures == 0:
            failures_expire = now + ttl
        failures += 1
        # counted before the compare, as the Lua script does: a full store refuses any code alike
        self.cache.set(fail_key, (failures, failures_expire), timeout=_ttl(failures_expire - now))
        if hmac.compare_digest(stored[0], digest):
            self.cache.delete(code_key)
            self.cache.delete(fail_key)
            return OK
        if failures >= max_attempts:
            self.cache.delete(code_key)
            return TOO_MANY_ATTEMPTS
        return INVALID_CODE

    def check_code(
        self,
        keys: Keys,
        digest: str,
        now: float,
        ttl: float,
        max_attempts: int,
        owner_expiry: float | None,
        stranger_budget: int,
    ) -> str:
        with self.lock:
            if owner_expiry is not None:
                stored = self.cache.get(keys.code)
                failures, failures_expire = self.cache.get(keys.fails) or (0, 0.0)
                if stored is None and failures >= max_attempts and failures_expire > now:
                    return TOO_MANY_ATTEMPTS  # the owner's own wrong guesses killed it
                if stored is not None and stored[1] == owner_expiry:
                    return self._check(keys.code, keys.fails, digest, now, ttl, max_attempts)
            return self._check_stranger(keys, digest, now, ttl, stranger_budget)

    def _check_stranger(self, keys: Keys, digest: str, now: float, ttl: float, budget: int) -> str:
        key = strangers_key(keys)
        count, window_end = self.cache.get(key) or (0, 0.0)
        if window_end <= now:
            count, window_end = 0, now + ttl
        if count >= budget:
            return TOO_MANY_ATTEMPTS
        # counted before the compare (a full store refuses any code alike); a right guess leaves it counted
        self.cache.set(key, (count + 1, window_end), timeout=_ttl(window_end - now))
        stored = self.cache.get(keys.code)
        if stored is not None and stored[1] > now and hmac.compare_digest(stored[0], digest):
            self.cache.delete(keys.code)
            return OK
        return INVALID_CODE

    def use_once(self, key: str, now: float, until: float) -> bool:
        with self.lock:
            return self._use_once(key, now, until)

    def _use_once(self, key: str, now: float, until: float) -> bool:
        used = self.cache.get(key)
        if used is not None and used > now:
            return False
        self.cache.set(key, until, timeout=_ttl(until - now))
        return True

    def use_once_many(self, keys: Sequence[str], now: float, until: float) -> list[bool]:
        with self.lock:
            return [self._use_once(key, now, until) for key in keys]


# Lua string equality compares interned strings by identity, so it does not
# leak how much of the digest matched; and the digest is an HMAC an attacker
# cannot steer anyway.
# KEYS: cool-down, code, wrong-code count, then the quota counters ("count:window_end").
# ARGV: now, interval, cool-down TTL, code value ('' for none), code TTL, slack, then amount and window per quota.
_BEGIN = """
local now, slack = tonumber(ARGV[1]), tonumber(ARGV[6])
local wait = 0
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > now then wait = current - now end
local counts, ends = {}, {}
for i = 4, #KEYS do
  local amount, window = tonumber(ARGV[7 + 2 * (i - 4)]), tonumber(ARGV[8 + 2 * (i - 4)])
  local count, window_end = 0, 0
  local raw = redis.call('GET', KEYS[i])
  if raw then
    local sep = string.find(raw, ':', 1, true)
    count, window_end = tonumber(string.sub(raw, 1, sep - 1)), tonumber(string.sub(raw, sep + 1))
  end
  if window_end <= now then count, window_end = 0, now + window end
  if count >= amount and window_end - now > wait then wait = window_end - now end
  counts[i], ends[i] = count, window_end
end
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[2])), 'EX', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
  redis.call('DEL', KEYS[3])
end
for i = 4, #KEYS do
  redis.call('SET', KEYS[i], (counts[i] + 1) .. ':' .. ends[i], 'EX', math.ceil(ends[i] - now) + slack)
end
return '0'
"""

# KEYS: cool-down, code, then the quota counters. ARGV: now, slack, drop the code (1/0).
_UNDO = """
local now, slack = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
if ARGV[3] == '1' then redis.call('DEL', KEYS[2]) end
for i = 3, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw then
    local sep = string.find(raw, ':', 1, true)
    local count, window_end = tonumber(string.sub(raw, 1, sep - 1)), tonumber(string.sub(raw, sep + 1))
    if count > 1 and window_end > now then
      redis.call('SET', KEYS[i], (count - 1) .. ':' .. window_end, 'EX', math.ceil(window_end - now) + slack)
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return 1
"""

# KEYS: code, failures. ARGV: digest, now, ttl, max attempts, slack, then what to answer:
# right code, wrong code, no live code, too many attempts. The attempt is counted before the
# codes are compared (and the count dropped with the code when it was right): on a Redis at
# maxmemory (noeviction) that first write is refused whatever the code, so a full Redis never
# answers a right code differently from a wrong one (a 503 for wrong guesses only would be an
# oracle that counts nothing).
_CHECK = """
local now, ttl, max_attempts = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local OK, INVALID, EXPIRED, LOCKED = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local failures, failures_expire = 0, 0
local raw = redis.call('GET', KEYS[2])
if raw then
  local sep = string.find(raw, ':', 1, true)
  failures, failures_expire = tonumber(string.sub(raw, 1, sep - 1)), tonumber(string.sub(raw, sep + 1))
  if failures_expire <= now then failures = 0 end
end
if failures >= max_attempts then redis.call('DEL', KEYS[1]) return LOCKED end
local stored = redis.call('GET', KEYS[1])
if not stored then return EXPIRED end
local sep = string.find(stored, ':', 1, true)
if tonumber(string.sub(stored, sep + 1)) <= now then return EXPIRED end
if failures == 0 then failures_expire = now + ttl end
failures = failures + 1
redis.call('SET', KEYS[2], failures .. ':' .. failures_expire, 'EX', math.ceil(failures_expire - now) + ARGV[5])
if string.sub(stored, 1, sep - 1) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) return OK end
if failures >= max_attempts then redis.call('DEL', KEYS[1]) return LOCKED end
return INVALID
"""


# KEYS: code, failures, strangers' failures. ARGV: digest, now, ttl, max attempts, slack, the owner's expiry
# ('' for none, else as the code stores it), the strangers' budget, then what to answer (as _CHECK).
_CHECK_CODE = """
local now, ttl, max_attempts = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local OK, INVALID, EXPIRED, LOCKED = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local stored = redis.call('GET', KEYS[1])
local sep = stored and string.find(stored, ':', 1, true)
local failures, failures_expire = 0, 0
if ARGV[6] ~= '' then
  local raw = redis.call('GET', KEYS[2])
  if raw then
    local s = string.find(raw, ':', 1, true)
    failures, failures_expire = tonumber(string.sub(raw, 1, s - 1)), tonumber(string.sub(raw, s + 1))
    if failures_expire <= now then failures = 0 end
  end
  if (not stored) and failures >= max_attempts then return LOCKED end
end
if ARGV[6] ~= '' and stored and string.sub(stored, sep + 1) == ARGV[6] then
  if failures >= max_attempts then redis.call('DEL', KEYS[1]) return LOCKED end
  if tonumber(string.sub(stored, sep + 1)) <= now then return EXPIRED end
  if failures == 0 then failures_expire = now + ttl end
  failures = failures + 1
  redis.call('SET', KEYS[2], failures .. ':' .. failures_expire, 'EX', math.ceil(failures_expire - now) + ARGV[5])
  if string.sub(stored, 1, sep - 1) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) return OK end
  if failures >= max_attempts then redis.call('DEL', KEYS[1]) return LOCKED end
  return INVALID
end
local budget = tonumber(ARGV[7])
local count, window_end = 0, 0
local raw = redis.call('GET', KEYS[3])
if raw then
  local s = string.find(raw, ':', 1, true)
  count, window_end = tonumber(string.sub(raw, 1, s - 1)), tonumber(string.sub(raw, s + 1))
end
if window_end <= now then count, window_end = 0, now + ttl end
if count >= budget then return LOCKED end
count = count + 1
redis.call('SET', KEYS[3], count .. ':' .. string.format('%.17g', window_end), 'EX', math.ceil(window_end - now) + ARGV[5])
if stored and tonumber(string.sub(stored, sep + 1)) > now and string.sub(stored, 1, sep - 1) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return OK
end
return INVALID
"""


class RedisStore(CodeStore):
    """Flask-Caching's Redis client, one Lua script (one round trip) per atomic step."""

    def __init__(self, client: Any, key_prefix: str) -> None:
        self.client = client
        self.prefix = key_prefix
        self._begin = client.register_script(_BEGIN)
        self._undo = client.register_script(_UNDO)
        self._check = client.register_script(_CHECK)
        self._check_code = client.register_script(_CHECK_CODE)

    def _keys(self, keys: Keys, quotas: Sequence[Quota], *, fails: bool = False) -> list[str]:
        own = [keys.cooldown, keys.code, keys.fails] if fails else [keys.cooldown, keys.code]
        return [self.prefix + key for key in own] + [self.prefix + q for q, _, _ in quotas]

    def begin(self, keys: Keys, quotas: Sequence[Quota], digest: str, now: float, interval: float, ttl: float) -> float:
        args: list[Any] = [
            repr(now),
            repr(interval),
            _ttl(interval),
            f"{digest}:{now + ttl!r}" if digest else "",
            _ttl(ttl),
            _CLEANUP_SLACK,
        ]
        for _, amount, window in quotas:
            args += [amount, window]
        return float(self._begin(keys=self._keys(keys, quotas, fails=True), args=args))

    def undo(self, keys: Keys, quotas: Sequence[Quota], now: float, code: bool = True) -> None:
        self._undo(keys=self._keys(keys, quotas), args=[repr(now), _CLEANUP_SLACK, "1" if code else "0"])

    def check(self, code_key: str, fail_key: str, digest: str, now: float, ttl: float, max_attempts: int) -> str:
        keys = [self.prefix + code_key, self.prefix + fail_key]
        answers = [OK, INVALID_CODE, CODE_EXPIRED, TOO_MANY_ATTEMPTS]
        result = self._check(keys=keys, args=[digest, repr(now), repr(ttl), max_attempts, _CLEANUP_SLACK, *answers])
        return result.decode() if isinstance(result, bytes) else str(result)

    def check_code(
        self,
        keys: Keys,
        digest: str,
        now: float,
        ttl: float,
        max_attempts: int,
        owner_expiry: float | None,
        stranger_budget: int,
    ) -> str:
        names = [self.prefix + key for key in (keys.code, keys.fails, strangers_key(keys))]
        owner = "" if owner_expiry is None else repr(owner_expiry)
        answers = [OK, INVALID_CODE, CODE_EXPIRED, TOO_MANY_ATTEMPTS]
        args = [digest, repr(now), repr(ttl), max_attempts, _CLEANUP_SLACK, owner, stranger_budget, *answers]
        result = self._check_code(keys=names, args=args)
        return result.decode() if isinstance(result, bytes) else str(result)

    def use_once(self, key: str, now: float, until: float) -> bool:
        # One command, atomic across workers: only the first SET NX finds the key free.
        return bool(self.client.set(self.prefix + key, repr(until), nx=True, ex=_ttl(until - now)))

    def use_once_many(self, keys: Sequence[str], now: float, until: float) -> list[bool]:
        # One SET NX per key, pipelined: one round trip for a whole batch of receipts.
        if len(keys) <= 1:
            return [self.use_once(key, now, until) for key in keys]
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.set(self.prefix + key, repr(until), nx=True, ex=_ttl(until - now))
        return [bool(done) for done in pipe.execute()]


@dataclass(frozen=True)
class Storage:
    """Where one app keeps its state: a Flask-Caching backend, and the redis-py client its atomic steps
    run on as scripts (``None``: they run under a lock in this process, on the backend).

    The client is flask_sms's own, built from ``SMS_STORAGE_URL`` (:func:`flask_sms.backends.redis_client`);
    ``prefix`` starts every key the scripts write, as the backend's own key prefix starts its keys.
    """

    cache: Any
    redis: Any = None
    prefix: str = ""
    #: the URL ``redis`` was built from (``""`` without one)
    url: str = ""


def store_for(storage: Storage) -> CodeStore:
    """The atomic implementation that fits the storage: Lua scripts on its Redis client, else a lock."""
    if storage.redis is not None:
        return RedisStore(storage.redis, storage.prefix)
    if isinstance(storage.cache, MemoryCache):
        return CacheStore(storage.cache, room_for_send=storage.cache.room_for_send)
    return CacheStore(storage.cache)


# -- the circuit breakers' shared state -----------------------------------------------------------
#: one provider's open breaker: (open until, opened at), times from the caller's clock
OpenBreaker = tuple[float, float]

#: what recording a failure did
COUNTED, OPENED, ALREADY_OPEN, REOPENED = "counted", "opened", "open", "reopened"


class BreakerState(ABC):
    """Where the providers' breakers live: failure counts in a window, and which are open until when.

    Only failures, probes and closings write; a healthy send reads nothing here (the
    breaker keeps a local view, refreshed with :meth:`snapshot` at most once a second).
    """

    @abstractmethod
    def snapshot(self) -> dict[str, OpenBreaker]:
        """Every open breaker (also those whose cool-down is over and await a probe)."""

    @abstractmethod
    def failure(
        self, name: str, now: float, window: float, threshold: int, cooldown: float, probe: bool
    ) -> tuple[str, OpenBreaker | None]:
        """Count one failed or unknown send; open the breaker at ``threshold`` within ``window``.

        A failed probe opens it again at once. Returns what happened and the breaker's state.
        """

    @abstractmethod
    def claim_probe(self, name: str, ttl: float) -> bool:
        """Whether this caller is the one that sends the probe (once across workers, for ``ttl`` s)."""

    @abstractmethod
    def close(self, name: str) -> bool:
        """Close the breaker after a good send; ``True`` if it was open (said once across workers)."""


class MemoryBreakerState(BreakerState):
    """Per process, under a lock (``memory://`` and any non-Redis storage)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, OpenBreaker] = {}
        self._fails: dict[str, tuple[int, float]] = {}  # name -> (count, window end)
        self._probes: dict[str, float] = {}  # name -> claimed until (monotonic)

    def snapshot(self) -> dict[str, OpenBreaker]:
        with self._lock:
            return dict(self._open)

    def failure(
        self, name: str, now: float, window: float, threshold: int, cooldown: float, probe: bool
    ) -> tuple[str, OpenBreaker | None]:
        with self._lock:
            if name in self._open:
                if not probe:
                    return ALREADY_OPEN, self._open[name]
                self._open[name] = (now + cooldown, now)
                self._probes.pop(name, None)
                return REOPENED, self._open[name]
            count, window_end = self._fails.get(name, (0, 0.0))
            if window_end <= now:
                count, window_end = 0, now + window
            count += 1
            if count >= threshold:
                self._fails.pop(name, None)
                self._open[name] = (now + cooldown, now)
                return OPENED, self._open[name]
            self._fails[name] = (count, window_end)
            return COUNTED, None

    def claim_probe(self, name: str, ttl: float) -> bool:
        import time

        with self._lock:
            if self._probes.get(name, 0.0) > time.monotonic():
                return False
            self._probes[name] = time.monotonic() + ttl
            return True

    def close(self, name: str) -> bool:
        with self._lock:
            self._fails.pop(name, None)
            self._probes.pop(name, None)
            return self._open.pop(name, None) is not None


# One hash of open breakers for every provider, so the local view is one HGETALL; all keys
# share the {breaker} hash tag (one Redis Cluster slot), so each script touches one slot.
# KEYS: open breakers (hash), the provider's failure count, its probe claim.
# ARGV: name, now, window, threshold, cooldown, probe (1/0), slack.
_BREAKER_FAILURE = """
local name, now = ARGV[1], tonumber(ARGV[2])
local window, threshold, cooldown = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local open = redis.call('HGET', KEYS[1], name)
if open and ARGV[6] ~= '1' then return {'open', open} end
if open then
  local state = tostring(now + cooldown) .. ':' .. tostring(now)
  redis.call('HSET', KEYS[1], name, state)
  redis.call('DEL', KEYS[3])
  return {'reopened', state}
end
local count, window_end = 0, 0
local raw = redis.call('GET', KEYS[2])
if raw then
  local sep = string.find(raw, ':', 1, true)
  count, window_end = tonumber(string.sub(raw, 1, sep - 1)), tonumber(string.sub(raw, sep + 1))
end
if window_end <= now then count, window_end = 0, now + window end
count = count + 1
if count >= threshold then
  local state = tostring(now + cooldown) .. ':' .. tostring(now)
  redis.call('HSET', KEYS[1], name, state)
  redis.call('EXPIRE', KEYS[1], 86400 + math.ceil(cooldown))
  redis.call('DEL', KEYS[2])
  return {'opened', state}
end
redis.call('SET', KEYS[2], count .. ':' .. window_end, 'EX', math.ceil(window_end - now) + tonumber(ARGV[7]))
return {'counted', ''}
"""

# KEYS: open breakers (hash), the provider's failure count, its probe claim. ARGV: name.
_BREAKER_CLOSE = """
redis.call('DEL', KEYS[2], KEYS[3])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""


def _open_breaker(raw: Any) -> OpenBreaker:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    until, _, opened = text.partition(":")
    return float(until), float(opened)


class RedisBreakerState(BreakerState):
    """Shared by every worker and host on the same Redis (plain, TLS, Sentinel or Cluster)."""

    def __init__(self, client: Any, key_prefix: str) -> None:
        self.client = client
        self.open_key = f"{key_prefix}sms:{{breaker}}:open"
        self.prefix = f"{key_prefix}sms:{{breaker}}:"
        self._failure = client.register_script(_BREAKER_FAILURE)
        self._close = client.register_script(_BREAKER_CLOSE)

    def _keys(self, name: str) -> list[str]:
        return [self.open_key, f"{self.prefix}fails:{name}", f"{self.prefix}probe:{name}"]

    def snapshot(self) -> dict[str, OpenBreaker]:
        raw = self.client.hgetall(self.open_key) or {}
        return {(k.decode() if isinstance(k, bytes) else str(k)): _open_breaker(v) for k, v in raw.items()}

    def failure(
        self, name: str, now: float, window: float, threshold: int, cooldown: float, probe: bool
    ) -> tuple[str, OpenBreaker | None]:
        args = [name, repr(now), repr(window), threshold, repr(cooldown), "1" if probe else "0", _CLEANUP_SLACK]
        what, state = self._failure(keys=self._keys(name), args=args)
        what = what.decode() if isinstance(what, bytes) else str(what)
        return what, (_open_breaker(state) if state else None)

    def claim_probe(self, name: str, ttl: float) -> bool:
        return bool(self.client.set(self._keys(name)[2], "1", nx=True, px=max(1, int(ttl * 1000))))

    def close(self, name: str) -> bool:
        return bool(self._close(keys=self._keys(name), args=[name]))


def breaker_state_for(storage: Storage | None) -> BreakerState:
    """Shared through Redis when the state is kept there; per process otherwise (and with no storage at all)."""
    if storage is not None and storage.redis is not None:
        return RedisBreakerState(storage.redis, storage.prefix)
    return MemoryBreakerState()
