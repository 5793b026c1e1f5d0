"""The flask_sms demo app: sign in with a code texted to your phone.

Run it with ``flask --app example_app run``. Out of the box it needs no vendor
account: the ``console`` provider writes each text to the terminal and to the
dev inbox on the page. See ``example_app/README.md`` for real vendors.

Config, lowest to highest precedence:

1. ``DEFAULTS`` below;
2. ``FLASK_*`` lines of a ``.env`` file in the current directory;
3. ``FLASK_*`` variables of the real environment (``app.config.from_prefixed_env()``);
4. the ``config`` mapping passed to :func:`create_app` (tests, embedding).

So the real environment wins over ``.env``, as with python-dotenv (which
``flask run`` also uses to load ``.env`` when it is installed).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config, Flask

from flask_sms import ConfigError, SmsExtension

from . import human_check, views

DEFAULTS: dict[str, Any] = {
    # Generated per process when nothing sets it: fine for a demo, never for production.
    "SECRET_KEY": None,
    # Explicit, because ``flask run`` without ``--debug`` is not debug mode and
    # flask_sms only defaults to the console provider in debug or testing.
    "SMS_PROVIDERS": ["console"],
    "SMS_STORAGE_URL": "memory://",
    "SESSION_COOKIE_SAMESITE": "Lax",
}

PREFIX = "FLASK_"
# a quoted .env value, then optional spaces and an optional comment
_QUOTED = re.compile(r"""^(?:'(?P<single>[^']*)'|"(?P<double>(?:[^"\\]|\\.)*)")\s*(?:#.*)?$""")


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``KEY=VALUE`` lines of a ``.env`` file; ``#`` comments, ``export`` and quotes allowed.

    A missing file is an empty one. No interpolation, no multi-line values.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        value = value.strip()
        quoted = _QUOTED.match(value)
        if quoted and quoted.group("single") is not None:
            value = quoted.group("single")
        elif quoted:
            value = re.sub(r'\\(["\\])', r"\1", quoted.group("double"))  # \" and \\, as python-dotenv reads them
        else:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            values[key] = value
    return values


def apply_prefixed(config: dict[str, Any], variables: Mapping[str, str], prefix: str = PREFIX) -> None:
    """Load ``prefix``-ed variables the way ``Config.from_prefixed_env`` does.

    Values are parsed as JSON when they can be (``["aliyun"]``, ``8``, ``true``)
    and kept as strings otherwise; ``A__B`` sets key ``B`` inside dict ``A``.
    """
    for name in sorted(variables):
        if not name.startswith(prefix):
            continue
        value: Any = variables[name]
        try:
            value = json.loads(value)
        except ValueError:
            pass
        key = name[len(prefix) :]
        if "__" not in key:
            config[key] = value
            continue
        current = config
        *parts, last = key.split("__")
        for part in parts:
            if part not in current:
                current[part] = {}
            current = current[part]
        current[last] = value


def show_sms_logs() -> None:
    """Make INFO from the ``flask_sms`` logger reach the terminal.

    flask_sms logs the active providers and storage at INFO when it starts, and
    the console provider logs each text there. Python only shows WARNING and up
    by default, so unless the app (or its server) configured logging, add a
    stderr handler, as Flask does for ``app.logger``.
    """
    logger = logging.getLogger("flask_sms")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    own = [handler for handler in logger.handlers if not isinstance(handler, logging.NullHandler)]
    if not own and not logging.getLogger().handlers:  # flask_sms itself adds no handler
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s in flask_sms: %(message)s"))
        logger.addHandler(handler)


def _channel_defaults(config: Config) -> None:
    """The console "calls" too: the page offers "call me instead" after a text (a call reads out 8 digits
    at most). With FLASK_SMS_CODE_BACKEND=aliyun_pnvs, Aliyun makes, texts and checks each code with its
    system sign and template: the demo then needs no provider (nor a qualification) of its own."""
    if config.get("SMS_CODE_BACKEND", "local") != "local":
        if config["SMS_PROVIDERS"] == DEFAULTS["SMS_PROVIDERS"]:
            config["SMS_PROVIDERS"] = []
    elif config["SMS_PROVIDERS"] == ["console"] and int(config.get("SMS_CODE_LENGTH") or 6) <= 8:
        config.setdefault("SMS_VOICE_PROVIDERS", ["console"])


def create_app(config: Mapping[str, Any] | None = None, env_file: str | os.PathLike[str] | None = ".env") -> Flask:
    """Build the demo app. ``env_file=None`` skips the ``.env`` file."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if env_file is not None:
        apply_prefixed(app.config, read_env_file(env_file))
    app.config.from_prefixed_env()  # FLASK_* variables
    if config:
        app.config.update(config)
    _channel_defaults(app.config)

    generated_key = not app.config.get("SECRET_KEY")
    if generated_key:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    elif not isinstance(app.config["SECRET_KEY"], (str, bytes)):
        app.config["SECRET_KEY"] = str(app.config["SECRET_KEY"])  # e.g. an all-digit value parsed as JSON

    show_sms_logs()
    if app.logger.level == logging.NOTSET:
        app.logger.setLevel(logging.INFO)

    sms = SmsExtension(app)  # logs "flask_sms: providers ...; storage ..." at INFO
    views.init_app(app)
    human_check.init_app(app, sms)  # a local stand-in for a captcha vendor: the page shows it when asked
    try:
        captcha = sms.check(app).captcha
    except ConfigError as exc:
        # as flask_sms does: the app starts, its pages answer 503, `flask sms check` lists the problems
        app.logger.error(
            "the SMS config has %d problem(s): the pages answer 503 until it is fixed; "
            "run `flask --app example_app sms check` to list them",
            len(exc.problems),
        )
        captcha = None
    if captcha is not None and captcha.dev_inbox:  # flask_sms's own, on in debug mode with "console"
        app.logger.info("console provider: texts are not sent; read them at /sms_dev/inbox or on the page")
    if generated_key:
        app.logger.warning(
            "SECRET_KEY is a random development key made at startup (sessions end on restart); "
            "set FLASK_SECRET_KEY for anything real"
        )
    return app
