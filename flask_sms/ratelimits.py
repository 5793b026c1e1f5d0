"""The per-IP, app-wide and verify-per-IP limits, on the flow's own clock.

Counts live in Flask-Limiter's storage (the ``limits`` library), so they share
``SMS_STORAGE_URL`` (or an app's own Limiter) and work across workers. Windows
are fixed windows of the flow's clock: the clock picks the window, the storage
only counts and expires keys, so codes, cool-downs and limits follow one clock.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence
from typing import Any

from .errors import RateLimited

NAMESPACE = "flask_sms"


def client_key(address: str, ipv6_prefix: int) -> str:
    """Who a per-IP limit counts: an IPv4 address, or the IPv6 network of ``ipv6_prefix`` bits around it.

    One subscriber usually gets a whole /64 (or more) of IPv6 addresses and can
    use a fresh one per request, so counting single IPv6 addresses counts nothing.
    An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) counts as its IPv4 address.
    Anything that is not an IP address (an app's own ``client_ip``) is counted as given.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)


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
