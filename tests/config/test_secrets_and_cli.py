"""No credential reaches stdout, stderr, a log record or an error; and the CLI."""

from __future__ import annotations

import logging
import threading

import pytest
from conftest import SECRET_VALUES
from fake_vendor import unused_port

from flask_sms import SendError, send_sms

VENDORS = ["aliyun", "tencent", "ronglian", "ihuyi", "huawei", "volcengine", "baidu", "qiniu", "yunpian", "netease"]
PARAMS = {"code": "483920", "minutes": 5}


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRET_VALUES:
            assert secret not in text, f"credential {secret!r} leaked in: {text[:500]!r}"


@pytest.fixture
def everything_logged(monkeypatch, caplog):
    """Turn every logger up to DEBUG, and Aliyun's own HTTP debug dump on."""
    monkeypatch.setenv("DEBUG", "sdk")
    caplog.set_level(logging.DEBUG)
    root = logging.getLogger()
    return caplog, root


def _collect_errors(app, fake, vendor):
    errors = []
    for mode in ["ok", "business_error", "http_500", "garbage"]:
        fake.set_mode(vendor, mode)
        with app.app_context():
            try:
                result = send_sms(["13800138000", "+16502530000"], "captcha", PARAMS)
            except SendError as exc:
                errors.append(exc)
            else:
                if result.unknown:  # garbage: the text may be out, so no exception; its attempts are checked alike
                    errors.append(SendError(result.attempts, result))
    return errors


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_credential_is_printed_or_logged(make_app, fake, capfd, everything_logged, vendor):
    caplog, _ = everything_logged
    app = make_app([vendor], SMS_TIMEOUT=1)
    errors = _collect_errors(app, fake, vendor)
    fake.set_mode(vendor, "hang", seconds=5)
    with app.app_context():
        timed_out = send_sms("13800138000", "captcha", PARAMS)  # unknown: no SendError, the text may be out
    assert timed_out.unknown
    errors.append(SendError(timed_out.attempts, timed_out))

    out, err = capfd.readouterr()
    assert len(fake.received(vendor)) >= 4  # the calls really happened
    assert len(errors) == 4
    records = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    assert records, "nothing was logged at DEBUG: the test would prove nothing"
    _assert_no_secret(out, err, caplog.text, *records)
    _assert_no_secret(*(str(error) for error in errors))
    _assert_no_secret(*(attempt.message for error in errors for attempt in error.attempts))


def test_wrong_secret_reply_does_not_echo_the_key_id(make_app, fake, capfd, everything_logged):
    caplog, _ = everything_logged
    # Aliyun's SignatureDoesNotMatch echoes the string it signed, which holds the AccessKeyId
    app = make_app(
        ["aliyun", "tencent"], SMS_ALIYUN_ACCESS_KEY_SECRET="wrong-secret-value", SMS_TENCENT_SECRET_KEY="x" * 20
    )
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    aliyun, tencent = caught.value.attempts
    assert aliyun.code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret")
    assert tencent.code == "AuthFailure.SignatureFailure"
    out, err = capfd.readouterr()
    _assert_no_secret(out, err, caplog.text, str(caught.value))


def test_connection_errors_do_not_leak_urls_with_credentials(make_app, fake, capfd, everything_logged):
    caplog, _ = everything_logged
    port = unused_port()
    app = make_app(
        ["ronglian", "aliyun"],
        SMS_RONGLIAN_BASE_URL=f"http://127.0.0.1:{port}",
        SMS_ALIYUN_ENDPOINT=f"127.0.0.1:{port}",
    )
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    assert [a.code for a in caught.value.attempts] == ["connection_error", "connection_error"]
    out, err = capfd.readouterr()
    _assert_no_secret(out, err, caplog.text, str(caught.value))


def test_ronglian_is_silenced_per_call_not_by_redirecting_stdout(make_app, fake, capfd):
    """The SDK's prints are dropped inside its own calls; other threads still print normally."""
    app = make_app(["ronglian"])
    failures = []

    def send_many():
        with app.app_context():
            for _ in range(5):
                try:
                    send_sms("13800138000", "captcha", PARAMS)
                except Exception as exc:  # pragma: no cover - reported below
                    failures.append(exc)

    workers = [threading.Thread(target=send_many) for _ in range(4)]
    for worker in workers:
        worker.start()
    for line in range(50):
        print(f"app output {line}")
    for worker in workers:
        worker.join()

    out, err = capfd.readouterr()
    assert not failures
    assert len(fake.received("ronglian")) == 20
    assert all(f"app output {line}" in out for line in range(50))
    assert "Sign plaintext" not in out and "Request body" not in out
    _assert_no_secret(out, err)


def test_cli_sends_and_prints_the_result(make_app, fake):
    app = make_app(["tencent"])
    result = app.test_cli_runner().invoke(
        args=["sms", "send", "13800138000", "captcha", "--param", "code=1234", "-p", "minutes=5"]
    )
    assert result.exit_code == 0, result.output
    assert "delivered via tencent: +8613800138000" in result.output
    assert fake.received("tencent")[0].params == ["1234", "5"]


def test_cli_shows_vendor_errors_and_fails(make_app, fake):
    fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="账户余额不足")
    fake.set_mode("tencent", "http_500")
    app = make_app(["aliyun", "tencent"])
    result = app.test_cli_runner().invoke(
        args=["sms", "send", "13800138000", "captcha", "-p", "code=1", "-p", "minutes=5"]
    )
    assert result.exit_code == 1
    text = result.output  # stdout and stderr together on every click (8.1 mixes them by default; 8.2+ always)
    assert "aliyun: isv.AMOUNT_NOT_ENOUGH 账户余额不足" in text
    assert "tencent: ServerNetworkError" in text
    _assert_no_secret(text)


def test_cli_rejects_a_bad_number_without_sending(make_app, fake):
    app = make_app(["aliyun"])
    result = app.test_cli_runner().invoke(args=["sms", "send", "12345", "captcha", "-p", "code=1"])
    assert result.exit_code != 0
    assert "not a valid phone number" in result.output
    assert fake.accepted == []
