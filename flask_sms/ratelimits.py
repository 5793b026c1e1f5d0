"""The per-IP, app-wide and verify-per-IP limits, on the flow's own clock.

Counts live in Flask-Limiter's storage (the ``limits`` library), so they share
``SMS_STORAGE_URL`` (or an app's own Limiter) and work across workers. Windows
are fixed windows of the flow's clock: the clock picks the window, the storage
only counts and expires keys, so codes, cool-downs and limits follow one clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .errors import RateLimited

NAMESPACE = "flask_sms"


def _always() -> bool:
    return True


class RateLimits:
    """Count hits against ``limits`` rate-limit items in a ``limits`` storage."""

    def __init__(self, storage: Any, enabled: Callable[[], bool] = _always) -> None:
        self.storage = storage
        self.enabled = enabled

    def hit(self, items: Sequence[Any], *identifiers: str, now: float) -> None:
        """Count one hit against every item; raise :class:`RateLimited` with the longest wait if any is over."""
        if not items or not self.enabled():
            return
        waits = []
        for item in items:
            window = item.get_expiry()
            start = now - now % window
            key = f"{item.key_for(NAMESPACE, *identifiers)}/{int(start)}"
            if self.storage.incr(key, window) > item.amount:
                waits.append(start + window - now)
        if waits:
            raise RateLimited(retry_after=max(1, math.ceil(max(waits))))
