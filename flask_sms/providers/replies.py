"""Helpers for reading vendor replies and faults, shared by every provider module."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._redact import redact
from ..errors import ProviderError
from .payload import Reply

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


def http_reply(status: int, content: bytes, provider: str, error: Callable[[Any], tuple[str, str] | None]) -> Any:
    """The JSON body of an HTTP reply, or the :class:`ProviderError` it stands for.

    ``error(body)`` names the vendor's error in a parsed body, ``(code, message)``,
    or ``None``; it is asked first, at any status, so a vendor code keeps its own
    code even with HTTP 4xx/5xx. Then any other status is ``http_<status>``, and a
    200 that is not JSON is ``bad_reply``.
    """
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        body = None
    found = error(body) if body is not None else None
    if found is not None:
        raise ProviderError(found[0], short(found[1]))
    if status != 200:
        raise ProviderError(f"http_{status}", short(content[:200].decode("utf-8", "replace")))
    return body if body is not None else load_json(content, provider)  # not JSON: bad_reply


def per_number(
    items: Any, phones: Sequence[str], ok: str, id_key: str, message: Callable[[Mapping[str, Any]], str]
) -> Reply:
    """A reply with one ``{"code", "mobile", <id_key>}`` item per number (Baidu, Yunpian batches).

    An item whose ``mobile`` is written differently from what was sent is
    matched by its position: vendors answer in the order sent.
    """
    if not isinstance(items, list):
        raise ProviderError("bad_reply", f"unexpected reply: {short(items)}")
    reply = Reply()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        phone = str(item.get("mobile") or "")
        if phone not in phones and index < len(phones):
            phone = phones[index]
        if str(item.get("code")) == ok:
            reply.accepted[phone] = str(item.get(id_key) or "")
        else:
            reply.rejected[phone] = (str(item.get("code")), short(message(item)))
    return reply
