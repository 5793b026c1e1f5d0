"""Turn ``SMS_STORAGE_URL`` into a Flask-Caching cache, rate-limit counters and a Redis client for the scripts.

One URL configures all three, so codes and limits always live in the same place:

* the Flask-Caching backend (Flask-Caching's own ``RedisCache``, ``RedisSentinelCache`` or
  ``RedisClusterCache``; flask_sms's :class:`~flask_sms.memory.MemoryCache` for ``memory://``);
* Flask-Limiter's engine, the ``limits`` library's storage, for the IP, app-wide and verify limits;
* on Redis, a redis-py client of flask_sms's own (:func:`redis_client`, redis-py's ``from_url``,
  ``Sentinel`` and ``RedisCluster``) that runs the atomic steps as Lua scripts.

An app's own ``cache=`` and ``limiter=`` are used through their public APIs only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from flask import Flask

from . import _redact
from .errors import ConfigError
from .ratelimits import RateLimits

logger = logging.getLogger("flask_sms")

KEY_PREFIX = "flask_sms:"


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
    # flask_sms's own backend: it never evicts security state to make room (see flask_sms.memory)
    return {"CACHE_TYPE": "flask_sms.memory.MemoryCache"}


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


#: Flask-Caching's own defaults for the keys it reads, so an app's ``CACHE_*`` values never reach our cache
_CACHE_DEFAULTS: dict[str, Any] = {
    "CACHE_DEFAULT_TIMEOUT": 300,
    "CACHE_IGNORE_ERRORS": False,
    "CACHE_THRESHOLD": 500,
    "CACHE_MEMCACHED_SERVERS": None,
    "CACHE_DIR": None,
    "CACHE_OPTIONS": None,
    "CACHE_ARGS": [],
    "CACHE_NO_NULL_WARNING": False,
    "CACHE_SOURCE_CHECK": False,
    "CACHE_ENABLE_SIGNALS": False,
    "CACHE_SERIALIZER": None,
    "CACHE_REDIS_HOST": "localhost",
    "CACHE_REDIS_PORT": 6379,
    "CACHE_REDIS_PASSWORD": None,
    "CACHE_REDIS_DB": 0,
}


def isolated_cache_config(app: Flask, url: str, timeout: float, clock: Callable[[], float]) -> dict[str, Any]:
    """Our cache's whole config: every ``CACHE_*`` key of the app replaced.

    Flask-Caching starts from a copy of ``app.config``, so an app's
    ``CACHE_REDIS_DB = 3`` or ``CACHE_DEFAULT_TIMEOUT`` would otherwise reach the
    code store built from ``SMS_STORAGE_URL``. ``memory://`` expires keys on ``clock``
    (the flow's), Redis on its own.
    """
    config: dict[str, Any] = {key: None for key in app.config if key.startswith("CACHE_")}
    for key in ("CACHE_FILE_HASH_METHOD", "CACHE_HASH_METHOD"):
        config.pop(key, None)  # Flask-Caching's own default (a hash function) applies
    config.update(_CACHE_DEFAULTS)
    own = cache_config(url, timeout)
    if own["CACHE_TYPE"] == "RedisCache":
        path = urlsplit(url).path.strip("/")
        own["CACHE_REDIS_DB"] = int(path) if path.isdigit() else 0  # the URL's database, or 0 as limits uses
    if url.startswith(MEMORY_STORAGE):
        own["CACHE_OPTIONS"] = {"clock": clock}
    config.update(own)
    return config


def make_cache(app: Flask, url: str, timeout: float, clock: Callable[[], float]) -> Any:
    from flask_caching import Cache

    # with_jinja2_ext=False: the app's ``{% cache %}`` template tag keeps using the app's own cache
    cache = Cache(with_jinja2_ext=False)
    cache.init_app(app, config=isolated_cache_config(app, url, timeout, clock))
    return cache


def adopt_cache(app: Flask, cache: Any) -> Any:
    """Use an app's own Flask-Caching object, initialising it for the app if needed."""
    from cachelib import NullCache
    from flask_caching.backends import NullCache as FlaskCachingNullCache

    if cache not in app.extensions.get("cache", {}):
        cache.init_app(app)
    backend = app.extensions["cache"][cache]
    if isinstance(backend, (NullCache, FlaskCachingNullCache)):
        raise ConfigError(["the cache passed to SmsExtension is a NullCache: codes would never be stored"])
    return cache


def is_redis_cache(backend: Any) -> bool:
    """Whether a Flask-Caching backend keeps its keys in Redis (any of cachelib's Redis caches)."""
    try:
        from cachelib.redis import RedisCache
    except ImportError:  # pragma: no cover - cachelib ships with Flask-Caching
        return False
    return isinstance(backend, RedisCache)


def cache_key_prefix(backend: Any) -> str:
    """The key prefix of a cachelib backend (a string, or Flask-Caching's callable), for the scripts' keys."""
    prefix = getattr(backend, "key_prefix", "") or ""
    return str(prefix() if callable(prefix) else prefix)


def cache_redis_url(app: Flask, cache: Any) -> str | None:
    """The ``SMS_STORAGE_URL`` naming the Redis a Flask-Caching ``cache=`` keeps its keys in, read from its public
    config (the ``Cache(config=...)`` it was made with over the app's ``CACHE_*`` keys), or ``None``."""
    config = {**app.config, **(cache.config or {})}
    kind = str(config.get("CACHE_TYPE", "")).rsplit(".", 1)[-1].lower()
    password = config.get("CACHE_REDIS_PASSWORD")
    auth = f":{quote(str(password), safe='')}@" if password else ""
    if kind in ("rediscache", "redis"):
        if config.get("CACHE_REDIS_URL"):
            return str(config["CACHE_REDIS_URL"])
        host, port, db = (
            config.get("CACHE_REDIS_HOST", "localhost"),
            config.get("CACHE_REDIS_PORT", 6379),
            config.get("CACHE_REDIS_DB", 0),
        )
        return f"redis://{auth}{host}:{port}/{db or 0}"
    if kind in ("redisclustercache", "rediscluster"):
        return f"redis+cluster://{auth}{config.get('CACHE_REDIS_CLUSTER', '')}"
    if kind in ("redissentinelcache", "redissentinel"):
        hosts = ",".join(f"{host}:{port}" for host, port in config.get("CACHE_REDIS_SENTINELS") or ())
        return f"redis+sentinel://{auth}{hosts}/{config.get('CACHE_REDIS_SENTINEL_MASTER', 'mymaster')}"
    return None


def is_redis_url(url: str) -> bool:
    return not url.startswith(MEMORY_STORAGE)


def redis_client(url: str, timeout: float) -> Any:
    """A redis-py client for a Redis ``SMS_STORAGE_URL``, built with redis-py's own constructors: ``from_url``
    (``redis://``, ``rediss://``), ``RedisCluster`` (``redis+cluster://h1:p1,h2:p2``) and ``Sentinel``
    (``redis+sentinel://h1:p1,h2:p2/service``: the service's master). The atomic steps run on it."""
    import redis

    options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if url.startswith(("redis://", "rediss://")):
        return redis.Redis.from_url(url, **options)
    hosts, password = _hosts(url)
    if url.startswith("redis+cluster://"):
        from redis.cluster import ClusterNode, RedisCluster

        nodes = [ClusterNode(host, int(port)) for host, port in hosts]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes, password=password, **options)
    from redis.sentinel import Sentinel

    auth: dict[str, Any] = {"password": password} if password else {}
    sentinel = Sentinel([(host, int(port)) for host, port in hosts], sentinel_kwargs=auth, **{**auth, **options})
    return sentinel.master_for(urlsplit(url).path.strip("/") or "mymaster")


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


def adopt_limiter(app: Flask, limiter: Any, url: str, timeout: float) -> RateLimits:
    """Count in an app's own Flask-Limiter's storage (``Limiter.storage``), initialising it for the app if needed.

    Only the storage is borrowed: our limits stay on whatever the app sets for its
    own (``RATELIMIT_ENABLED = False`` turns off the app's limits, not
    ``SMS_IP_LIMITS``). A limiter turned off has no storage; then ``SMS_STORAGE_URL`` is used.
    """
    if not limiter.initialized:
        limiter.init_app(app)
    if not (limiter.enabled and limiter.initialized):
        logger.warning(
            "the limiter passed to SmsExtension is turned off (RATELIMIT_ENABLED is false) and has no storage: "
            "flask_sms counts its own limits in SMS_STORAGE_URL (%s) instead",
            url.split("://", 1)[0] + "://",
        )
        return own_limits(url, timeout)
    return RateLimits(limiter.storage)


def exempt_from_app_limiters(app: Flask, blueprint: Any) -> None:
    """Keep an app's own Flask-Limiter (its ``RATELIMIT_DEFAULT`` and application limits) off our routes.

    Our routes have limits of their own. Limiters set up before us are told now. One
    set up after us is told on the first request, by a hook that runs before the
    limiter's own (hooks run in the order they were added) and does nothing after.
    """
    told: set[int] = set()

    def exempt() -> None:
        limiters = app.extensions.get("limiter", ())
        if len(told) == len(limiters):
            return
        from flask_limiter import ExemptionScope

        # its default and application-wide limits only: a limit the app puts on our blueprint itself still applies
        scope = ExemptionScope.DEFAULT | ExemptionScope.APPLICATION
        for limiter in limiters:
            if id(limiter) not in told:
                limiter.exempt(blueprint, flags=scope)
                told.add(id(limiter))

    exempt()
    app.before_request(exempt)


def _is_cluster(client: Any) -> bool:
    try:
        from redis.cluster import RedisCluster
    except ImportError:  # pragma: no cover - a client exists only where redis-py is installed
        return False
    return isinstance(client, RedisCluster)


def _describe_redis(client: Any) -> str | None:
    """``redis://host:port/db`` for a redis-py client (never its password); ``None`` if it is not one."""
    if client is None:
        return None
    if _is_cluster(client):
        return "redis+cluster://" + ",".join(f"{node.host}:{node.port}" for node in client.get_nodes())
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):
        return None
    service = getattr(pool, "service_name", None)
    if service:
        return f"redis+sentinel://{service}/{kwargs.get('db', 0)}"
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    from redis.connection import SSLConnection

    connection = getattr(pool, "connection_class", None)
    tls = isinstance(connection, type) and issubclass(connection, SSLConnection)
    return f"{'rediss' if tls else 'redis'}://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


#: the ``maxmemory-policy`` under which a full Redis refuses writes (flask_sms answers 503) instead of evicting
SAFE_POLICY = "noeviction"


def _policies(client: Any) -> list[str]:
    """``maxmemory-policy`` of a redis-py client's server (of each primary, on a cluster): one CONFIG GET each."""
    if _is_cluster(client):
        answers = [client.config_get("maxmemory-policy", target_nodes=node) for node in client.get_primaries()]
    else:
        answers = [client.config_get("maxmemory-policy")]
    policies = []
    for answer in answers:
        found = {_text(key): _text(value) for key, value in answer.items()}
        policies.append(found.get("maxmemory-policy", ""))
    return policies


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def eviction_warnings(clients: Sequence[Any]) -> list[str]:
    """What ``flask sms check`` warns about each Redis flask_sms keeps state in: a ``maxmemory-policy``
    that evicts keys when Redis is full (every flask_sms key has a TTL, so ``volatile-*`` can evict them
    as well as ``allkeys-*``), or a server that will not say (a managed Redis may refuse CONFIG)."""
    warnings: list[str] = []
    for client in clients:
        where = _describe_redis(client) or type(client).__name__
        try:
            policies = _policies(client)
        except storage_errors() as exc:
            warnings.append(
                f"could not read maxmemory-policy of {where} (CONFIG GET refused: {_redact.redact(str(exc))}); "
                f"a managed Redis may not allow CONFIG: check in its console that it is {SAFE_POLICY!r}, or a full "
                "Redis may evict live codes and cool-downs (docs: The verification flow, Storage)"
            )
            continue
        for policy in dict.fromkeys(policies):
            if policy and policy != SAFE_POLICY:
                warnings.append(
                    f"{where} has maxmemory-policy {policy!r}: when Redis reaches maxmemory it evicts keys, and "
                    f"every flask_sms key (cool-downs, live codes, attempt and quota counters, redeemed tokens) has a "
                    f"TTL, so it can evict those: set maxmemory-policy {SAFE_POLICY!r}, and a full Redis refuses "
                    "(flask_sms answers 503) instead of forgetting (docs: The verification flow, Storage)"
                )
    return list(dict.fromkeys(warnings))


def evicting_cache_warnings(backend: Any) -> list[str]:
    """A ``cache=`` that forgets security state to make room: cachelib's ``SimpleCache`` (and Flask-Caching's)."""
    from cachelib import SimpleCache

    if not isinstance(backend, SimpleCache):
        return []
    warning = (
        "the cache passed as cache= is a SimpleCache: past its CACHE_THRESHOLD it evicts the soonest-expiring "
        "keys, cool-downs and live codes first; use CACHE_TYPE 'flask_sms.memory.MemoryCache', which refuses "
        "(503) instead of forgetting, or Redis (docs: The verification flow, Storage)"
    )
    return [warning]


def describe_cache(backend: Any) -> str:
    """What kind of store an app's ``cache=`` is, for the startup log (its keys' place, when it says it)."""
    from .memory import MemoryCache

    if isinstance(backend, MemoryCache):
        return MEMORY_STORAGE
    return type(backend).__name__


def describe_limits(storage: Any) -> str:
    """Where a ``limits`` storage keeps the counters, as a URL without password (for the startup log)."""
    from limits.storage import MemoryStorage

    if isinstance(storage, MemoryStorage):
        return MEMORY_STORAGE
    return _describe_redis(getattr(storage, "storage", None)) or type(storage).__name__


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


def per_process_warnings(app: Flask, url: str, own_cache: bool, own_limits: bool) -> tuple[str, ...]:
    """What to warn about storage kept per process (codes or limits), outside debug/testing.

    Passing only ``cache=`` (or only ``limiter=``) leaves the other half on
    ``SMS_STORAGE_URL``; when that is ``memory://``, that half is per process.
    """
    if app.debug or app.testing or not url.startswith(MEMORY_STORAGE):
        return ()
    if own_cache and own_limits:
        return (
            (
                "SMS_STORAGE_URL is memory://: each worker process keeps its own codes and limits, "
                "so limits multiply with the number of workers. Use redis:// in production."
            ),
        )
    if own_cache or own_limits:
        passed, kept = ("limiter=", "codes") if own_cache else ("cache=", "limits")
        return (
            (
                f"SmsExtension got {passed} but not {'cache=' if own_cache else 'limiter='}: its {kept} are kept in "
                f"SMS_STORAGE_URL, which is memory:// (per worker process). Set SMS_STORAGE_URL to your Redis, "
                f"or pass both cache= and limiter=."
            ),
        )
    return ()


def warn_once(message: str, app: Flask | None = None) -> None:
    """Log ``message`` as a warning once per process (not once per app, request or CLI command), where the
    app sees it (see :mod:`.reporting`)."""
    from . import reporting

    reporting.once(message, logging.WARNING, message, app=app)
