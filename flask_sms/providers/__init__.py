"""One module per vendor, all with the same shape (see :mod:`.base`).

Provider modules import their SDK only when a client is built, so
``import flask_sms`` works with no vendor SDK installed.
"""

from __future__ import annotations

import importlib

from .base import AnyProvider, Provider
from .payload import Payload, Reply, Template

#: provider name -> "module:Class"; the order here is only for documentation
REGISTRY: dict[str, str] = {
    "aliyun": "flask_sms.providers.aliyun:AliyunProvider",
    "tencent": "flask_sms.providers.tencent:TencentProvider",
    "ronglian": "flask_sms.providers.ronglian:RonglianProvider",
    "ihuyi": "flask_sms.providers.ihuyi:IhuyiProvider",
    "console": "flask_sms.providers.console:ConsoleProvider",
}


def provider_class(name: str) -> type[AnyProvider]:
    module_name, class_name = REGISTRY[name].split(":")
    cls: type[AnyProvider] = getattr(importlib.import_module(module_name), class_name)
    return cls


__all__ = ["REGISTRY", "AnyProvider", "Payload", "Provider", "Reply", "Template", "provider_class"]
