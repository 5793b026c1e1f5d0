"""Keep credentials out of logs and error messages.

Vendor SDKs log URLs, headers and server replies (Aliyun echoes the string it
signed, which holds the AccessKeyId). Every credential the extension is
configured with is registered here, and a logging filter on the SDK loggers
rewrites any record that contains one.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register(*values: object) -> None:
    """Remember credential values (and their URL-encoded forms) to mask."""
    global _secrets
    found = set()
    for value in values:
        text = str(value or "")
        if len(text) >= _MIN_LENGTH:
            found.update({text, quote(text, safe=""), quote(quote(text, safe=""), safe="")})
    with _lock:
        _secrets = _secrets | found


def register_url_password(url: str) -> None:
    password = urlsplit(url).password
    if password:
        register(password, unquote(password))


def redact(text: str) -> str:
    """Return ``text`` with every registered credential replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def url_without_password(url: str) -> str:
    """``redis://:secret@host/0`` -> ``redis://:***@host/0``, for logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message so no registered credential survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a broken format string is the SDK's bug, not ours to raise
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = redact(exc_text)
        return True


_filter = RedactingFilter()


def guard_loggers(*names: str) -> None:
    """Attach the redacting filter to these loggers (idempotent).

    Handlers that an SDK attached to its own logger see the filtered record,
    because logger filters run before any handler.
    """
    for name in names:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
