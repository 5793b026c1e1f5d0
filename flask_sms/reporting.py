"""Problems that break a route, said once per process, where the app's operator sees them.

One record per problem, on exactly one logger, so no configuration prints it twice:

* the ``flask_sms`` logger, when the app's logging config has a handler that shows
  it (``logging.basicConfig``, ``dictConfig``, a handler on ``flask_sms``, pytest's
  ``caplog``), or when the app turned that level off for ``flask_sms`` on purpose;
* otherwise ``app.logger``, which Flask gives a stderr handler when nothing else
  handles it: an app with no logging config still sees the problem.

Going through ``app.logger`` loses the ``flask_sms`` logger's masking filter, so the
text is masked here first, whichever logger says it.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app, has_app_context
from flask.logging import has_level_handler

from . import _redact

logger = logging.getLogger("flask_sms")

_said: set[str] = set()
_lock = threading.Lock()


def destination(level: int, app: Flask | None = None) -> logging.Logger:
    """Where a record of ``level`` goes: ``flask_sms`` when logging is set up to show it (or to hide it), else the
    app's logger."""
    if app is None and has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app is None or not logger.isEnabledFor(level) or has_level_handler(logger):
        return logger
    return app.logger


def say(level: int, message: str, *args: object, app: Flask | None = None) -> None:
    """Log ``message % args``, masked, on :func:`destination`; the record's module reads ``flask_sms``
    (Flask's default format: ``ERROR in flask_sms: ...``)."""
    target = destination(level, app)
    if target.isEnabledFor(level):
        text = _redact.redact(message % args if args else message)
        target.handle(target.makeRecord(target.name, level, "flask_sms", 0, "%s", (text,), None))


def once(key: str, level: int, message: str, *args: object, app: Flask | None = None) -> bool:
    """:func:`say` the first time ``key`` comes up in this process (until :func:`forget`); whether it was said."""
    with _lock:
        if key in _said:
            return False
        _said.add(key)
    say(level, message, *args, app=app)
    return True


def forget(key: str) -> bool:
    """The problem ``key`` is over: say it again when it comes back. Whether it had been said."""
    if key not in _said:  # the common case, without the lock
        return False
    with _lock:
        if key not in _said:
            return False
        _said.discard(key)
    return True
