"""Aliyun through both SDK generations (``SMS_ALIYUN_SDK``): the V1.0 ``aliyun-python-sdk-core`` and the V2.0
``alibabacloud_dysmsapi20170525`` on ``alibabacloud-tea-openapi``, the same outcomes, correlation, polling and
breaker, against the loopback fake, which checks each generation's signature on its own terms (RPC v1 HMAC-SHA1,
and the V3 signature ACS3-HMAC-SHA256 that the V2 SDK sends).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_receipts import FakeReceipts
from fake_vendor import unused_port
from helpers import FakeClock
from vendor_config import CLOSED, SECRET_VALUES

from flask_sms import ConfigError, PhoneRejected, SendError, provider_down, send_sms

PARAMS = {"code": "483920", "minutes": 5}
PHONE = "+8613800138000"
SDKS = ["v1", "v2"]
ROOT = Path(__file__).resolve().parents[2]


def _app(make_app: Any, sdk: str, providers: list[str] | None = None, **config: Any) -> Any:
    return make_app(providers or ["aliyun"], SMS_ALIYUN_SDK=sdk, **config)


def _send(app: Any, phones: Any = "13800138000", **kwargs: Any) -> Any:
    with app.app_context():
        return send_sms(phones, kwargs.pop("purpose", "captcha"), kwargs.pop("params", PARAMS), **kwargs)


@pytest.mark.parametrize("sdk", SDKS)
def test_each_generation_signs_as_it_should_and_carries_the_out_id(make_app, fake, sdk):
    result = _send(_app(make_app, sdk), ["13800138000", "+852 6123 4567"], out_id="order-5")
    assert result.ok and not fake.rejected
    requests = fake.received("aliyun")
    assert sorted(r.phones[0] for r in requests) == ["13800138000", "85261234567"]
    assert {r.correlation for r in requests} == {"order-5"}
    authorization = requests[0].headers.get("Authorization", "")
    if sdk == "v2":
        assert authorization.startswith("ACS3-HMAC-SHA256 Credential=")  # the V3 signature
        assert {r.headers["x-acs-action"] for r in requests} == {"SendSms"}
    else:
        assert authorization == "" and requests[0].raw["SignatureMethod"] == "HMAC-SHA1"
    assert sorted(m.message_id for m in result.messages) == sorted(result.message_ids * 1)


@pytest.mark.parametrize("sdk", SDKS)
def test_the_client_is_built_once_and_its_connection_kept_alive(make_app, fake, sdk):
    app = _app(make_app, sdk)
    (provider,) = app.extensions["sms"]._state(app).sender.providers
    client = provider.client
    for _ in range(3):
        assert _send(app).ok
    assert provider.client is client
    assert len({r.client_port for r in fake.received("aliyun")}) == 1, "each send opened a new connection"


@pytest.mark.parametrize("sdk", SDKS)
def test_a_wrong_secret_is_refused_by_the_signature_check_and_fails_over(make_app, fake, sdk):
    app = _app(make_app, sdk, ["aliyun", "tencent"], SMS_ALIYUN_ACCESS_KEY_SECRET="wrong-secret-value")
    result = _send(app)
    refused, sent = result.attempts
    assert (refused.code, refused.outcome) == ("SignatureDoesNotMatch", "failed") and sent.provider == "tencent"
    assert [vendor for vendor, _ in fake.rejected] == ["aliyun"]


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", "rejected"),
        ("isv.AMOUNT_NOT_ENOUGH", "failed"),
        ("isv.PARAM_NOT_SUPPORT_URL", "content"),
    ],
)
def test_business_errors_keep_their_code_and_outcome(make_app, fake, sdk, code, outcome):
    fake.set_mode("aliyun", "business_error", code=code, message="the vendor's own words")
    app = _app(make_app, sdk, ["aliyun", "tencent"], SMS_CIRCUIT_BREAKER=None)
    if outcome == "rejected":
        with pytest.raises(PhoneRejected) as caught:
            _send(app)
        attempts = caught.value.attempts
    else:
        attempts = _send(app).attempts
    assert (attempts[0].code, attempts[0].message, attempts[0].outcome) == (code, "the vendor's own words", outcome)
    assert len(attempts) == (1 if outcome == "rejected" else 2)


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("fault", ["http_500", "connection_refused", "hang", "garbage"])
def test_transport_faults_end_as_for_every_vendor(make_app, fake, sdk, fault):
    """A 500 and a refused connection sent nothing (failed, the next provider sends); a hang past the timeout
    and an unreadable 200 may have sent the text (unknown: nothing else is tried, nothing is retried)."""
    overrides: dict[str, Any] = {}
    if fault == "connection_refused":
        overrides = CLOSED["aliyun"](unused_port())
    else:
        fake.set_mode("aliyun", fault, **({"seconds": 3} if fault == "hang" else {}))
    app = _app(make_app, sdk, ["aliyun", "tencent"], SMS_TIMEOUT=0.5, SMS_CIRCUIT_BREAKER=None, **overrides)
    result = _send(app)
    first = result.attempts[0]
    if fault in ("http_500", "connection_refused"):
        assert (first.outcome, result.provider) == ("failed", "tencent")
        assert first.code == ("http_500" if fault == "http_500" else "connection_error")
    else:
        assert (first.code, first.outcome) == ({"hang": "timeout", "garbage": "bad_reply"}[fault], "unknown")
        assert result.unknown == {PHONE: first} and fake.received("tencent") == []
        assert len(fake.received("aliyun")) == 1


@pytest.mark.parametrize("sdk", SDKS)
def test_the_breaker_opens_on_failures_and_ignores_content_refusals(make_app, fake, sdk):
    downs: list[str] = []
    breaker = {"failures": 2, "window": 60, "cooldown": 30}
    app = _app(make_app, sdk, ["aliyun", "tencent"], clock=FakeClock(), SMS_CIRCUIT_BREAKER=breaker)
    with provider_down.connected_to(lambda sender, provider, **_: downs.append(provider)):
        for _ in range(3):
            _send(app, purpose="notice", params={"name": "http://evil.example.com"})  # content: not counted
        assert downs == []
        fake.set_mode("aliyun", "http_500")
        for _ in range(2):
            _send(app)
    assert downs == ["aliyun"]
    skipped = _send(app).attempts[0]
    assert (skipped.provider, skipped.code) == ("aliyun", "circuit_open")


@pytest.mark.parametrize("sdk", SDKS)
def test_query_send_details_polls_through_either_sdk(make_app, fake, sdk):
    receipts = FakeReceipts(fake).install()
    try:
        app = _app(make_app, sdk, SMS_RECEIPT_TOKEN="receipt-token-0123456789abcdef")
        _send(app, out_id="poll-1")
        receipts.fail(PHONE, "UNDELIV", "失败")
        _send(app, "13900139000", out_id="poll-2")
        with app.app_context():
            reports = app.extensions["sms"].receipts.fetch("aliyun", phone="13800138000")
    finally:
        receipts.uninstall()
    assert [(r.phone, r.status, r.out_id) for r in reports] == [(PHONE, "delivered", "poll-1")]
    (query,) = [q for q in receipts.queries if q[0] == "aliyun:QuerySendDetails"]
    assert query[1]["PhoneNumber"] == "13800138000" and query[1]["PageSize"] == "50"


@pytest.mark.parametrize("sdk", SDKS)
def test_no_credential_code_or_value_reaches_a_log_or_an_error(make_app, fake, caplog, capfd, monkeypatch, sdk):
    monkeypatch.setenv("DEBUG", "sdk")  # each SDK's own switch for dumping its requests and replies
    fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="余额不足", times=1)
    app = _app(make_app, sdk, SMS_TIMEOUT=0.5)
    texts: list[str] = []
    with caplog.at_level(1), app.app_context():
        for logger in ("darabonba-core", "aliyunsdkcore", "urllib3", ""):
            logging.getLogger(logger).setLevel(1)
        try:
            send_sms("13800138000", "captcha", {"code": "483920", "minutes": 5})
        except SendError as exc:
            texts += [str(exc), repr(exc.attempts)]
        texts += [str(send_sms("13900139000", "captcha", {"code": "483920", "minutes": 5}))]
    out, err = capfd.readouterr()
    joined = "\n".join([*texts, out, err, caplog.text])
    assert "SendSms" in joined or "isv.AMOUNT_NOT_ENOUGH" in joined  # something was logged
    for secret in (*SECRET_VALUES, "483920"):
        assert secret not in joined, secret


def test_an_unknown_generation_is_a_config_problem(make_app):
    with pytest.raises(ConfigError) as caught:
        make_app(["aliyun"], SMS_ALIYUN_SDK="v3")
    assert any("SMS_ALIYUN_SDK" in problem and '"v2"' in problem for problem in caught.value.problems)


def test_each_generation_asks_for_its_own_extra_when_missing():
    script = (
        "import sys\n"
        "for name in ('aliyunsdkcore', 'alibabacloud_dysmsapi20170525'): sys.modules[name] = None\n"
        "from flask_sms.providers import provider_class\n"
        "cls = provider_class('aliyun')\n"
        "print(cls.sdk_problem({'SDK': 'v1'})); print(cls.sdk_problem({'SDK': 'v2'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "provider 'aliyun' needs its vendor SDK: pip install 'Flask-SMS-Captcha[aliyun]'",
        "provider 'aliyun' needs its vendor SDK: pip install 'Flask-SMS-Captcha[aliyun-v2]'",
    ]
