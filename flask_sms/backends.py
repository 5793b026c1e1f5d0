"""Turn ``SMS_STORAGE_URL`` into a Flask-Caching cache and rate-limit counters.

One URL configures both, so codes and limits always live in the same place.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask

from .errors import ConfigError
from .ratelimits import RateLimits

logger = logging.getLogger("flask_sms")

KEY_PREFIX = "flask_sms:"
_MEMORY_THRESHOLD = 100_000  # SimpleCache evicts past this; its default of 500 would drop live codes


def _hosts(url: str) -> tuple[list[tuple[str, str]], str | None]:
    """``redis+x://:pw@h1:1,h2:2/...`` -> ([("h1", "1"), ("h2", "2")], "pw")."""
    parts = urlsplit(url)
    hosts = [host.rsplit(":", 1) for host in parts.netloc.rsplit("@", 1)[-1].split(",") if host]
    return [(host, port) for host, port in hosts], unquote(parts.password) if parts.password else None


def _redis(url: str, timeout: float) -> dict[str, Any]:
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url, "CACHE_OPTIONS": options}


def _cluster(url: str, timeout: float) -> dict[str, Any]:
    hosts, password = _hosts(url)
    return {
        "CACHE_TYPE": "RedisClusterCache",
        "CACHE_REDIS_CLUSTER": ",".join(f"{host}:{port}" for host, port in hosts),
        "CACHE_REDIS_PASSWORD": password or "",
    }


def _sentinel(url: str, timeout: float) -> dict[str, Any]:
    hosts, password = _hosts(url)
    return {
        "CACHE_TYPE": "RedisSentinelCache",
        "CACHE_REDIS_SENTINELS": [(host, int(port)) for host, port in hosts],
        "CACHE_REDIS_SENTINEL_MASTER": urlsplit(url).path.strip("/") or "mymaster",
        "CACHE_REDIS_PASSWORD": password,
    }


def _memory(url: str, timeout: float) -> dict[str, Any]:
    return {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": _MEMORY_THRESHOLD}


MEMORY_STORAGE = "memory://"

_CACHE_CONFIGS = {
    MEMORY_STORAGE: _memory,
    "redis://": _redis,
    "rediss://": _redis,
    "redis+cluster://": _cluster,
    "redis+sentinel://": _sentinel,
}


#: the schemes ``SMS_STORAGE_URL`` may use
STORAGE_SCHEMES = tuple(_CACHE_CONFIGS)


def cache_config(url: str, timeout: float) -> dict[str, Any]:
    """Flask-Caching settings for a storage URL (its scheme was checked by the config)."""
    scheme = url.split("://", 1)[0] + "://"
    if scheme not in _CACHE_CONFIGS:
        raise ConfigError([f"SMS_STORAGE_URL has an unsupported scheme: {url!r}"])
    return {**_CACHE_CONFIGS[scheme](url, timeout), "CACHE_KEY_PREFIX": KEY_PREFIX}


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


def own_limits(url: str, timeout: float) -> RateLimits:
    """Flask-Limiter's storage (the ``limits`` library) for ``SMS_STORAGE_URL``, without Flask-Limiter's app hooks.

    ``Limiter.init_app`` would add a before- and after-request hook to every route
    and read the app's ``RATELIMIT_*`` settings, which belong to the app's own
    limiter (its default limits would then be enforced twice).
    """
    from limits.storage import storage_from_string

    options: dict[str, Any] = {}
    if not url.startswith(MEMORY_STORAGE):
        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    return RateLimits(storage_from_string(url, **options))


def adopt_limiter(app: Flask, limiter: Any) -> RateLimits:
    """Count in an app's own Flask-Limiter's storage, initialising it for the app if needed."""
    if getattr(limiter, "_storage", None) is None:
        limiter.init_app(app)
    return RateLimits(limiter.storage, enabled=lambda: bool(limiter.enabled))


def storage_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the storage cannot be reached" for the installed backends."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError, OSError]
    try:
        from limits.errors import StorageError

        errors.append(StorageError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from redis.exceptions import RedisError

        errors.append(RedisError)
    except ImportError:
        pass
    return tuple(errors)


def warn_if_per_process(app: Flask, url: str, own_cache: bool) -> None:
    if own_cache and url.startswith(MEMORY_STORAGE) and not (app.debug or app.testing):
        logger.warning(
            "SMS_STORAGE_URL is memory://: each worker process keeps its own codes and limits, "
            "so limits multiply with the number of workers. Use redis:// in production."
        )
