"""Logging filters for the access logs of the servers in front of the app.

Vendors push delivery reports to a URL that carries ``SMS_RECEIPT_TOKEN``, in its query
(``/sms_receipts/aliyun?token=...``) or as a path segment
(``/sms_receipts/aliyun/<token>``). flask_sms masks it in its own log lines and in
werkzeug's access log, but a server's access log (gunicorn's ``--access-logfile``, a
proxy's) writes the URL as it came. :class:`AccessLogFilter` masks it there, without
knowing the token: it is the part of a ``/sms_receipts/`` URL that holds one. Add it
to the access logger (docs: "Delivery receipts", "The token in logs")::

    # gunicorn.conf.py
    import logging
    from flask_sms.masking import AccessLogFilter

    def on_starting(server):
        logging.getLogger("gunicorn.access").addFilter(AccessLogFilter())
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["MASK", "AccessLogFilter", "mask_receipt_tokens"]

MASK = "***"

#: a receipt URL's query ``token=`` value (also percent-encoded, ``token%3D``), up to the next separator
_QUERY_TOKEN = re.compile(r"(/sms_receipts/[^\s\"'?#]*\?(?:[^\s\"'#]*?&)?token(?:=|%3[dD]))[^&\s\"'#]+")
#: the segment after ``/sms_receipts/<provider>/``
_PATH_TOKEN = re.compile(r"(/sms_receipts/[^/\s\"'?#]+/)[^/\s\"'?#]+")
#: a bare query string (gunicorn's ``%(q)s`` atom) of a receipt request
_BARE_TOKEN = re.compile(r"(^|&)(token=)[^&\s\"'#]+")


def mask_receipt_tokens(text: str) -> str:
    """``text`` with the token of every receipt URL in it replaced by ``***``."""
    if "/sms_receipts/" not in text:
        return text
    return _PATH_TOKEN.sub(rf"\1{MASK}", _QUERY_TOKEN.sub(rf"\1{MASK}", text))


class AccessLogFilter(logging.Filter):
    """Masks the receipt token in access-log records: gunicorn's (whose arguments are a dict of
    "atoms": the request line, the path, the query string, headers), werkzeug's and any other
    stdlib logger's. ``tokens`` given are masked wherever they appear, too."""

    def __init__(self, name: str = "", *, tokens: tuple[str, ...] = ()) -> None:
        super().__init__(name)
        self.tokens = tuple(token for token in tokens if token)

    def _clean(self, text: str) -> str:
        for token in self.tokens:
            text = text.replace(token, MASK)
        return mask_receipt_tokens(text)

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if isinstance(args, dict):  # gunicorn: the format names atoms; mask each, keep the format
            receipt = any(isinstance(value, str) and "/sms_receipts/" in value for value in args.values())
            record.args = {key: self._atom(value, receipt) for key, value in args.items()}
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 -- a broken format string is the caller's bug, not ours to raise
            return True
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

    def _atom(self, value: Any, receipt: bool) -> Any:
        """One gunicorn atom; in a receipt request's record the bare query string (``%(q)s``) too."""
        if not isinstance(value, str):
            return value
        value = self._clean(value)
        return _BARE_TOKEN.sub(rf"\1\2{MASK}", value) if receipt and "token=" in value else value
