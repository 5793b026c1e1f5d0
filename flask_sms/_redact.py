"""Keep credentials, verification codes and template values out of logs and error messages.

Vendor SDKs log URLs, headers, request bodies and server replies (Aliyun echoes
the string it signed, which holds the AccessKeyId; its transport errors carry the
signed URL, whose query holds TemplateParam, so the code; Tencent's DEBUG log
dumps the JSON body, TemplateParamSet included). Four things are masked in every
record of a guarded logger and in every vendor text we keep:

* every credential the extension is configured with (registered once);
* the template values of the send in progress, in every encoding an SDK writes
  them (raw, JSON-escaped as ``json.dumps`` does by default, percent-encoded
  either way, twice): a provider call runs inside :func:`sending`, which puts
  them in a context variable for that call. A context variable rather than a
  global list, because values are per send and sends run side by side: each
  chunk's worker thread runs ``Provider.send`` and so sets its own;
* the value of each vendor's template-parameter field (``TemplateParam``,
  ``TemplateParamSet``, ``datas``, ``content``, ``templateParas``,
  ``contentVar``, ``parameters``, ``params``, ``text``: the wire names of the
  ten vendors) wherever an SDK line or a vendor text writes one, whatever it
  holds. This also covers values too short to mask by themselves (``"5"``
  minutes) and any encoding the list above misses;
* every URL query string, which is where signed URLs carry all of the above.

The two value rules back each other up: the context variable finds a code
anywhere (a reply that echoes it, an exception text), the field rule finds
whatever sits in a parameter field. Masking happens first; only then is a text
shortened, so no part of a secret survives a cut.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit, urlunsplit

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


_in_flight: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("flask_sms_in_flight", default=frozenset())


def _encodings(value: str) -> set[str]:
    """``value`` as SDKs write it: raw, JSON-escaped (``\\u674e``), and each of those percent-encoded (twice)."""
    if value.isascii() and value.isalnum():  # the usual code: every encoding is the value itself
        return {value}
    bases = (value, json.dumps(value)[1:-1])
    forms = set(bases)
    for form in bases:
        once = quote(form, safe="")
        forms.update({once, quote_plus(form), quote(form), quote(once, safe="")})
    return forms


class sending:
    """Mask these template values (and their encoded forms) while a vendor call runs in this context."""

    __slots__ = ("found", "token")

    def __init__(self, values: Iterable[str]) -> None:
        found: set[str] = set()
        for value in values:
            if len(value) >= _MIN_LENGTH:
                found.update(_encodings(value))
        self.found = found
        self.token: contextvars.Token[frozenset[str]] | None = None

    def __enter__(self) -> None:
        if self.found:
            self.token = _in_flight.set(_in_flight.get() | self.found)

    def __exit__(self, *exc: object) -> None:
        if self.token is not None:
            _in_flight.reset(self.token)


#: a URL's query string, up to what ends the URL in a log line or an exception text
_QUERY = re.compile(r"(?<=[^\s?])\?[^\s'\"()<>]+")


def without_queries(text: str) -> str:
    """Drop every URL query string: a signed URL carries the numbers, the template values and the signature."""
    return _QUERY.sub("?…", text)


#: a vendor's template-parameter field: quoted (JSON, a Python repr) before ``:`` or ``=``, bare before ``=`` (a form)
_PARAMETER_FIELD = re.compile(
    r"""(?:(?P<quote>["'])(?:TemplateParamSet|TemplateParam|templateParas|template_paras|datas|contentVar|content"""
    r"""|parameters|params|text)(?P=quote)\s*[:=]|(?<![\w-])(?:TemplateParamSet|TemplateParam|templateParas"""
    r"""|template_paras|datas|contentVar|content|parameters|params|text)=)\s*""",
    re.IGNORECASE,
)
_BARE_VALUE = re.compile(r"[^&\s,;)}\]]*")


def _value_end(text: str, start: int) -> int:
    """Where the value starting at ``start`` ends: a quoted string, a bracketed JSON/repr value or a bare word."""
    if start >= len(text):
        return start
    first = text[start]
    if first in "\"'":
        return _quoted_end(text, start)
    if first in "[{":
        return _bracketed_end(text, start)
    match = _BARE_VALUE.match(text, start)
    return match.end() if match else start


def _quoted_end(text: str, start: int) -> int:
    """Just past the string whose quote is at ``start`` (escapes skipped); the text's end when it is cut short."""
    quote_char, index = text[start], start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == quote_char:
            return index + 1
        index += 1
    return len(text)  # cut short: mask to the end


def _bracketed_end(text: str, start: int) -> int:
    """Just past the bracket that closes the one at ``start``; brackets inside strings do not count."""
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char in "\"'":
            index = _quoted_end(text, index)
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)  # cut short: mask to the end


def without_parameters(text: str) -> str:
    """Mask the value of every template-parameter field, whatever it holds."""
    position, parts = 0, []
    while True:
        match = _PARAMETER_FIELD.search(text, position)
        if match is None:
            break
        end = _value_end(text, match.end())
        if end > match.end():
            parts += [text[position : match.end()], MASK]
        else:
            parts.append(text[position : match.end()])
        position = end
    if not parts:
        return text
    return "".join(parts) + text[position:]


def redact(text: str) -> str:
    """Return ``text`` with every registered credential and the values being sent masked."""
    for secret in sorted(_secrets | _in_flight.get(), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_vendor_text(text: str) -> str:
    """What an SDK or a vendor wrote: :func:`redact`, no template-parameter values and no URL query strings."""
    return without_queries(without_parameters(redact(text)))


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
    """Rewrites a record's message so no registered credential (or value being sent) survives."""

    def __init__(self, clean: Callable[[str], str] = redact) -> None:
        super().__init__()
        self.clean = clean

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a broken format string is the SDK's bug, not ours to raise
            message = str(record.msg)
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = self.clean(exc_text)
        return True


_filter = RedactingFilter()
_sdk_filter = RedactingFilter(redact_vendor_text)


def guard_loggers(*names: str, sdk: bool = False) -> None:
    """Attach the redacting filter to these loggers (idempotent).

    Handlers that an SDK attached to its own logger see the filtered record,
    because logger filters run before any handler. ``sdk``: a vendor SDK's (or its
    HTTP stack's) logger, whose URL query strings are dropped too.
    """
    chosen = _sdk_filter if sdk else _filter
    for name in names:
        logger = logging.getLogger(name)
        if chosen not in logger.filters:
            logger.addFilter(chosen)
