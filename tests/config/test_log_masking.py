"""No verification code, template value or credential reaches a log, an exception or the terminal.

Every logger in the process is turned up to its lowest level and given a
capturing handler of its own, as a user debugging a vendor would (and the
Aliyun SDK's ``DEBUG=sdk`` switch is on), and a code is sent through the real
extension and the real SDK for each of the ten vendors in each fault the fake
vendor can play: a reply, a business error, a 500, an unreadable 200, a hang
past ``SMS_TIMEOUT`` and a refused connection. Nothing the user could see may
hold the code (whole, or a 4-digit piece of it standing alone, as a cut would
leave it), a template value (raw, URL- or JSON-encoded), a credential or any
8-character piece of one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from fake_vendor import unused_port
from vendor_config import CLOSED, RONGLIAN, SECRET_VALUES, VENDOR_SECRETS

from flask_sms import SendError, _redact, send_sms
from flask_sms.errors import ProviderError
from flask_sms.providers.replies import load_json, short

CODE = "483920"
NAME = "李雷 Lilei-Han"  # a template value with a space, non-ASCII and ASCII: every encoding differs
SHORT = "五分钟"  # three characters: too short to mask wherever it appears, so its field is masked
PHONE = "13800138000"

VENDORS = list(CLOSED)
#: an account error each vendor may answer with a message of its own
CLOSED_CODES = {"ihuyi": "4051", "yunpian": "3"}
FAULTS = ["ok", "business_error", "http_500", "garbage", "hang", "connection_refused"]


class _Capture(logging.Handler):
    """Keeps every record as a handler of the user's would print it (with the traceback)."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def every_logger(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[_Capture]:
    """A capturing handler on the root and on every logger there is, each at level 1; ``DEBUG=sdk`` set.

    ``caplog`` is opened first (at level 0), so it is put back last: each logger ends at its own level.
    """
    caplog.set_level(0)
    monkeypatch.setenv("DEBUG", "sdk")  # aliyunsdkcore's switch: dump each request and reply
    capture = _Capture()
    saved: list[tuple[logging.Logger, int, bool]] = []

    def turn_up() -> None:
        loggers = [logging.getLogger()] + [
            item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
        ]
        for logger in loggers:
            if capture not in logger.handlers:
                saved.append((logger, logger.level, logger.disabled))
                logger.setLevel(1)
                logger.disabled = False
                logger.addHandler(capture)

    capture.turn_up = turn_up  # type: ignore[attr-defined]
    turn_up()
    yield capture
    for logger, level, disabled in saved:
        logger.removeHandler(capture)
        logger.setLevel(level)
        logger.disabled = disabled


def _code_parts(code: str) -> list[re.Pattern[str]]:
    """The code anywhere but inside a longer run of digits (a timing's float in a result's repr, 0.0030483920...,
    once matched by chance), and each 4-digit piece of it standing alone (what a cut or a partial mask leaves)."""
    pieces = {code[i : i + 4] for i in range(len(code) - 3)}
    return [re.compile(rf"(?<![0-9]){re.escape(code)}(?![0-9])")] + [
        re.compile(rf"(?<![0-9A-Za-z]){piece}(?![0-9A-Za-z])") for piece in sorted(pieces)
    ]


def _value_forms(value: str) -> list[str]:
    """A template value as an SDK may write it: raw, URL-encoded (both ways), JSON-escaped."""
    return sorted(
        {
            value,
            quote(value, safe=""),
            quote_plus(value),
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False),
        }
    )


def _credential_parts(secret: str) -> list[str]:
    """The whole credential and every 8-character piece of it (a plain word such as "ronglian" excepted)."""
    pieces = [secret[i : i + 8] for i in range(max(1, len(secret) - 7))]
    return [secret] + [piece for piece in pieces if not piece.isalpha()]


def _leaks(text: str, code: str = CODE, values: tuple[str, ...] = ()) -> list[str]:
    found = [pattern.pattern for pattern in _code_parts(code) if pattern.search(text)]
    found += [form for value in values for form in _value_forms(value) if form in text]
    found += [part for secret in SECRET_VALUES for part in _credential_parts(secret) if part in text]
    return found


def _seen(
    capture: _Capture, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, more: list[str]
) -> str:
    out, err = capfd.readouterr()
    records = [r.getMessage() + "\n" + (r.exc_text or "") for r in caplog.records]
    return "\n".join([*capture.texts, *records, caplog.text, out, err, *more])


def _set_fault(fake: Any, vendor: str, fault: str) -> dict[str, Any]:
    if fault == "connection_refused":
        return CLOSED[vendor](unused_port())
    if fault == "hang":
        fake.set_mode(vendor, "hang", seconds=2)
    elif fault != "ok":
        fake.set_mode(vendor, fault)
    return {}


def _send(app: Any, capture: _Capture, purpose: str, params: dict[str, Any]) -> list[str]:
    """Send once; the texts of the result or the error, as the user's code would print them."""
    with app.app_context():
        capture.turn_up()  # loggers the SDK made while the app was built
        try:
            result = send_sms(PHONE, purpose, params)
        except SendError as exc:
            return [str(exc), repr(exc), repr(exc.attempts)]
        return [repr(result), str(SendError(result.attempts, result)), repr(result.attempts)]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", FAULTS)
def test_the_code_and_credentials_reach_no_log_and_no_error(make_app, fake, caplog, capfd, every_logger, vendor, fault):
    overrides = _set_fault(fake, vendor, fault)
    app = make_app([vendor], SMS_TIMEOUT=0.5, **overrides)
    texts = _send(app, every_logger, "captcha", {"code": CODE, "minutes": 5})
    seen = _seen(every_logger, capfd, caplog, texts)
    assert every_logger.texts, "nothing was logged: the capture is not working"
    assert _leaks(seen) == [], seen


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", ["ok", "business_error", "garbage", "connection_refused"])
@pytest.mark.parametrize(
    ("purpose", "params", "value"),
    [("notice", {"name": NAME}, NAME), ("captcha", {"code": CODE, "minutes": SHORT}, SHORT)],
    ids=["name", "short"],
)
def test_a_template_value_reaches_no_log_and_no_error(
    make_app, fake, caplog, capfd, every_logger, vendor, fault, purpose, params, value
):
    """Any template value, not only a code: raw, URL-encoded or JSON-escaped as the SDKs write bodies, and
    one too short to mask by itself (it still sits in the vendor's parameter field)."""
    overrides = _set_fault(fake, vendor, fault)
    app = make_app([vendor], SMS_TIMEOUT=0.5, **overrides)
    texts = _send(app, every_logger, purpose, params)
    seen = _seen(every_logger, capfd, caplog, texts)
    assert _leaks(seen, values=(value,)) == [], seen


def test_aliyun_unreachable_leaks_no_signed_url(make_app, caplog, capfd, every_logger):
    """The reported leak: 4 lines per failed send carried the signed URL (TemplateParam, Signature, AccessKeyId)."""
    app = make_app(["aliyun"], SMS_TIMEOUT=0.5, **CLOSED["aliyun"](unused_port()))
    texts = _send(app, every_logger, "captcha", {"code": CODE, "minutes": 5})
    seen = _seen(every_logger, capfd, caplog, texts)
    aliyun_lines = [t for t in every_logger.texts if t.startswith("aliyunsdkcore")]
    assert any("HttpError" in line for line in aliyun_lines), every_logger.texts  # the SDK did log the failure
    for marker in ("Signature=", "AccessKeyId=", "SignatureNonce=", "TemplateParam=", '"minutes":"5"', "%22minutes%22"):
        assert marker not in seen, marker  # the signed URL's query, and the short value the code travels with
    assert _leaks(seen) == [], seen


@pytest.mark.parametrize("offset", [0, 112, 116, 292, 296])
def test_an_echoing_reply_longer_than_a_cut_is_masked_before_it_is_shortened(
    make_app, fake, caplog, capfd, every_logger, offset
):
    """A reply that echoes the Ronglian account SID (first, or across the 120- and 300-character cuts) and
    the token: none of either survives, in the log, the error or the terminal."""
    echo = "x" * offset + f"{RONGLIAN.sid} may not send with {RONGLIAN.token}; " + "y" * 400
    fake.set_mode("ronglian", "business_error", code="160014", message=echo)
    app = make_app(["ronglian"])
    texts = _send(app, every_logger, "captcha", {"code": CODE, "minutes": 5})
    seen = _seen(every_logger, capfd, caplog, texts)
    assert "160014" in seen  # the vendor's code kept
    assert _leaks(seen) == [], seen


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", ["http_500", "garbage"])
@pytest.mark.parametrize("offset", [0, 116, 196, 296])
def test_an_unreadable_reply_that_echoes_credentials_is_masked_before_any_cut(
    make_app, fake, caplog, capfd, every_logger, vendor, fault, offset
):
    """A 500 or an unreadable 200 whose body echoes the vendor's credentials, placed across each length limit a
    vendor text has been cut at (120, 200, 300): masking comes first, so no piece survives.

    Only the app's own credentials are echoed: those of vendors it does not use are unknown to it (whether an
    earlier test in this process built an app with them must not matter)."""
    echo = "x" * offset + " ".join(VENDOR_SECRETS[vendor]) + f" code={CODE} " + "y" * 400
    fake.set_mode(vendor, fault, body=echo)
    app = make_app([vendor])
    texts = _send(app, every_logger, "captcha", {"code": CODE, "minutes": 5})
    seen = _seen(every_logger, capfd, caplog, texts)
    assert _leaks(seen) == [], seen


@pytest.mark.parametrize("vendor", ["ihuyi", "yunpian"])
def test_a_reply_that_echoes_the_code_is_masked_in_every_worker_thread(
    make_app, fake, caplog, capfd, every_logger, vendor
):
    """Numbers sent as separate requests run on the sender's thread pool: each request masks its own values,
    so a vendor message that repeats the code (no parameter field around it) is masked in every thread."""
    fake.set_mode(vendor, "business_error", code=CLOSED_CODES[vendor], message=f"模板内容 {CODE} 不合法")
    app = make_app([vendor], SMS_MAX_CONCURRENCY=4)
    phones = ["13800138000", "13900139000", "13700137000", "13600136000"]
    with app.app_context():
        every_logger.turn_up()  # type: ignore[attr-defined]
        with pytest.raises(SendError) as caught:
            send_sms(phones, "captcha", {"code": CODE, "minutes": 5})
    seen = _seen(every_logger, capfd, caplog, [str(caught.value), repr(caught.value.attempts)])
    assert "不合法" in seen  # the vendor's message is kept, the code in it masked
    assert _leaks(seen) == [], seen


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("reachable", [True, False], ids=["reply", "refused"])
def test_aliyun_debug_sdk_prints_through_its_own_handler_without_a_secret(fake, reachable):
    """``DEBUG=sdk`` makes aliyunsdkcore dump each request and reply to stderr through the StreamHandler it
    adds to its own logger at import; in a process of its own (the real stderr), with the app's logging on
    at DEBUG as a user chasing a vendor problem would, that printout keeps no secret."""
    port = fake.url.rsplit(":", 1)[1] if reachable else str(unused_port())
    program = f"""
        import logging, sys
        sys.path.insert(0, "tests")
        from flask import Flask
        from vendor_config import vendor_config
        from flask_sms import SmsExtension, SendError, send_sms
        logging.basicConfig(level=logging.DEBUG)
        app = Flask("app")
        app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["aliyun"],
                          SMS_SUPPRESS_SEND=False, SMS_TIMEOUT=2,
                          **vendor_config("http://127.0.0.1:{port}", "127.0.0.1:{port}"))
        SmsExtension(app)
        with app.app_context():
            try:
                print(send_sms("{PHONE}", "captcha", {{"code": "{CODE}", "minutes": 5}}))
            except SendError as exc:
                print(exc, repr(exc.attempts))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DEBUG": "sdk"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    if reachable:
        assert "> POST /?… HTTP/1.1" in result.stderr, output  # the SDK's own handler printed the request
    else:
        assert "HttpError occurred" in result.stderr, output
    assert _leaks(output) == [], output
    for marker in ("Signature=", "AccessKeyId=", "TemplateParam=", '"minutes":"5"'):
        assert marker not in output, marker


@pytest.mark.parametrize("cut", [8, 60, 119, 120, 121, 299, 300])
def test_a_reply_that_is_not_json_is_masked_before_any_cut(cut):
    """``load_json``'s error text: a secret straddling any length limit leaves no piece behind."""
    _redact.register(RONGLIAN.sid, RONGLIAN.token)  # as init_app does
    body = "x" * (cut - 4) + RONGLIAN.sid + "&sig=" + RONGLIAN.token + " tail " + "y" * 500
    with pytest.raises(ProviderError) as caught:
        load_json(body, "ronglian")
    assert _leaks(str(caught.value)) == []
    assert _leaks(short(body)) == []
