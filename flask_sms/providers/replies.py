"""Helpers for reading vendor replies and faults, shared by every provider module."""

from __future__ import annotations

import json
import socket
from typing import Any

from .._redact import redact
from ..errors import ProviderError

_MAX_MESSAGE = 300


def short(text: object) -> str:
    """Vendor text made safe to show: credentials masked first, then the length bounded."""
    value = redact(str(text))
    return value if len(value) <= _MAX_MESSAGE else value[: _MAX_MESSAGE - 1] + "…"


def transport_error(exc: BaseException) -> ProviderError:
    """Classify a failure that happened before the vendor could answer."""
    text = str(exc)
    lowered = text.lower()
    class_names = " ".join(cls.__name__ for cls in type(exc).__mro__).lower()
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timeout" in class_names or "timed out" in lowered:
        return ProviderError("timeout", short(text))
    return ProviderError("connection_error", short(text))


def load_json(body: bytes | str, provider: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ProviderError("bad_reply", f"{provider} sent a reply that is not JSON: {short(body)[:120]!r}") from None
