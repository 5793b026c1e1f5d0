"""One module per vendor, all with the same shape (see :mod:`.base`), and the registry of vendors.

Provider modules import their SDK only when a client is built, so
``import flask_sms`` works with no vendor SDK installed.

A vendor is found by name in three places, in this order: the built-in
:data:`REGISTRY`, classes registered in code with :func:`register_provider`,
and the ``flask_sms.providers`` entry-point group of installed packages (read
once, on first use). An entry of ``SMS_PROVIDERS`` is a name or
``"name:label"``, a second account of that vendor (see :func:`split_entry`).
"""

from __future__ import annotations

import importlib
import inspect
import re
import threading
from typing import Any

from ..errors import ProviderError
from ..options import REQUIRED, UNSET, Option
from ..phones import e164, national_or_international_00
from .base import AnyProvider, Provider
from .payload import Payload, Reply, Template, templates
from .replies import load_json, short, transport_error

#: built-in provider name -> "module:Class"; the order here is only for documentation
REGISTRY: dict[str, str] = {
    "aliyun": "flask_sms.providers.aliyun:AliyunProvider",
    "tencent": "flask_sms.providers.tencent:TencentProvider",
    "ronglian": "flask_sms.providers.ronglian:RonglianProvider",
    "ihuyi": "flask_sms.providers.ihuyi:IhuyiProvider",
    "huawei": "flask_sms.providers.huawei:HuaweiProvider",
    "volcengine": "flask_sms.providers.volcengine:VolcengineProvider",
    "baidu": "flask_sms.providers.baidu:BaiduProvider",
    "qiniu": "flask_sms.providers.qiniu:QiniuProvider",
    "yunpian": "flask_sms.providers.yunpian:YunpianProvider",
    "netease": "flask_sms.providers.netease:NeteaseProvider",
    "console": "flask_sms.providers.console:ConsoleProvider",
}

#: the entry-point group third-party packages register providers under
ENTRY_POINT_GROUP = "flask_sms.providers"

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_LABEL = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")

_lock = threading.Lock()
_registered: dict[str, type[AnyProvider]] = {}  # register_provider()
_entry_points: dict[str, Any] | None = None  # name -> importlib.metadata.EntryPoint, read on first use
_loaded: dict[str, type[AnyProvider]] = {}  # entry points already imported


class ProviderLoadError(LookupError):
    """A provider name that is unknown, or whose entry point cannot be imported or is not a provider."""


def _check_class(name: str, cls: Any) -> type[AnyProvider]:
    """A usable provider class for ``name``, or ``TypeError`` saying why not."""
    if not (inspect.isclass(cls) and issubclass(cls, Provider)):
        raise TypeError(f"provider {name!r} must be a subclass of flask_sms.providers.Provider (got {cls!r})")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise TypeError(f"provider {name!r} ({cls.__qualname__}) does not implement {missing}")
    own = vars(cls).get("name")  # a subclass of a built-in inherits its name: that one is replaced
    if own is not None and own != name:
        raise TypeError(f"provider class {cls.__qualname__} says name = {own!r} but is registered as {name!r}")
    if not isinstance(cls.max_per_request, int) or cls.max_per_request < 1:
        raise TypeError(f"provider {name!r}: max_per_request must be a positive integer")
    if own is None:
        cls.name = name
    return cls


def register_provider(name: str, cls: type[AnyProvider]) -> None:
    """Make ``cls`` available as ``name`` in ``SMS_PROVIDERS`` (call it before ``init_app``).

    ``name`` is lower-case letters, digits and ``_``; a built-in name cannot be
    taken. Registering a name again replaces the class (and shadows an entry
    point of that name: code wins over installed packages).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"provider name {name!r} must be lower-case letters, digits and '_', starting with a letter")
    if name in REGISTRY:
        raise ValueError(f"provider name {name!r} is built in; choose another name")
    checked = _check_class(name, cls)
    with _lock:
        _registered[name] = checked


def _discovered() -> dict[str, Any]:
    """The installed ``flask_sms.providers`` entry points by name, read once (nothing is imported yet)."""
    global _entry_points
    with _lock:
        if _entry_points is None:
            from importlib.metadata import entry_points

            found: dict[str, Any] = {}
            for entry in entry_points(group=ENTRY_POINT_GROUP):
                found.setdefault(entry.name, entry)  # the first on sys.path wins, as for imports
            _entry_points = found
        return _entry_points


def forget_entry_points() -> None:
    """Read the entry points again on next use (after installing a package at run time; tests)."""
    global _entry_points
    with _lock:
        _entry_points = None
        _loaded.clear()


def provider_names() -> tuple[str, ...]:
    """Every provider name that can go in ``SMS_PROVIDERS``: built-in, registered, installed."""
    names = dict.fromkeys(REGISTRY)
    names.update(dict.fromkeys(_registered))
    names.update(dict.fromkeys(_discovered()))
    return tuple(names)


def split_entry(entry: str) -> tuple[str, str | None]:
    """``"aliyun:backup"`` -> ``("aliyun", "backup")``; ``"aliyun"`` -> ``("aliyun", None)``."""
    vendor, sep, label = entry.partition(":")
    return vendor, (label if sep else None)


def entry_problem(entry: str) -> str | None:
    """Why an ``SMS_PROVIDERS`` entry is unusable, or ``None``."""
    vendor, label = split_entry(entry)
    if vendor not in provider_names():
        return f"unknown provider {vendor!r}"
    if label is not None and not _LABEL.fullmatch(label):
        return f"account label in {entry!r} that is not lower-case letters, digits and '_'"
    return None


def provider_class(entry: str) -> type[AnyProvider]:
    """The class for a provider name (or ``"name:label"``); raises :class:`ProviderLoadError`."""
    name, _ = split_entry(entry)
    if name in REGISTRY:
        module_name, class_name = REGISTRY[name].split(":")
        cls: type[AnyProvider] = getattr(importlib.import_module(module_name), class_name)
        return cls
    if name in _registered:
        return _registered[name]
    if name in _loaded:
        return _loaded[name]
    entry_point = _discovered().get(name)
    if entry_point is None:
        raise ProviderLoadError(f"unknown provider {name!r}")
    if not _NAME.fullmatch(name):
        raise ProviderLoadError(
            f"provider {name!r} (entry point {entry_point.value!r}) has a name that is not lower-case letters, "
            "digits and '_'"
        )
    try:
        loaded = _check_class(name, entry_point.load())
    except Exception as exc:  # noqa: BLE001 -- a broken third-party package is a config problem, not a crash
        raise ProviderLoadError(
            f"provider {name!r} (entry point {entry_point.value!r}) could not be loaded: {type(exc).__name__}: {exc}"
        ) from None
    with _lock:
        _loaded[name] = loaded
    return loaded


#: what a provider module needs, importable from here (docs: "Adding a vendor")
__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "REQUIRED",
    "UNSET",
    "AnyProvider",
    "Option",
    "Payload",
    "Provider",
    "ProviderError",
    "ProviderLoadError",
    "Reply",
    "Template",
    "e164",
    "entry_problem",
    "load_json",
    "national_or_international_00",
    "provider_class",
    "provider_names",
    "register_provider",
    "short",
    "split_entry",
    "templates",
    "transport_error",
]
