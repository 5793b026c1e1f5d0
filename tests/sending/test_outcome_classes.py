"""Every vendor's outcome classes, through the real SDKs against the loopback fake vendor.

For each vendor: one code it publishes as final for the number (``rejected``: no
failover), one of its account errors (``failed``: the next provider is tried), a
refused connection (``failed``), a vendor that takes the request and hangs and an
unreadable 200 (``unknown``: the text may be out, so nothing else is tried), and
a 500 (``failed``). Also: the caller's correlation id reaches each vendor, and no
code or credential reaches a log line or an exception, even in part.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fake_vendor import unused_port
from vendor_config import CLOSED, RONGLIAN, SECRET_VALUES

from flask_sms import PhoneRejected, SendError, send_sms
from flask_sms.providers import provider_class

PARAMS = {"code": "483920", "minutes": 5}
PHONE = "+8613800138000"

# vendor -> (a code final for the number, an account error that fails over)
CODES = {
    "aliyun": ("isv.MOBILE_NUMBER_ILLEGAL", "isv.AMOUNT_NOT_ENOUGH"),
    "tencent": ("FailedOperation.PhoneNumberInBlacklist", "FailedOperation.InsufficientBalanceInSmsPackage"),
    "ronglian": ("160034", "160014"),
    "ihuyi": ("4030", "4051"),
    "huawei": ("E200041", "E000623"),
    "volcengine": ("RE:0006", "RE:0010"),
    "baidu": ("4503", "6012"),
    "qiniu": (None, "AccountBalanceNotEnough"),  # Qiniu publishes no code final for a number
    "yunpian": ("10", "3"),
    "netease": ("416", "418"),
}
VENDORS = list(CODES)
SECOND = {vendor: ("tencent" if vendor != "tencent" else "aliyun") for vendor in VENDORS}


def _send(app: Any) -> Any:
    with app.app_context():
        return send_sms("13800138000", "captcha", PARAMS)


@pytest.mark.parametrize("vendor", [vendor for vendor, (final, _) in CODES.items() if final is not None])
def test_a_code_final_for_the_number_is_rejected_and_not_failed_over(make_app, fake, vendor):
    code = CODES[vendor][0]
    assert code is not None and provider_class(vendor).classify(code) == "rejected"
    fake.set_mode(vendor, "business_error", code=code, message="final for this number")
    app = make_app([vendor, SECOND[vendor]], SMS_CIRCUIT_BREAKER=None)
    with app.app_context(), pytest.raises(PhoneRejected) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.provider, attempt.code, attempt.outcome) == (vendor, code, "rejected")
    assert attempt.message  # the vendor's own words, to look up
    assert fake.received(SECOND[vendor]) == []


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", ["account_error", "http_500", "connection_refused"])
def test_a_failure_that_sent_nothing_fails_over(make_app, fake, vendor, fault):
    overrides: dict[str, Any] = {}
    if fault == "account_error":
        fake.set_mode(vendor, "business_error", code=CODES[vendor][1], message="account error")
    elif fault == "http_500":
        fake.set_mode(vendor, "http_500")
    else:
        overrides = CLOSED[vendor](unused_port())
    app = make_app([vendor, SECOND[vendor]], SMS_CIRCUIT_BREAKER=None, **overrides)
    result = _send(app)
    failed, sent = result.attempts
    assert (failed.provider, failed.outcome) == (vendor, "failed")
    if fault == "account_error":
        assert failed.code == CODES[vendor][1]
    assert sent.provider == SECOND[vendor] and result.delivered == {PHONE: SECOND[vendor]}


@pytest.mark.parametrize(
    ("vendor", "fault"),
    # Baidu's hang is retried with its clientToken and ends sent (test_vendor_documented_rules.py)
    [(vendor, fault) for vendor in VENDORS for fault in ("hang", "garbage") if (vendor, fault) != ("baidu", "hang")],
)
def test_a_fault_after_which_the_text_may_be_out_is_unknown(make_app, fake, vendor, fault):
    fake.set_mode(vendor, fault, **({"seconds": 3} if fault == "hang" else {}))
    app = make_app([vendor, SECOND[vendor]], SMS_TIMEOUT=0.5, SMS_CIRCUIT_BREAKER=None)
    result = _send(app)  # no SendError: the text may arrive
    (attempt,) = result.attempts
    assert (attempt.provider, attempt.outcome) == (vendor, "unknown")
    assert result.unknown == {PHONE: attempt} and not result.ok
    assert fake.received(SECOND[vendor]) == []
    assert len(fake.received(vendor)) == 1  # taken once, never retried


@pytest.mark.parametrize("vendor", ["aliyun", "ronglian"])
def test_a_final_code_for_a_whole_batch_fails_over(make_app, fake, vendor):
    """Aliyun and Ronglian answer one code for the whole request: it does not say which number it meant."""
    fake.set_mode(vendor, "business_error", code=CODES[vendor][0], message="one of them")
    app = make_app([vendor, "tencent"], SMS_CIRCUIT_BREAKER=None)
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)
    assert result.attempts[0].outcome == "failed" and result.ok


@pytest.mark.parametrize(
    "vendor", ["aliyun", "tencent"]
)  # Ronglian's reqId is per request: test_vendor_documented_rules.py
def test_the_correlation_id_reaches_the_vendor(make_app, fake, vendor):
    app = make_app([vendor])
    with app.app_context():
        given = send_sms("13800138000", "captcha", PARAMS, out_id="order-42")
        generated = send_sms("13900139000", "captcha", PARAMS)
    first, second = fake.received(vendor)
    assert first.correlation == "order-42" == given.out_id
    assert len(generated.out_id) == 32 and second.correlation == generated.out_id


def _parts(secret: str) -> list[str]:
    """The whole secret and every 8-character piece of it: "even in part" (but not a piece that is
    a plain word, such as a vendor's name in the test credentials: "ronglian")."""
    pieces = [secret[i : i + 8] for i in range(max(1, len(secret) - 7))]
    return [secret] + [piece for piece in pieces if not piece.isalpha()]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("fault", ["ok", "business_error", "http_500", "garbage", "hang", "connection_refused"])
def test_no_code_or_credential_reaches_a_log_or_an_exception(make_app, fake, caplog, capfd, vendor, fault):
    overrides: dict[str, Any] = {}
    if fault == "connection_refused":
        overrides = CLOSED[vendor](unused_port())
    elif fault == "hang":
        fake.set_mode(vendor, "hang", seconds=2)
    elif fault != "ok":
        fake.set_mode(vendor, fault)
    app = make_app([vendor], SMS_TIMEOUT=0.5, **overrides)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), app.app_context():
        logging.getLogger().setLevel(logging.DEBUG)
        try:
            result = send_sms("13800138000", "captcha", PARAMS)
            texts += [str(SendError(result.attempts, result))]
        except SendError as exc:
            texts += [str(exc), repr(exc.attempts)]
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text] + [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    joined = "\n".join(texts)
    leaked = [part for secret in (*SECRET_VALUES, PARAMS["code"]) for part in _parts(secret) if part in joined]
    assert leaked == [], leaked


def test_an_echoing_reply_is_masked_before_it_is_shortened(make_app, fake, caplog):
    """The attack: a reply cut at 120 characters before masking leaked the first 8 of the account SID."""
    echo = "x" * 115 + RONGLIAN.sid + " echoed back" + "y" * 300
    fake.set_mode("ronglian", "business_error", code="160014", message=echo)
    app = make_app(["ronglian"])
    with caplog.at_level(logging.DEBUG), app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    joined = str(caught.value) + caplog.text
    assert [part for part in _parts(RONGLIAN.sid) if part in joined] == []
    assert "***" in joined
