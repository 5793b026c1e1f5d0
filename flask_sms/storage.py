"""Where codes, wrong-code counters and resend cool-downs live.

Everything is kept through Flask-Caching. Each step that must be atomic
(reserve a cool-down, check-and-consume a code) is one operation:

* on a Redis backend (``redis://``, ``rediss://``, sentinel, cluster) it is one
  Lua script, so it is atomic across workers and hosts and costs one round trip;
* on any other backend (``memory://``) it runs under a lock, which is atomic
  within one process only (hence the warning outside debug/testing).

Times come from the caller's clock and are stored in the values, so expiry is
decided by that clock (tests drive it); the backend's own TTL only cleans up.
The three keys of one phone and purpose share a Redis Cluster hash slot through
the ``{purpose:phone}`` hash tag.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from typing import Any

OK, INVALID, EXPIRED, LOCKED = "ok", "invalid_code", "code_expired", "too_many_attempts"
_CLEANUP_SLACK = 5  # seconds the backend keeps a key past its logical expiry


def keys_for(purpose: str, phone: str) -> tuple[str, str, str]:
    """(code, failures, cool-down) keys; the braces pin them to one cluster slot."""
    tag = f"sms:{{{purpose}:{phone}}}"
    return f"{tag}:code", f"{tag}:fails", f"{tag}:cooldown"


class CodeStore(ABC):
    @abstractmethod
    def reserve(self, key: str, now: float, interval: float) -> float:
        """Take the cool-down: 0.0 if taken, else the seconds left on it."""

    @abstractmethod
    def release(self, key: str, now: float) -> None:
        """Give a cool-down back (the send it guarded failed)."""

    @abstractmethod
    def put_code(self, code_key: str, digest: str, now: float, ttl: float) -> None:
        """Store a code's digest, replacing any earlier code."""

    @abstractmethod
    def check(self, code_key: str, fail_key: str, digest: str, now: float, ttl: float, max_attempts: int) -> str:
        """Check-and-consume: OK (and the code is gone), INVALID, EXPIRED or LOCKED."""


def _ttl(seconds: float) -> int:
    return math.ceil(seconds) + _CLEANUP_SLACK


class CacheStore(CodeStore):
    """Any Flask-Caching backend; compound steps run under one process-wide lock."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.lock = threading.Lock()

    def reserve(self, key: str, now: float, interval: float) -> float:
        with self.lock:
            until = self.cache.get(key)
            if until is not None and until > now:
                return until - now
            self.cache.set(key, now + interval, timeout=_ttl(interval))
            return 0.0

    def release(self, key: str, now: float) -> None:
        with self.lock:
            self.cache.delete(key)

    def put_code(self, code_key: str, digest: str, now: float, ttl: float) -> None:
        with self.lock:
            self.cache.set(code_key, (digest, now + ttl), timeout=_ttl(ttl))

    def check(self, code_key: str, fail_key: str, digest: str, now: float, ttl: float, max_attempts: int) -> str:
        import hmac

        with self.lock:
            failures, failures_expire = self.cache.get(fail_key) or (0, 0.0)
            if failures_expire <= now:
                failures = 0
            if failures >= max_attempts:
                self.cache.delete(code_key)
                return LOCKED
            stored = self.cache.get(code_key)
            if stored is None or stored[1] <= now:
                return EXPIRED
            if hmac.compare_digest(stored[0], digest):
                self.cache.delete(code_key)
                return OK
            if failures == 0:
                failures_expire = now + ttl
            failures += 1
            self.cache.set(fail_key, (failures, failures_expire), timeout=_ttl(failures_expire - now))
            if failures >= max_attempts:
                self.cache.delete(code_key)
                return LOCKED
            return INVALID


# Lua string equality compares interned strings by identity, so it does not
# leak how much of the digest matched; and the digest is an HMAC an attacker
# cannot steer anyway.
_RESERVE = """
local now = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > now then return tostring(current - now) end
redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[2])), 'EX', ARGV[3])
return '0'
"""

_CHECK = """
local now, ttl, max_attempts = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local failures, failures_expire = 0, 0
local raw = redis.call('GET', KEYS[2])
if raw then
  local sep = string.find(raw, ':', 1, true)
  failures, failures_expire = tonumber(string.sub(raw, 1, sep - 1)), tonumber(string.sub(raw, sep + 1))
  if failures_expire <= now then failures = 0 end
end
if failures >= max_attempts then redis.call('DEL', KEYS[1]) return 'too_many_attempts' end
local stored = redis.call('GET', KEYS[1])
if not stored then return 'code_expired' end
local sep = string.find(stored, ':', 1, true)
if tonumber(string.sub(stored, sep + 1)) <= now then return 'code_expired' end
if string.sub(stored, 1, sep - 1) == ARGV[1] then redis.call('DEL', KEYS[1]) return 'ok' end
if failures == 0 then failures_expire = now + ttl end
failures = failures + 1
redis.call('SET', KEYS[2], failures .. ':' .. failures_expire, 'EX', math.ceil(failures_expire - now) + ARGV[5])
if failures >= max_attempts then redis.call('DEL', KEYS[1]) return 'too_many_attempts' end
return 'invalid_code'
"""


class RedisStore(CodeStore):
    """Flask-Caching's Redis client, one Lua script (one round trip) per atomic step."""

    def __init__(self, client: Any, key_prefix: str) -> None:
        self.client = client
        self.prefix = key_prefix
        self._reserve = client.register_script(_RESERVE)
        self._check = client.register_script(_CHECK)

    def reserve(self, key: str, now: float, interval: float) -> float:
        left = self._reserve(keys=[self.prefix + key], args=[repr(now), repr(interval), _ttl(interval)])
        return float(left)

    def release(self, key: str, now: float) -> None:
        self.client.delete(self.prefix + key)

    def put_code(self, code_key: str, digest: str, now: float, ttl: float) -> None:
        self.client.set(self.prefix + code_key, f"{digest}:{now + ttl!r}", ex=_ttl(ttl))

    def check(self, code_key: str, fail_key: str, digest: str, now: float, ttl: float, max_attempts: int) -> str:
        keys = [self.prefix + code_key, self.prefix + fail_key]
        result = self._check(keys=keys, args=[digest, repr(now), repr(ttl), max_attempts, _CLEANUP_SLACK])
        return result.decode() if isinstance(result, bytes) else str(result)


def store_for(cache: Any) -> CodeStore:
    """Pick the atomic implementation that fits the Flask-Caching backend."""
    backend = getattr(cache, "cache", cache)
    try:
        from cachelib.redis import RedisCache
    except ImportError:  # pragma: no cover - cachelib ships with Flask-Caching
        RedisCache = ()  # type: ignore[assignment,misc]
    if isinstance(backend, RedisCache):
        prefix = backend.key_prefix if isinstance(backend.key_prefix, str) else backend.key_prefix()
        return RedisStore(backend._write_client, prefix)
    return CacheStore(cache)
