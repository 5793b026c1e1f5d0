"""``memory://``: the in-process store that never forgets security state to make room.

A Flask-Caching backend of flask_sms's own (``CACHE_TYPE = "flask_sms.memory.MemoryCache"``), used
through Flask-Caching's public API like any other. Its keys live in separate parts:

* **security state** (cool-downs, live codes, wrong-code counters, phone quota counters, redeemed
  token ids): every key not under a bounded prefix. It is never evicted to make room. When this
  part is full of live keys a write of a new key raises :class:`MemoryFull` (an ``OSError``, so the
  flow answers ``503 unavailable``: fail closed). A send is refused :attr:`MemoryCache.send_reserve`
  keys before the end, so the codes already out can still count wrong guesses and redeem tokens.
* **bounded parts** (:class:`Bounded`): state that may be forgotten (delivery receipts, fraud-guard
  counters). Each has a capacity of its own and, when full, forgets its oldest-written keys, so it
  can never crowd out the security state, nor another bounded part.

Expired keys are swept by when they expire (a heap of :data:`SWEEP_GRAIN`-second buckets, a set of
keys in each): each write removes at most :data:`SWEEP_BATCH` of the keys that are due, and a write
that finds its part full first sweeps all of them. Nothing ever sorts the store. Expiry follows ``clock`` (for
``memory://``, the flow's clock ``sms.clock``), so keys expire on the clock the codes are judged by.

Adding a bounded part (e.g. for new counters that may be forgotten): give it a prefix and a capacity
in :data:`BOUNDED`, and write its keys under that prefix; on Redis the same keys need a TTL (every
flask_sms key on Redis has one: tests/test_redis_policy.py checks it).
"""

from __future__ import annotations

import errno
import heapq
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_caching.backends.base import BaseCache

#: keys of live security state ``memory://`` holds at most (about 20,000 phones with a live code)
CAPACITY = 100_000
#: keys of due expiries a write sweeps at most (one write adds a key or two, so sweeping keeps ahead)
SWEEP_BATCH = 64
#: seconds of expiry one sweep bucket covers: a key is swept up to this late (it reads as gone at once),
#: and steady traffic keeps a day of buckets (8,640) for its day-long quota counters, not one per second
SWEEP_GRAIN = 10
SECURITY = "security"


@dataclass(frozen=True)
class Bounded:
    """A part of ``memory://`` for state that may be forgotten: keys under ``prefix``, at most
    ``capacity`` of them; when full, the oldest-written key makes room. Used by prefix alone."""

    prefix: str
    capacity: int


#: delivery reports: the seen marks, the message-id map and the latest statuses (flask_sms.receipt_book)
RECEIPTS = Bounded("sms:receipt:", 50_000)
#: the fraud guard's counters, decisions and per-code records (flask_sms.guard_books)
GUARD = Bounded("sms:{guard}:", 50_000)
#: every bounded part of ``memory://``, each apart from the security state and from the others
BOUNDED: tuple[Bounded, ...] = (RECEIPTS, GUARD)


class MemoryFull(OSError):
    """``memory://`` has no room left for live security state: refuse, never forget (``ENOSPC``)."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.ENOSPC, message)


class _Part:
    """One part's keys, in write order: key -> (expires at, 0 for never; value)."""

    __slots__ = ("capacity", "entries", "evicts", "name")

    def __init__(self, name: str, capacity: int, evicts: bool) -> None:
        self.name = name
        self.capacity = capacity
        self.evicts = evicts
        self.entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()


def _bucket(expires: float) -> int:
    """The end of the sweep bucket a key expiring at ``expires`` is in (it is swept once that is past)."""
    return math.ceil(expires / SWEEP_GRAIN) * SWEEP_GRAIN


def _live(entry: tuple[float, Any] | None, now: float) -> bool:
    return entry is not None and (not entry[0] or entry[0] > now)


class MemoryCache(BaseCache):
    """Flask-Caching backend of ``memory://``: one process, thread-safe, values kept as given.

    ``capacity``: keys of security state; ``bounded``: prefix -> capacity of each bounded part
    (default :data:`BOUNDED`); ``send_reserve``: keys kept free for verifies and redeems when sends
    are refused (default 5 % of ``capacity``); ``clock``: what "now" is (default ``time.time``).
    """

    def __init__(
        self,
        default_timeout: int = 300,
        ignore_delete_many_errors: bool = False,
        *,
        capacity: int = CAPACITY,
        bounded: Mapping[str, int] | None = None,
        send_reserve: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(default_timeout)  # Flask-Caching 2.1's BaseCache takes nothing else
        self.ignore_delete_many_errors = ignore_delete_many_errors  # deleting a missing key is no error here
        self.capacity = capacity
        self.send_reserve = capacity // 20 if send_reserve is None else send_reserve
        self.clock = clock
        parts = {part.prefix: part.capacity for part in BOUNDED} if bounded is None else dict(bounded)
        self._bounded = tuple(_Part(prefix, size, evicts=True) for prefix, size in parts.items())
        self._security = _Part(SECURITY, capacity, evicts=False)
        self._due: dict[int, set[str]] = {}  # bucket end -> keys that expire before it
        self._buckets: list[int] = []  # heap of the bucket ends in ``_due``
        self._lock = threading.RLock()

    @classmethod
    def factory(cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> MemoryCache:
        """How Flask-Caching builds it: ``CACHE_OPTIONS`` are the keyword arguments."""
        return cls(*args, **kwargs)

    # -- where a key lives, and its expiry -------------------------------------------------------
    def _part(self, key: str) -> _Part:
        for part in self._bounded:
            if key.startswith(part.name):
                return part
        return self._security

    def _expires(self, timeout: float | timedelta | None, now: float) -> float:
        seconds = self.default_timeout if timeout is None else timeout
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        return 0.0 if seconds == 0 else now + seconds  # 0: never expires, as in cachelib

    def _index(self, key: str, expires: float) -> None:
        if not expires:
            return
        bucket = _bucket(expires)
        keys = self._due.get(bucket)
        if keys is None:
            keys = self._due[bucket] = set()
            heapq.heappush(self._buckets, bucket)
        keys.add(key)

    def _unindex(self, key: str, expires: float) -> None:
        if expires:
            self._due.get(_bucket(expires), set()).discard(key)

    def _sweep(self, now: float, budget: int | None) -> None:
        """Remove keys whose bucket is over, ``budget`` of them at most (``None``: all that are due)."""
        removed = 0
        while self._buckets and self._buckets[0] <= now:
            keys = self._due[self._buckets[0]]
            while keys:
                if budget is not None and removed >= budget:
                    return
                key = keys.pop()
                self._part(key).entries.pop(key, None)
                removed += 1
            del self._due[heapq.heappop(self._buckets)]

    def _make_room(self, part: _Part, new: int, now: float, reserve: int = 0) -> None:
        """Room for ``new`` more keys (and ``reserve`` spare) in ``part``: sweep, then evict or refuse."""
        if len(part.entries) + new + reserve <= part.capacity:
            return
        self._sweep(now, None)
        if len(part.entries) + new + reserve <= part.capacity:
            return
        if not part.evicts:
            raise MemoryFull(
                f"memory:// is full: {len(part.entries)} keys of live security state (cool-downs, codes, attempt "
                f"and quota counters, redeemed tokens; capacity {part.capacity}, {reserve} kept for verifies): "
                "refusing rather than forgetting. Use redis:// in production."
            )
        while part.entries and len(part.entries) + new > part.capacity:
            key, (expires, _) = part.entries.popitem(last=False)
            self._unindex(key, expires)

    def _write(self, key: str, value: Any, expires: float, now: float) -> None:
        part = self._part(key)
        old = part.entries.get(key)
        if old is None:
            self._make_room(part, 1, now)
        else:
            self._unindex(key, old[0])
            part.entries.move_to_end(key)
        part.entries[key] = (expires, value)
        self._index(key, expires)

    # -- flask_sms's own step ------------------------------------------------------------------------
    def room_for_send(self, keys: Sequence[str]) -> None:
        """Raise :class:`MemoryFull` unless the security part has room for the new ones among ``keys``
        and :attr:`send_reserve` more: a send is refused whole, before its first write."""
        with self._lock:
            now = self.clock()
            entries = self._security.entries
            new = sum(1 for key in keys if key not in entries)
            self._make_room(self._security, new, now, self.send_reserve)

    def part_sizes(self) -> dict[str, int]:
        """Keys held per part (expired ones not yet swept included): ``{"security": n, prefix: n, ...}``."""
        with self._lock:
            return {part.name: len(part.entries) for part in (self._security, *self._bounded)}

    def items(self) -> dict[str, Any]:
        """Every live key and its value, a copy (to inspect what is kept: tests, a debugger)."""
        with self._lock:
            now = self.clock()
            parts = (self._security, *self._bounded)
            return {key: entry[1] for part in parts for key, entry in part.entries.items() if _live(entry, now)}

    # -- the cachelib API ----------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._part(key).entries.get(key)
            return entry[1] if entry is not None and _live(entry, self.clock()) else None

    def get_many(self, *keys: str) -> list[Any]:
        with self._lock:
            return [self.get(key) for key in keys]

    def has(self, key: str) -> bool:
        with self._lock:
            return _live(self._part(key).entries.get(key), self.clock())

    def set(self, key: str, value: Any, timeout: float | timedelta | None = None) -> bool:
        with self._lock:
            now = self.clock()
            self._sweep(now, SWEEP_BATCH)
            self._write(key, value, self._expires(timeout, now), now)
            return True

    def set_many(self, mapping: Mapping[str, Any], timeout: float | timedelta | None = None) -> list[Any]:
        with self._lock:
            now = self.clock()
            self._sweep(now, SWEEP_BATCH)
            expires = self._expires(timeout, now)
            for key, value in mapping.items():
                self._write(key, value, expires, now)
            return list(mapping)

    def add(self, key: str, value: Any, timeout: float | timedelta | None = None) -> bool:
        with self._lock:
            if self.has(key):
                return False
            return self.set(key, value, timeout)

    def delete(self, key: str) -> bool:
        with self._lock:
            entry = self._part(key).entries.pop(key, None)
            if entry is None:
                return False
            self._unindex(key, entry[0])
            return True

    def delete_many(self, *keys: str) -> list[Any]:
        with self._lock:
            for key in keys:
                self.delete(key)
            return list(keys)  # a key that was not there counts as deleted, as in cachelib

    def clear(self) -> bool:
        with self._lock:
            for part in (self._security, *self._bounded):
                part.entries.clear()
            self._due.clear()
            self._buckets.clear()
            return True

    def inc(self, key: str, delta: int = 1) -> int | None:
        with self._lock:
            value = int(self.get(key) or 0) + delta
            return value if self.set(key, value) else None

    def dec(self, key: str, delta: int = 1) -> int | None:
        return self.inc(key, -delta)
