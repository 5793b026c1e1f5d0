"""Where the receipt route keeps its marks and counters, and every bound on what it stores, in one place.

* **Marks.** A delivery report is *claimed* while its ``delivery_reported`` handlers
  run (held :data:`CLAIM_SECONDS`), then marked *done* (kept for ``SMS_RECEIPT_TTL``)
  once every handler returned, or *released* when one raised, so the vendor's retry
  announces it again. A copy of the same report that arrives meanwhile finds it
  *busy*: that push is answered 503 and retried, never acknowledged for a report that
  may still be lost. A worker that dies mid-way leaves a claim that lapses by itself.
* **Counters** in fixed windows of the caller's clock: pushes per window
  (``SMS_RECEIPT_LIMITS``), the bytes stored per ``SMS_RECEIPT_TTL`` window
  (``SMS_RECEIPT_MAX_STORED_BYTES``: counted as reports are stored, in the step that marks them
  done; a push that finds the bound reached stores nothing, so it is passed by at most what
  the pushes in flight store), wrong tokens per client and minute.

On Redis each step over a batch is one round trip (a pipeline), so it
holds across workers and hosts; on any other backend (``memory://``) the steps run
under one lock, atomic within the process.
"""

from __future__ import annotations

import math
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .storage import Storage

#: how long a claim holds a report: longer than any request a worker finishes (gunicorn's default
#: timeout is 30 s), short enough that a report whose worker died is announced on the vendor's next retry
CLAIM_SECONDS = 60
CLAIMED, BUSY, DONE = "claimed", "busy", "done"
_DONE_VALUE = "done"
_CLAIM_PREFIX = "claim:"
_SLACK = 5  # seconds the backend keeps a key past its logical end


def _ttl(seconds: float) -> int:
    return max(1, math.ceil(seconds)) + _SLACK


class ReceiptStore(ABC):
    """The marks and counters of the receipt route, in the code storage."""

    def __init__(self) -> None:
        #: this process's claim token: a release only ever removes its own claims
        self.token = secrets.token_hex(8)

    @abstractmethod
    def claim(self, keys: Sequence[str], now: float) -> list[str]:
        """For each key, atomically: :data:`CLAIMED` (free: now held by this process), :data:`BUSY`
        (held by another) or :data:`DONE` (seen before)."""

    @abstractmethod
    def finish(
        self, keys: Sequence[str], now: float, until: float, counters: Sequence[tuple[str, int, int]] = ()
    ) -> None:
        """Mark claimed keys done until ``until``, and add to ``counters`` (as :meth:`count`) in the same step."""

    @abstractmethod
    def release(self, keys: Sequence[str]) -> None:
        """Give back this process's claims on ``keys`` (their reports will be announced again)."""

    @abstractmethod
    def count(self, counters: Sequence[tuple[str, int, int]], now: float) -> list[tuple[int, int]]:
        """For each ``(key, amount, window)``, add ``amount`` (0: only read) to the counter of the current
        fixed window of ``window`` seconds, all in one step: (the current window's total after adding,
        the previous window's total) for each."""


def _window_keys(key: str, now: float, window: int) -> tuple[str, str, float]:
    start = now - now % window
    return f"{key}/{int(start)}", f"{key}/{int(start - window)}", start + window - now


class CacheReceiptStore(ReceiptStore):
    """Any Flask-Caching backend; every step under one process-wide lock.

    The claims live in this process (a dict), the done marks in the cache: ``memory://`` is
    one process's store anyway, so a claim costs no write to it.
    """

    def __init__(self, cache: Any) -> None:
        super().__init__()
        self.cache = cache
        self.lock = threading.Lock()
        self.claims: dict[str, float] = {}  # key -> until

    def claim(self, keys: Sequence[str], now: float) -> list[str]:
        answers = []
        with self.lock:
            if len(self.claims) > 10_000:  # claims of handlers that never came back (a killed thread)
                self.claims = {key: until for key, until in self.claims.items() if until > now}
            done = self.cache.get_many(*keys) if keys else []
            for key, value in zip(keys, done):
                if isinstance(value, (int, float)) and value > now:
                    answers.append(DONE)
                elif self.claims.get(key, 0.0) > now:
                    answers.append(BUSY)
                else:
                    self.claims[key] = now + CLAIM_SECONDS
                    answers.append(CLAIMED)
        return answers

    def finish(
        self, keys: Sequence[str], now: float, until: float, counters: Sequence[tuple[str, int, int]] = ()
    ) -> None:
        if keys:
            with self.lock:
                self.cache.set_many(dict.fromkeys(keys, until), timeout=_ttl(until - now))
                for key in keys:
                    self.claims.pop(key, None)
        if counters:
            self.count(counters, now)

    def release(self, keys: Sequence[str]) -> None:
        with self.lock:
            for key in keys:
                self.claims.pop(key, None)

    def count(self, counters: Sequence[tuple[str, int, int]], now: float) -> list[tuple[int, int]]:
        totals = []
        with self.lock:
            for key, amount, window in counters:
                current, previous, left = _window_keys(key, now, window)
                total = int(self.cache.get(current) or 0) + amount
                if amount:
                    self.cache.set(current, total, timeout=_ttl(left + window))
                totals.append((total, int(self.cache.get(previous) or 0)))
        return totals


# KEYS: one mark. ARGV: this process's claim value. Deletes the mark only while it is our own claim.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisReceiptStore(ReceiptStore):
    """Flask-Caching's Redis client: one pipeline (one round trip) per step over a batch.

    The keys of one batch fall in many cluster slots, so no step is one multi-key script:
    a claim is ``SET NX GET`` of each key in one pipeline (Redis 7.0+: the key was free, or
    what it holds tells a done mark from another worker's claim), or before Redis 7.0 ``SET NX``
    then ``GET`` of each key in one pipeline.
    """

    def __init__(self, client: Any, key_prefix: str) -> None:
        super().__init__()
        self.client = client
        self.prefix = key_prefix
        self._release = client.register_script(_RELEASE)
        from redis.exceptions import ResponseError

        #: whether this server takes SET ... NX GET (Redis 7.0+); found out on the first claim
        self.set_get = True
        self.errors: tuple[type[Exception], ...] = (ResponseError,)

    def _keys(self, keys: Sequence[str]) -> list[str]:
        return [self.prefix + key for key in keys]

    def claim(self, keys: Sequence[str], now: float) -> list[str]:
        if not keys:
            return []
        mine, prefixed, ttl = _CLAIM_PREFIX + self.token, self._keys(keys), _ttl(CLAIM_SECONDS)
        if self.set_get:
            try:
                return self._claim_set_get(prefixed, mine, ttl)
            except self.errors:  # before Redis 7.0 NX and GET do not combine: SET NX, then GET
                self.set_get = False
        pipe = self.client.pipeline(transaction=False)
        for key in prefixed:
            pipe.set(key, mine, nx=True, ex=ttl)
        for key in prefixed:
            pipe.get(key)
        results = pipe.execute()
        taken, values = results[: len(keys)], results[len(keys) :]
        return [CLAIMED if ok else _marked(value) for ok, value in zip(taken, values)]

    def _claim_set_get(self, keys: list[str], mine: str, ttl: int) -> list[str]:
        """Redis 7: ``SET NX GET`` answers both at once (nil: the key was free, and is now ours)."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("SET", key, mine, "NX", "GET", "EX", ttl, get=True)  # get=: the raw reply
        return [CLAIMED if value is None else _marked(value) for value in pipe.execute()]

    def finish(
        self, keys: Sequence[str], now: float, until: float, counters: Sequence[tuple[str, int, int]] = ()
    ) -> None:
        if not keys and not counters:
            return
        pipe = self.client.pipeline(transaction=False)
        for key in self._keys(keys):
            pipe.set(key, _DONE_VALUE, ex=_ttl(until - now))
        for key, amount, window in counters:
            current, _, left = _window_keys(key, now, window)
            pipe.incrby(self.prefix + current, amount)
            pipe.expire(self.prefix + current, _ttl(left + window))
        pipe.execute()

    def release(self, keys: Sequence[str]) -> None:
        for key in self._keys(keys):  # rare (a handler raised): one small script per key, cluster-safe
            self._release(keys=[key], args=[_CLAIM_PREFIX + self.token])

    def count(self, counters: Sequence[tuple[str, int, int]], now: float) -> list[tuple[int, int]]:
        pipe = self.client.pipeline(transaction=False)
        for key, amount, window in counters:
            current, previous, left = _window_keys(key, now, window)
            if amount:
                pipe.incrby(self.prefix + current, amount)
                pipe.expire(self.prefix + current, _ttl(left + window))
            else:
                pipe.get(self.prefix + current)
            pipe.get(self.prefix + previous)
        results = iter(pipe.execute())
        totals = []
        for _, amount, _ in counters:
            total = next(results)
            if amount:
                next(results)  # EXPIRE's answer
            totals.append((int(total or 0), int(next(results) or 0)))
        return totals


def _marked(value: Any) -> str:
    """What a mark another SET NX found says: a claim is :data:`BUSY`; anything else (``done``, or the
    time a mark of an earlier release wrote) is :data:`DONE`."""
    if value is None:  # released between the SET and the GET: settled elsewhere, ask again later
        return BUSY
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return BUSY if text.startswith(_CLAIM_PREFIX) else DONE


def receipt_store_for(storage: Storage) -> ReceiptStore:
    """The implementation that fits the storage (as :func:`~flask_sms.storage.store_for`)."""
    if storage.redis is not None:
        return RedisReceiptStore(storage.redis, storage.prefix)
    return CacheReceiptStore(storage.cache)


#: wrong tokens one client may try per minute before its pushes are refused unread (429)
WRONG_TOKENS_PER_MINUTE = 10
_WRONG_TOKEN_KEY = "sms:receipt:wrong-token:"
_PUSH_KEY = "sms:receipt:pushes:"
_BYTES_KEY = "sms:receipt:bytes"


@dataclass(frozen=True)
class Admission:
    """What the bounds say about a push that carries the right token."""

    #: its client tried too many wrong tokens this minute: refused unread (429)
    limited: bool
    #: seconds until a push would be under ``SMS_RECEIPT_LIMITS``; 0: it may be read
    wait: int
    #: the receipts stored ``SMS_RECEIPT_MAX_STORED_BYTES``: nothing more is stored (503)
    full: bool


class ReceiptBounds:
    """How much the receipt route takes: pushes per window, bytes stored, wrong tokens per client.

    Every bound is counted in the same storage as what it bounds (the code storage),
    so forged pushes that carry the token cannot fill it and push out codes and limits.
    """

    def __init__(self, store: ReceiptStore, push_limits: Sequence[Any], max_stored_bytes: int | None, ttl: int) -> None:
        self.store = store
        self.push_limits = tuple(push_limits)  # ``limits`` rate-limit items (SMS_RECEIPT_LIMITS)
        self.max_stored_bytes = max_stored_bytes
        self.ttl = ttl
        self._lock = threading.Lock()
        self._said: dict[str, float] = {}
        self._unsaid: dict[str, int] = {}

    def admit(self, client: str, now: float) -> Admission:
        """A push with the right token, in one step: whether ``client`` is over its wrong tokens this
        minute (then it is refused unread), the seconds until a push would be under
        ``SMS_RECEIPT_LIMITS`` (0: it may be read; it is counted either way), and whether what the
        receipts stored reached ``SMS_RECEIPT_MAX_STORED_BYTES``."""
        counters = [(_WRONG_TOKEN_KEY + client, 0, 60), (_BYTES_KEY, 0, self.ttl)]
        windows = [int(item.get_expiry()) for item in self.push_limits]
        counters += [
            (f"{_PUSH_KEY}{item.amount}/{window}", 1, window) for item, window in zip(self.push_limits, windows)
        ]
        (wrong, _), (stored, before), *pushes = self.store.count(counters, now)
        waits = [
            window - now % window
            for item, window, (total, _) in zip(self.push_limits, windows, pushes)
            if total > item.amount
        ]
        full = self.max_stored_bytes is not None and stored + before >= self.max_stored_bytes
        return Admission(wrong > WRONG_TOKENS_PER_MINUTE, math.ceil(max(waits)) if waits else 0, full)

    def stored(self, amount: int) -> list[tuple[str, int, int]]:
        """The counter to add ``amount`` stored bytes to (for :meth:`ReceiptStore.finish`). Whatever is
        stored expires within ``ttl``, so this window's and the previous one's counts cover it all."""
        return [] if self.max_stored_bytes is None or amount <= 0 else [(_BYTES_KEY, amount, self.ttl)]

    def wrong_token(self, client: str, now: float) -> bool:
        """Count a wrong token from ``client``; ``True`` once it is over :data:`WRONG_TOKENS_PER_MINUTE`."""
        ((total, _),) = self.store.count([(_WRONG_TOKEN_KEY + client, 1, 60)], now)
        return total > WRONG_TOKENS_PER_MINUTE

    def quiet(self, kind: str, now: float) -> int:
        """For a refusal an outsider can repeat, logged at most once a minute per kind (per process):
        0 to stay quiet, else how many refusals of this kind the log line stands for."""
        with self._lock:
            self._unsaid[kind] = self._unsaid.get(kind, 0) + 1
            last = self._said.get(kind)
            if last is not None and 0 <= now - last < 60:
                return 0
            self._said[kind] = now
            return self._unsaid.pop(kind)
