"""Every SMS vendor through the same cases: its real SDK (or its documented HTTP API) against its kit in the fake.

The rows are the registry of vendor kits (tests/fakes/<vendor>.py): a kit that sets ``send_facts`` joins every
case here by being registered, and :func:`test_every_provider_of_the_package_has_a_kit_in_the_matrix` fails
until a new provider of flask_sms has one. What only one vendor does is tests/sending/test_vendor_specifics.py.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fake_vendor import SendFacts, kits, unused_port
from fakes.baidu import BaiduCredentials
from receipt_fixtures import PHONE
from vendor_config import CLOSED, SECRET_VALUES

from flask_sms import DeliveryReport, SendError, delivery_reported, send_sms
from flask_sms.providers import provider_class, provider_names

PARAMS = {"code": "483920", "minutes": 5}
FACTS: dict[str, SendFacts] = {name: cls.send_facts for name, cls in kits().items() if cls.send_facts is not None}
VENDORS = sorted(FACTS)
CORRELATED = sorted(name for name in VENDORS if kits()[name].correlation_field)
PUSHING = sorted(name for name in VENDORS if kits()[name].push_tries)


def backup(vendor: str) -> str:
    """A second provider for the failover cases."""
    return "tencent" if vendor == "aliyun" else "aliyun"


def test_every_provider_of_the_package_has_a_kit_in_the_matrix():
    assert sorted(name for name in provider_names() if name != "console") == VENDORS


# -- a send and its record ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_send_reaches_the_vendor_in_its_own_format_and_is_recorded(make_app, fake, vendor):
    facts = FACTS[vendor]
    app = make_app([vendor])
    with app.app_context():
        result = send_sms("+86 138-0013-8000", "captcha", PARAMS)

    assert result.ok and result.provider == vendor
    assert result.delivered == {"+8613800138000": vendor}
    assert result.message_ids and all(result.message_ids)
    assert [(m.phone, m.provider) for m in result.messages] == [("+8613800138000", vendor)]
    (received,) = fake.received(vendor)
    assert received.phones == [facts.wire("+8613800138000")]
    assert received.params == facts.params_on_wire
    assert received.sign_name == app.config.get(f"SMS_{vendor.upper()}_SIGN_NAME", received.sign_name)
    assert received.reply == "ok"
    assert not fake.rejected


@pytest.mark.parametrize("vendor", CORRELATED)
def test_the_correlation_id_is_on_the_wire(make_app, fake, vendor):
    app = make_app([vendor])
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS, out_id="order-1024")
    (received,) = fake.received(vendor)
    assert received.correlation == received.raw[kits()[vendor].correlation_field]
    if FACTS[vendor].request_id_of_its_own:
        assert re.fullmatch(r"[0-9A-Za-z]{1,32}", received.correlation) and received.correlation != result.out_id
    else:
        assert received.correlation == "order-1024" == result.out_id


# -- a business error ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_business_error_keeps_the_vendors_code_and_message(make_app, fake, vendor):
    code, message = kits()[vendor].business_error
    fake.set_mode(vendor, "business_error")
    app = make_app([vendor])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.provider, attempt.code, attempt.message) == (vendor, code, message)
    failed = caught.value.result.failed["+8613800138000"]
    assert (failed.provider, failed.code, failed.message) == (vendor, code, message)
    assert str(caught.value) == f"{vendor}: {code} {message}"
    assert fake.received(vendor)[0].reply == f"business_error:{code}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_outcome_classes_follow_the_vendors_published_codes(vendor):
    cls = provider_class(vendor)
    facts = FACTS[vendor]
    if facts.rejected_code:
        assert cls.classify(facts.rejected_code) == "rejected"
    assert cls.classify(kits()[vendor].business_error[0]) == "failed"  # an account's error: the next one may send
    assert cls.classify("a code nobody published") == "failed"


# -- faults: failover, or not ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_an_http_500_is_not_retried_and_fails_over(make_app, fake, vendor):
    fake.set_mode(vendor, "http_500")
    alone = make_app([vendor])
    with alone.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.code, attempt.outcome) == (FACTS[vendor].http_500_code, "failed")
    assert len(fake.received(vendor)) == 1  # one request only: nothing retried a send that may have gone out

    fake.set_mode(vendor, "http_500")
    app = make_app([vendor, backup(vendor)])
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)
    assert result.delivered == {"+8613800138000": backup(vendor)}
    assert len(fake.received(vendor)) == 2 and len(fake.received(backup(vendor))) == 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_unreadable_reply_ends_unknown_without_failover(make_app, fake, vendor):
    fake.set_mode(vendor, "garbage")
    app = make_app([vendor, backup(vendor)])
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)
    # a 200 that cannot be read: the vendor took the request, so the text may be out
    (attempt,) = result.attempts
    assert (attempt.provider, attempt.code, attempt.outcome) == (vendor, "bad_reply", "unknown")
    assert not result.ok and result.unknown == {"+8613800138000": attempt} and not result.failed
    assert len(fake.received(vendor)) == 1
    assert fake.received(backup(vendor)) == []  # never texted twice by accident


# Baidu's timeout is retried once with its clientToken, and ends sent or failed: test_vendor_documented_rules.py
@pytest.mark.parametrize("vendor", [name for name in VENDORS if not FACTS[name].retries_timeouts])
def test_a_hang_ends_unknown_within_sms_timeout_without_failover(make_app, fake, vendor):
    fake.set_mode(vendor, "hang", seconds=20)
    app = make_app([vendor, backup(vendor)], SMS_TIMEOUT=1)
    started = time.monotonic()
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)  # no SendError: the text may be on its way
    elapsed = time.monotonic() - started
    (attempt,) = result.attempts
    assert (attempt.code, attempt.outcome) == ("timeout", "unknown")
    assert not result.ok and result.unknown == {"+8613800138000": attempt} and not result.failed
    assert elapsed < 3, f"{vendor} took {elapsed:.1f}s with SMS_TIMEOUT=1"
    assert len(fake.received(vendor)) == 1  # not retried
    assert fake.received(backup(vendor)) == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_refused_connection_fails_fast_and_over(make_app, fake, vendor, capfd):
    closed = CLOSED[vendor](unused_port())
    alone = make_app([vendor], **closed)
    started = time.monotonic()
    with alone.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.code, attempt.outcome) == ("connection_error", "failed")
    assert time.monotonic() - started < 2
    # the Huawei SDK logs connection errors to stderr by itself; ours go through logging only
    assert capfd.readouterr().err == ""

    app = make_app([vendor, backup(vendor)], **closed)
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)
    assert result.delivered == {"+8613800138000": backup(vendor)}
    assert fake.received(vendor) == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_wrong_secret_is_the_vendors_auth_error(make_app, fake, vendor):
    facts = FACTS[vendor]
    app = make_app([vendor], **{facts.secret_key: "wrong-secret-value"})
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert attempt.code in facts.auth_errors
    assert [v for v, _ in fake.rejected] == [vendor]


# -- numbers ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_batches_are_chunked_at_the_vendors_documented_maximum(make_app, fake, vendor):
    limit = FACTS[vendor].max_numbers
    assert provider_class(vendor).max_per_request == limit
    phones = [f"+86139{index:08d}" for index in range(limit + 1)]
    app = make_app([vendor])
    with app.app_context():
        result = send_sms(phones, "captcha", PARAMS)
    assert result.ok and len(result.delivered) == limit + 1
    sizes = sorted(len(r.phones) for r in fake.received(vendor))
    assert sizes == [1, limit]


@pytest.mark.parametrize("vendor", VENDORS)
def test_international_numbers_are_written_as_the_vendor_documents(make_app, fake, vendor):
    app = make_app([vendor])
    expected = FACTS[vendor].international
    if expected is None:  # not sent: the number is left for the next provider
        with app.app_context(), pytest.raises(SendError) as caught:
            send_sms(["+1 650-253-0000", "+852 6123 4567"], "captcha", PARAMS)
        failed = caught.value.result.failed
        assert {phone: attempt.code for phone, attempt in failed.items()} == {
            "+16502530000": "unsupported_number",
            "+85261234567": "unsupported_number",
        }
        assert fake.received(vendor) == []
        return
    with app.app_context():
        result = send_sms(["+1 650-253-0000", "+852 6123 4567"], "captcha", PARAMS)
    assert result.delivered == {"+16502530000": vendor, "+85261234567": vendor}
    assert sorted(r.phones for r in fake.received(vendor)) == sorted(expected)


# -- secrets ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_credentials_never_reach_a_log_or_the_output(make_app, fake, vendor, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and urllib3's included
    facts = FACTS[vendor]
    app = make_app([vendor, backup(vendor)])
    with app.app_context():
        send_sms("13800138000", "captcha", PARAMS)
        fake.set_mode(vendor, "business_error")
        send_sms("13800138000", "captcha", PARAMS)  # fails over
    bad = make_app([vendor], **{facts.secret_key: "wrong-secret-value"}, **CLOSED[vendor](unused_port()))
    with bad.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    out, err = capfd.readouterr()
    seen = "\n".join([caplog.text, out, err, str(caught.value), repr(caught.value.result)])
    for record in caplog.records:
        seen += f"\n{record.args!r} {record.__dict__!r}"
    assert seen.count("SMS via") >= 1  # the failures were logged
    leaked = [secret for secret in SECRET_VALUES if secret in seen]
    assert leaked == []


# -- the receipt push, where the vendor documents one ---------------------------------------------------------------
#: each vendor's documented acknowledgement of a push (what the route answers with 200)
ANSWERS = {
    "aliyun": {"code": 0, "msg": "接收成功"},
    "tencent": {"result": 0, "errmsg": "OK"},
    "ronglian": {"statusCode": "000000"},
    "huawei": {"ok": True},  # HTTP 200; no body is documented
    "volcengine": {"ok": True},  # HTTP 200; no body is documented
    "baidu": {"ok": True},  # "响应参数由业务方自定义": the HTTP status decides
    "qiniu": {"ok": True},  # "业务返回 HTTP 状态码 200"
    "yunpian": "SUCCESS",
    "netease": {"code": 200},
}


def receipt_config(vendor: str) -> dict[str, Any]:
    """Baidu's pushes are signed with the account's token: set, the route checks the signature."""
    if vendor == "baidu":
        return {"SMS_BAIDU_CALLBACK_TOKEN": BaiduCredentials().callback_token}
    return {}


@pytest.fixture
def flaky_handler() -> Iterator[list[DeliveryReport]]:
    """A ``delivery_reported`` handler that raises the first time it sees each text, then keeps it."""
    kept: list[DeliveryReport] = []
    raised: set[tuple[str, str]] = set()

    def handle(sender: object, report: DeliveryReport) -> None:
        key = (report.message_id, report.phone)
        if key not in raised:
            raised.add(key)
            raise RuntimeError("the database blinked")
        kept.append(report)

    delivery_reported.connect(handle)
    yield kept
    delivery_reported.disconnect(handle)


def test_every_pushing_vendor_has_its_documented_answer():
    assert sorted(ANSWERS) == PUSHING


@pytest.mark.parametrize("vendor", PUSHING)
def test_the_vendors_documented_push_reaches_the_app_once_survives_a_raising_handler_and_finds_its_out_id(
    vendor, receipt_app, receipts, serve, flaky_handler, caplog
):
    app = receipt_app([vendor], **receipt_config(vendor))
    with app.app_context():
        result = send_sms(PHONE, "captcha", {"code": "123456", "minutes": 5}, out_id=f"order-{vendor}")
    assert result.ok, result.attempts
    served = serve(app)
    pushes = receipts.push_all(vendor, served.receipt_url(vendor))
    assert [push.statuses for push in pushes] == [[500, 200]]  # the handler raised: answered 500, retried
    answer = pushes[0].answers[-1]
    assert (answer.decode() if isinstance(ANSWERS[vendor], str) else json.loads(answer)) == ANSWERS[vendor]
    (report,) = flaky_handler
    assert (report.provider, report.phone, report.status) == (vendor, PHONE, "delivered")
    assert report.out_id == f"order-{vendor}"  # NetEase carries none: found through the sendid the send recorded
    assert report.message_id == result.messages[0].message_id
    assert "a delivery_reported handler raised" in caplog.text
    again = receipts.push_all(vendor, served.receipt_url(vendor))
    assert [push.statuses for push in again] == [[200]] and len(flaky_handler) == 1  # seen: acknowledged, not fired
    with app.app_context():
        assert app.extensions["sms"].receipts.status(f"order-{vendor}") == report
