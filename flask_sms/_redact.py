"""Keep credentials out of logs and error messages.

Vendor SDKs log URLs, headers and server replies (Aliyun echoes the string it
signed, which holds the AccessKeyId). Every credential the extension is
configured with is registered here, and a logging filter on the SDK loggers
rewrites any record that contains one.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

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


# Query parameters that carry a secret in the storage URLs redis-py and limits accept (``?password=``).
_SECRET_PARAMETER = re.compile(r"pass|secret|token|auth|credential", re.IGNORECASE)


def _url_secrets(url: str) -> list[str]:
    """Every secret a URL carries: the user-info password and the values of secret query parameters."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [
        value for name, value in parse_qsl(parts.query, keep_blank_values=False) if _SECRET_PARAMETER.search(name)
    ]
    return found


def register_url_password(url: str) -> None:
    """Register the URL's passwords (user info and query) for masking in every guarded log."""
    for secret in _url_secrets(url):
        register(secret, unquote(secret))


def redact(text: str) -> str:
    """Return ``text`` with every registered credential replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def url_without_password(url: str) -> str:
    """``redis://:secret@host/0?password=x`` -> ``redis://:***@host/0?password=***``, for logs."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    query = "&".join(
        f"{name}={MASK}" if _SECRET_PARAMETER.search(unquote(name)) and value else item
        for item in parts.query.split("&")
        if item
        for name, _, value in [item.partition("=")]
    )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


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
