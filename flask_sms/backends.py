"""Turn ``SMS_STORAGE_URL`` into a Flask-Caching cache and rate-limit counters.

One URL configures both, so codes and limits always live in the same place.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask

from .errors import ConfigError

logger = logging.getLogger("flask_sms")

KEY_PREFIX = "flask_sms:"
_MEMORY_THRESHOLD = 100_000  # SimpleCache evicts past this; its default of 500 would drop live codes


def cache_config(url: str, timeout: float) -> dict[str, Any]:
    """Flask-Caching settings for a storage URL."""
    if url.startswith("memory://"):
        return {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": _MEMORY_THRESHOLD, "CACHE_KEY_PREFIX": KEY_PREFIX}
    socket_options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    parts = urlsplit(url)
    if url.startswith(("redis://", "rediss://")):
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": url,
            "CACHE_KEY_PREFIX": KEY_PREFIX,
            "CACHE_OPTIONS": socket_options,
        }
    hosts = [host.rsplit(":", 1) for host in parts.netloc.rsplit("@", 1)[-1].split(",") if host]
    password = unquote(parts.password) if parts.password else None
    if url.startswith("redis+cluster://"):
        return {
            "CACHE_TYPE": "RedisClusterCache",
            "CACHE_REDIS_CLUSTER": ",".join(":".join(pair) for pair in hosts),
            "CACHE_REDIS_PASSWORD": password or "",
            "CACHE_KEY_PREFIX": KEY_PREFIX,
        }
    if url.startswith("redis+sentinel://"):
        return {
            "CACHE_TYPE": "RedisSentinelCache",
            "CACHE_REDIS_SENTINELS": [(host, int(port)) for host, port in hosts],
            "CACHE_REDIS_SENTINEL_MASTER": parts.path.strip("/") or "mymaster",
            "CACHE_REDIS_PASSWORD": password,
            "CACHE_KEY_PREFIX": KEY_PREFIX,
        }
    raise ConfigError([f"SMS_STORAGE_URL has an unsupported scheme: {url!r}"])


def make_cache(app: Flask, url: str, timeout: float) -> Any:
    from flask_caching import Cache

    cache = Cache(config=cache_config(url, timeout))
    cache.init_app(app)
    return cache


def adopt_cache(app: Flask, cache: Any) -> Any:
    """Use an app's own Flask-Caching object, initialising it for the app if needed."""
    if cache not in app.extensions.get("cache", {}):
        cache.init_app(app)
    backend = app.extensions["cache"][cache]
    if type(backend).__name__ == "NullCache":
        raise ConfigError(["the cache passed to SmsExtension is a NullCache: codes would never be stored"])
    return cache


class OwnLimits:
    """Flask-Limiter's engine (the ``limits`` library) without Flask-Limiter's app hooks.

    ``Limiter.init_app`` would add a before- and after-request hook to every route
    of the app (~60 µs each request) and read the app's ``RATELIMIT_*`` settings,
    which belong to the app's own limiter (its default limits would then be
    enforced twice). flask_sms only counts its own limits, so it builds the same
    storage and fixed-window strategy Flask-Limiter would, from ``SMS_STORAGE_URL``.
    It has the two attributes flask_sms uses of a ``Limiter``.
    """

    enabled = True

    def __init__(self, url: str, timeout: float) -> None:
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        options: dict[str, Any] = {}
        if not url.startswith("memory://"):
            options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        self.storage = storage_from_string(url, **options)
        self.limiter = FixedWindowRateLimiter(self.storage)


def adopt_limiter(app: Flask, limiter: Any) -> Any:
    """Use an app's own Flask-Limiter, initialising it for the app if needed."""
    if getattr(limiter, "_storage", None) is None:
        limiter.init_app(app)
    return limiter


def warn_if_per_process(app: Flask, url: str, own_cache: bool) -> None:
    if own_cache and url.startswith("memory://") and not (app.debug or app.testing):
        logger.warning(
            "SMS_STORAGE_URL is memory://: each worker process keeps its own codes and limits, "
            "so limits multiply with the number of workers. Use redis:// in production."
        )
