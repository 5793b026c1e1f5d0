"""Helpers for reading vendor replies and faults, shared by every provider module."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._redact import redact_vendor_text
from ..errors import ProviderError
from .payload import Reply

_MAX_MESSAGE = 300


def short(text: object, limit: int = _MAX_MESSAGE) -> str:
    """Vendor text made safe to show: credentials, values and query strings masked first, then cut to ``limit``."""
    value = redact_vendor_text(str(text))
    return value if len(value) <= limit else value[: limit - 1] + "…"


# Class names (anywhere in the cause chain) and texts that mean the connection was never made,
# so the request was never written: urllib3 wraps every connect-phase fault in MaxRetryError
# (requests' default of no retries), read-phase faults never.
_NOT_CONNECTED_CLASSES = frozenset(
    {
        "ConnectTimeout",
        "ConnectTimeoutError",
        "MaxRetryError",
        "NewConnectionError",
        "NameResolutionError",
        "ConnectionRefusedError",
        "gaierror",
    }
)
_TIMEOUT_CLASSES = frozenset(
    {"timeout", "TimeoutError", "Timeout", "ConnectTimeout", "ReadTimeout", "ConnectTimeoutError", "ReadTimeoutError"}
)
_NOT_CONNECTED_TEXTS = ("Max retries exceeded", "Failed to establish a new connection", "Connection refused")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and exceptions held in its args (requests keeps urllib3's there)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 16:
        item = todo.pop()
        if any(item is known for known in seen):
            continue
        seen.append(item)
        todo += [e for e in (item.__cause__, item.__context__) if e is not None]
        todo += [arg for arg in getattr(item, "args", ()) if isinstance(arg, BaseException)]
        reason = getattr(item, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return seen


def transport_error(exc: BaseException) -> ProviderError:
    """Classify a failure that happened before the vendor's answer could be read.

    ``failed`` when the connection was never made (refused, DNS, connect timeout, a
    proxy or TLS handshake that failed): nothing reached the vendor. ``unknown`` for
    everything else (a read timeout, a connection dropped after the request was
    written, a reply cut short): the vendor may have taken the request and sent the text.
    """
    text = str(exc)
    chain = _chain(exc)
    names = {cls.__name__ for item in chain for cls in type(item).__mro__}
    texts = " ".join(str(item) for item in chain)
    not_sent = bool(names & _NOT_CONNECTED_CLASSES) or any(marker in texts for marker in _NOT_CONNECTED_TEXTS)
    # by the classes' own names: urllib3's NewConnectionError inherits from ConnectTimeoutError
    timed_out = "timed out" in texts.lower() or any(type(item).__name__ in _TIMEOUT_CLASSES for item in chain)
    return ProviderError(
        "timeout" if timed_out else "connection_error", short(text), "failed" if not_sent else "unknown"
    )


def load_json(body: bytes | str, provider: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ProviderError("bad_reply", f"{provider} sent a reply that is not JSON: {short(body, 120)!r}") from None


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
        raise ProviderError(f"http_{status}", short(content.decode("utf-8", "replace")))
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
