"""Idempotent sends: ``send_sms(..., out_id=..., idempotent=True)`` texts at most once per ``out_id``.

The first call claims ``out_id`` in the storage (one atomic step: Redis ``SET NX`` in a
script, so across workers and hosts; a lock on ``memory://``), sends, then records its
:class:`~flask_sms.results.SendResult` there for ``SMS_IDEMPOTENCY_TTL`` seconds. A later
call with the same ``out_id`` gets that result back and sends nothing; a call while the
first is still in flight gets :class:`DuplicateSend`.

The claim is given back only when nothing was sent and nothing may have been (a
``SendError``, or a call refused before any vendor was asked). A process that dies
mid-send leaves the claim in flight until the TTL ends: when in doubt whether a vendor
sent the text, assume it did (a Celery task redelivered after its worker was killed
then finds the claim and sends nothing).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .errors import InvalidPhoneNumber, MissingParameter, SendError, SmsError, UnknownPurpose
from .results import Attempt, SendResult, SentMessage

if TYPE_CHECKING:
    from .storage import Storage

#: what the storage holds while the first call is sending
IN_FLIGHT = "in-flight"
#: errors raised before any vendor was asked, or when none sent and none may have: the claim is given back
NOTHING_SENT = (SendError, MissingParameter, UnknownPurpose, InvalidPhoneNumber)


class DuplicateSend(SmsError):
    """A send with this ``out_id`` is still in flight (or its process died mid-send): nothing was sent again."""

    def __init__(self, out_id: str) -> None:
        self.out_id = out_id
        super().__init__(
            f"a send with out_id {out_id!r} is in flight (or ended without a result); not sent again. "
            "Try again later to get its result."
        )


def dumps(result: SendResult) -> str:
    return json.dumps(asdict(result), ensure_ascii=False, separators=(",", ":"))


def loads(raw: str) -> SendResult:
    """The :class:`SendResult` :func:`dumps` wrote, rebuilt with its attempts and messages."""
    data: dict[str, Any] = json.loads(raw)

    def attempt(fields: dict[str, Any]) -> Attempt:
        return Attempt(**{**fields, "phones": tuple(fields["phones"])})

    data["attempts"] = [attempt(item) for item in data["attempts"]]
    data["failed"] = {phone: attempt(item) for phone, item in data["failed"].items()}
    data["unknown"] = {phone: attempt(item) for phone, item in data["unknown"].items()}
    data["messages"] = [SentMessage(**item) for item in data["messages"]]
    data["timings"] = [(provider, seconds) for provider, seconds in data.get("timings", [])]
    return SendResult(**data)


class Ledger(ABC):
    """Where claims and results live, for ``ttl`` seconds."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl

    @staticmethod
    def key(out_id: str) -> str:
        return f"sms:sent:{{{out_id}}}"

    @abstractmethod
    def claim(self, out_id: str) -> str | None:
        """Claim ``out_id`` (``None``: claimed now), or what is there already: :data:`IN_FLIGHT` or a result."""

    @abstractmethod
    def record(self, out_id: str, result: str) -> None:
        """Replace the claim with the result."""

    @abstractmethod
    def release(self, out_id: str) -> None:
        """Give the claim back (nothing was sent)."""

    def once(self, out_id: str, send: Callable[[], SendResult]) -> SendResult:
        """``send()`` once per ``out_id``; later calls get the first result (see the module's docstring)."""
        found = self.claim(out_id)
        if found == IN_FLIGHT:
            raise DuplicateSend(out_id)
        if found is not None:
            return loads(found)
        try:
            result = send()
        except NOTHING_SENT:
            self.release(out_id)
            raise
        self.record(out_id, dumps(result))
        return result


# KEYS: the out_id's key. ARGV: in-flight marker, ttl. What is there, or false when claimed now.
_CLAIM = """
local found = redis.call('GET', KEYS[1])
if found then return found end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""


class RedisLedger(Ledger):
    """Shared by every worker and host on the same Redis: one script to claim, one ``SET`` to record."""

    def __init__(self, client: Any, key_prefix: str, ttl: int) -> None:
        super().__init__(ttl)
        self.client = client
        self.prefix = key_prefix
        self._claim = client.register_script(_CLAIM)

    def claim(self, out_id: str) -> str | None:
        found = self._claim(keys=[self.prefix + self.key(out_id)], args=[IN_FLIGHT, self.ttl])
        if found is None or found is False:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    def record(self, out_id: str, result: str) -> None:
        self.client.set(self.prefix + self.key(out_id), result, ex=self.ttl)

    def release(self, out_id: str) -> None:
        self.client.delete(self.prefix + self.key(out_id))


class CacheLedger(Ledger):
    """Any Flask-Caching backend (``memory://``: per process), under a lock."""

    def __init__(self, cache: Any, ttl: int) -> None:
        super().__init__(ttl)
        self.cache = cache
        self.lock = threading.Lock()

    def claim(self, out_id: str) -> str | None:
        with self.lock:
            found: str | None = self.cache.get(self.key(out_id))
            if found is None:
                self.cache.set(self.key(out_id), IN_FLIGHT, timeout=self.ttl)
            return found

    def record(self, out_id: str, result: str) -> None:
        self.cache.set(self.key(out_id), result, timeout=self.ttl)

    def release(self, out_id: str) -> None:
        self.cache.delete(self.key(out_id))


def ledger_for(storage: Storage, ttl: int) -> Ledger:
    """Through Redis when the state is kept there (one script per claim); in the cache otherwise."""
    if storage.redis is not None:
        return RedisLedger(storage.redis, storage.prefix, ttl)
    return CacheLedger(storage.cache, ttl)
