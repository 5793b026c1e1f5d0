"""The library configures no logging, yet a new user sees every problem; the CLI says each thing once."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import vendor_config

ROOT = Path(__file__).resolve().parents[2]


def test_adds_no_handler_and_sets_no_level(make_app, caplog):
    logger = logging.getLogger("flask_sms")
    app = make_app(["console"], SMS_SUPPRESS_SEND=False)
    with caplog.at_level(logging.INFO, logger="flask_sms"), app.app_context():  # caplog sets the level, not us
        app.extensions["sms"].send("13800138000", "captcha", {"code": "483920"})
    assert logger.handlers == []  # not even a NullHandler: it would switch off Python's last-resort handler
    assert logger.level == logging.NOTSET
    texts = [r for r in caplog.records if r.name == "flask_sms" and "SMS to +8613800138000" in r.getMessage()]
    assert len(texts) == 1 and texts[0].levelno == logging.INFO
    assert "code=483920" in texts[0].getMessage()


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_console_texts_are_silent_until_the_app_turns_logging_on():
    """By default only the warning shows (Python shows WARNING and up): the texts, at INFO, need README's one line.
    Either way the warning is said once."""
    program = """
        import logging, sys
        from flask import Flask
        from flask_sms import SmsExtension, send_sms
        if sys.argv[1] == "on":
            logging.basicConfig(level=logging.INFO)  # README's one line
        app = Flask("app")
        app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"])
        SmsExtension(app)
        with app.app_context():
            send_sms("13800138000", "captcha", {"code": "483920"})
    """
    quiet = _run(program, "off")
    loud = _run(program, "on")
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr + loud.stderr
    warning = "SMS_PROVIDERS is ['console'] outside debug and testing: no text is sent to any phone"
    (line,) = quiet.stderr.splitlines()  # through app.logger, which Flask gave a handler
    assert "WARNING in flask_sms: " + warning in line and quiet.stdout == ""
    assert "INFO:flask_sms:SMS to +8613800138000 [captcha] code=483920" in loud.stderr
    assert loud.stderr.count(warning) == 1 and "WARNING:flask_sms:" + warning in loud.stderr  # the app's config


def _flask(folder: Path, app: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``flask --app APP ARGS...`` in a process of its own, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", app, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])},
    )


def test_cli_send_prints_each_vendor_failure_once(fake, tmp_path):
    fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="账户余额不足")
    fake.set_mode("tencent", "http_500")
    config = {
        "SECRET_KEY": "test-secret-key-for-flask-sms",
        "SMS_PROVIDERS": ["aliyun", "tencent"],
        "SMS_TIMEOUT": 2,
        **vendor_config(fake.url, fake.host),
    }
    (tmp_path / "smsapp.py").write_text(
        "import json\nfrom flask import Flask\nfrom flask_sms import SmsExtension\n"
        f"app = Flask('smsapp')\napp.config.update(json.loads({json.dumps(json.dumps(config))}))\n"
        "SmsExtension(app)\n",
        encoding="utf-8",
    )
    result = _flask(tmp_path, "smsapp", "sms", "send", "13800138000", "captcha", "-p", "code=1", "-p", "minutes=5")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.count("isv.AMOUNT_NOT_ENOUGH") == 1, output
    assert output.count("ServerNetworkError") == 1, output
    assert "memory://" not in output  # the per-process storage warning is for the flow, not this command


def test_other_cli_commands_print_nothing_from_flask_sms(tmp_path):
    (tmp_path / "plain.py").write_text(
        "from flask import Flask\nfrom flask_sms import SmsExtension\n"
        "app = Flask('plain')\napp.config.update(SECRET_KEY='test-secret-key-for-flask-sms', SMS_PROVIDERS=['console'])\n"
        "SmsExtension(app)\n",
        encoding="utf-8",
    )
    result = _flask(tmp_path, "plain", "routes")
    assert result.returncode == 0, result.stderr
    assert "sms.send_code" in result.stdout
    (line,) = result.stderr.splitlines()  # no memory:// warning, no startup line: the console warning alone
    assert "SMS_PROVIDERS is ['console'] outside debug and testing" in line


MISCONFIGURED = """
    import logging, sys
    from flask import Flask
    from flask_sms import SmsExtension
    if sys.argv[1] == "configured":
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s:%(name)s:%(message)s")
    app = Flask("shop")
    app.config.update(SECRET_KEY="a-long-enough-secret-key-for-the-test", SMS_PROVIDERS=["aliyun"])
    app.config.update(dict(arg.split("=", 1) for arg in sys.argv[2:]))
    SmsExtension(app)
    client = app.test_client()
    for _ in range(3):
        print(client.post("/sms_captcha/", json={"phone": "13800138000"}).status_code)
"""


def test_a_misconfigured_app_says_why_on_stderr_once_without_any_logging_config():
    """The attack: outside debug, a misconfigured app answered 503 on every send and printed nothing."""
    bare = _run(MISCONFIGURED, "bare")
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout.split() == ["503", "503", "503"]
    problem = "SMS_ALIYUN_ACCESS_KEY_ID"
    assert bare.stderr.count(problem) == 1, bare.stderr  # once per process, not once per request
    assert "ERROR in flask_sms: flask_sms answers 503 to POST /sms_captcha/" in bare.stderr  # app.logger's format
    assert "flask sms check" in bare.stderr


def test_an_app_that_configures_logging_gets_the_problem_once_from_the_flask_sms_logger():
    configured = _run(MISCONFIGURED, "configured")
    assert configured.stdout.split() == ["503", "503", "503"]
    assert configured.stderr.count("SMS_ALIYUN_ACCESS_KEY_ID") == 1, configured.stderr  # not twice: one logger
    assert "ERROR:flask_sms:flask_sms answers 503" in configured.stderr


def test_a_storage_outage_is_said_once_while_it_lasts():
    from helpers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = _run(MISCONFIGURED, "bare", "SMS_PROVIDERS=console", f"SMS_STORAGE_URL={url}", "SMS_TIMEOUT=1")
    result_lines = result.stdout.split()
    assert result_lines == ["503", "503", "503"], result.stderr
    assert result.stderr.count("its code storage cannot be reached") == 1, result.stderr
    assert "ERROR in flask_sms: flask_sms answers 503 unavailable" in result.stderr
