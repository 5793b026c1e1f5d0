"""The vendors added after the first four, through the same matrix: each through its real SDK (huawei, baidu) or
its documented HTTP API (volcengine, qiniu, yunpian, netease) against the loopback fake, whose signature checks are
pinned to the vendors' published worked examples first.

Each vendor is a row of :data:`VENDORS`; the tests read what differs between vendors from there.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from fake_vendor import unused_port
from fakes import baidu as baidu_fake
from fakes import huawei as huawei_fake
from fakes import netease as netease_fake
from fakes import qiniu as qiniu_fake
from fakes import volcengine as volcengine_fake
from helpers import config_problems
from vendor_config import SECRET_VALUES

from flask_sms import SendError, send_sms
from flask_sms.providers import provider_class

PARAMS = {"code": "483920", "minutes": 5}


@dataclass(frozen=True)
class Vendor:
    name: str
    params_on_wire: Any  # what the fake records for PARAMS
    correlation_field: str | None  # the request field that carries send_sms(out_id=...); None: the vendor has none
    max_numbers: int
    business_error: tuple[str, str]  # a request-level business error (HTTP 200, or the vendor's error status)
    auth_error: str  # the vendor's code for a wrong secret
    rejected_code: str  # a code the vendor publishes as final for the number
    closed: Any  # config overrides that point the vendor at a closed port
    secret_key: str  # the config key of the vendor's secret
    wire: Callable[[str], str] = str  # a mainland number (E.164) as the vendor writes it
    # the requests +1 650-253-0000 and +852 6123 4567 go out in; None: the vendor reaches no number abroad
    international: list[list[str]] | None = None

    def wrong_secret(self) -> dict[str, str]:
        return {self.secret_key: "wrong-secret-value"}


VENDORS = {
    "huawei": Vendor(
        "huawei",
        ["483920", "5"],
        "extend",
        500,
        ("E200027", "匹配网关失败"),
        "E000045",
        "E200041",  # a number twice in one request (E200024, no international capability, fails over)
        lambda port: {"SMS_HUAWEI_ENDPOINT": f"http://127.0.0.1:{port}"},
        "SMS_HUAWEI_APP_SECRET",
        international=[["+16502530000", "+85261234567"]],  # E.164, "+" and country code
    ),
    "volcengine": Vendor(
        "volcengine",
        {"code": "483920", "minutes": "5"},
        "Tag",
        200,
        ("RE:0010", "账号欠费"),
        "SignatureDoesNotMatch",
        "RE:0006",
        lambda port: {"SMS_VOLCENGINE_ENDPOINT": f"127.0.0.1:{port}"},
        "SMS_VOLCENGINE_SECRET_ACCESS_KEY",
        international=[["16502530000", "85261234567"]],  # "国际区号+号码，例如8520000****": no "+"
    ),
    "baidu": Vendor(
        "baidu",
        {"code": "483920", "minutes": "5"},
        "custom",
        200,
        ("6012", "账号已停服"),
        "6002",
        "4503",
        lambda port: {"SMS_BAIDU_ENDPOINT": f"127.0.0.1:{port}"},
        "SMS_BAIDU_SECRET_ACCESS_KEY",
        wire=lambda phone: phone.removeprefix("+86"),
        international=[["+16502530000", "+85261234567"]],
    ),
    "qiniu": Vendor(
        "qiniu",
        {"code": "483920", "minutes": "5"},
        "seq",
        100,
        ("AccountBalanceNotEnough", "您的账户余额不足"),
        "BadToken",
        "",  # the send API has no per-number code: final refusals come in receipts
        lambda port: {"SMS_QINIU_ENDPOINT": f"127.0.0.1:{port}"},
        "SMS_QINIU_SECRET_KEY",
        wire=lambda phone: phone.removeprefix("+86"),
        international=[["+16502530000", "+85261234567"]],  # /v1/message/oversea, E.164
    ),
    "yunpian": Vendor(
        "yunpian",
        "【云片测试】您的验证码是483920，5分钟内有效。",
        None,  # uid only with SMS_YUNPIAN_SEND_UID = True (off on an account until Yunpian enables it)
        1000,
        ("3", "账户余额不足"),
        "-1",
        "17",
        lambda port: {"SMS_YUNPIAN_ENDPOINT": f"127.0.0.1:{port}"},
        "SMS_YUNPIAN_API_KEY",
        wire=lambda phone: phone.removeprefix("+86"),
        international=[["+16502530000"], ["+85261234567"]],  # "国际短信接口每次调用只能发送一条短信"
    ),
    "netease": Vendor(
        "netease",
        ["483920", "5"],
        None,
        100,
        ("418", "通道不可用"),
        "414",
        "416",
        lambda port: {"SMS_NETEASE_ENDPOINT": f"127.0.0.1:{port}"},
        "SMS_NETEASE_APP_SECRET",
        wire=lambda phone: phone.removeprefix("+86"),
        international=[["+1-6502530000", "+852-61234567"]],
    ),
}
NAMES = list(VENDORS)


# -- the fake's signature checks against the vendors' published worked examples ----------------------------------
def test_huawei_fake_reproduces_the_api_signing_guides_worked_example():
    # devg-apisign, "AK/SK签名认证算法详解": a GET with an empty body, signed content-type;host;x-sdk-date
    headers = {
        "Content-Type": "application/json",
        "Host": "service.region.example.com",
        "X-Sdk-Date": "20191115T033655Z",
    }
    path = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
    query = "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0"
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical = huawei_fake.canonical_request("GET", path, query, lowered, b"", sorted(lowered))
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    )
    assert huawei_fake.authorization(
        "GET", path, query, headers, b"", "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
    ) == (
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


VOLC_SK = "WkRZeE1EQmxPVGhsWWpWak5HVmtNbUUxTXpZeU9UVXlOMlE1TmpZeVlqTQ=="


@pytest.mark.parametrize(
    ("method", "host", "query", "body", "x_date", "region", "service", "expected"),
    [
        # docs 6369/67270 (签名过程Demo)
        (
            "GET",
            "iam.volcengineapi.com",
            "Action=ListUsers&Version=2018-01-01&Limit=10&Offset=0",
            b"",
            "20240619T071306Z",
            "cn-beijing",
            "iam",
            "e31c4558bcfe08a286001f59cedbf0791ffd0b2362f10e55ee2627467bcdde93",
        ),
        # docs 6369/67269 (签名方法), GET and POST
        (
            "GET",
            "billing.volcengineapi.com",
            "Action=QueryBalanceAcct&Version=2022-01-01",
            b"",
            "20250329T180937Z",
            "cn-beijing",
            "billing",
            "1eda9e7e6b1728151a8e8791fdaf67cfbd28bd5c80d0fce2eb208746cf483105",
        ),
        (
            "POST",
            "billing.volcengineapi.com",
            "Action=ListBill&Version=2022-01-01",
            b'{"Limit":10,"BillPeriod":"2023-08"}',
            "20250329T180937Z",
            "cn-beijing",
            "billing",
            "5e8480ceea12d0000a23c054151c50dd02c1a7dec835004057d19f13d53a7658",
        ),
    ],
)
def test_volcengine_fake_reproduces_the_published_signature_examples(
    method, host, query, body, x_date, region, service, expected
):
    headers = {"host": host, "x-date": x_date}
    canonical = volcengine_fake.canonical_request(method, "/", query, headers, body, ["host", "x-date"])
    assert volcengine_fake.signature(VOLC_SK, x_date, region, service, canonical) == expected


def test_volcengine_provider_signature_matches_the_fakes_independent_check():
    """The provider's signer (a different code path) against the published scheme, field by field."""
    from flask_sms.providers.volcengine import sign

    body = b'{"SmsAccount":"1"}'
    headers = sign("AK", "SK", "cn-north-1", "sms.volcengineapi.com", body, "20260102T030405Z")
    lowered = {k.lower(): v for k, v in headers.items()}
    signed = ["content-type", "host", "x-content-sha256", "x-date"]
    canonical = volcengine_fake.canonical_request(
        "POST", "/", "Version=2020-01-01&Action=SendSms", lowered, body, signed
    )
    expected = volcengine_fake.signature("SK", "20260102T030405Z", "cn-north-1", "volcSMS", canonical)
    assert headers["Authorization"] == (
        "HMAC-SHA256 Credential=AK/20260102/cn-north-1/volcSMS/request, "
        f"SignedHeaders={';'.join(signed)}, Signature={expected}"
    )


# Baidu, "生成认证字符串": BOS UploadPart, AK 32 x "a", SK 32 x "b"
BAIDU_HEADERS = {
    "Host": "bj.bcebos.com",
    "Date": "Mon, 27 Apr 2015 16:23:49 +0800",
    "Content-Type": "text/plain",
    "Content-Length": "8",
    "Content-Md5": "NFzcPqhviddjRNnSOGo4rw==",
    "x-bce-date": "2015-04-27T08:23:49Z",
}


@pytest.mark.parametrize(
    ("signed", "expected"),
    [
        (None, "/1800//d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e"),
        (
            ["host", "x-bce-date"],
            "/1800/host;x-bce-date/1b8de5a23a56eef657c69f94c621e7acd227d049a4ba577f537d5e5cebf0cf32",
        ),
    ],
)
def test_baidu_fake_reproduces_the_published_auth_string_example(signed, expected):
    auth = baidu_fake.authorization(
        "a" * 32,
        "b" * 32,
        "PUT",
        "/v1/test/myfolder/readme.txt",
        "partNumber=9&uploadId=a44cc9bab11cbd156984767aad637851",
        BAIDU_HEADERS,
        "2015-04-27T08:23:49Z",
        signed=signed,
    )
    assert auth == f"bce-auth-v1/{'a' * 32}/2015-04-27T08:23:49Z{expected}"
    # the doc's canonical query: encoded, then sorted as strings ("text10" before "text1")
    canonical = baidu_fake.canonical_request("GET", "/", "text=&text1=%E6%B5%8B%E8%AF%95&text10=test", {}, None)
    assert canonical.split("\n")[2] == "text10=test&text1=%E6%B5%8B%E8%AF%95&text="


def test_qiniu_fake_reproduces_the_access_token_docs_example():
    # 管理凭证 (kodo/1201): POST /move/<src>/<dst> on rs.qiniu.com, no Content-Type, no body
    path = "/move/bmV3ZG9jczpmaW5kX21hbi50eHQ=/bmV3ZG9jczpmaW5kLm1hbi50eHQ="
    signing = qiniu_fake.signing_string("POST", path, "", "rs.qiniu.com", {}, b"")
    assert signing == f"POST {path}\nHost: rs.qiniu.com\n\n".encode()
    assert qiniu_fake.token("MY_ACCESS_KEY", "MY_SECRET_KEY", signing) == "MY_ACCESS_KEY:1uLvuZM6l6oCzZFqkJ6oI4oFMVQ="
    # a JSON body is signed; an octet-stream body is not
    json_body = qiniu_fake.signing_string("POST", "/v1/message", "", "h", {"Content-Type": "application/json"}, b"{}")
    octets = qiniu_fake.signing_string(
        "POST", "/v1/message", "", "h", {"Content-Type": "application/octet-stream"}, b"{}"
    )
    assert json_body.endswith(b"\n\n{}") and octets.endswith(b"\n\n")


def test_netease_checksum_matches_openssl_and_the_providers_helper():
    """NetEase publishes the formula but no worked value: openssl is the independent reference."""
    from flask_sms.providers.netease import checksum

    secret, nonce, cur_time = "368d4609c9d9", "baoluo", "1478151200"
    out = (
        subprocess.run(
            ["openssl", "dgst", "-sha1"], input=f"{secret}{nonce}{cur_time}".encode(), capture_output=True, check=True
        )
        .stdout.decode()
        .split()[-1]
    )
    assert netease_fake.checksum(secret, nonce, cur_time) == out == checksum(secret, nonce, cur_time)
    assert out == hashlib.sha1(f"{secret}{nonce}{cur_time}".encode()).hexdigest()


def test_netease_fake_refuses_a_replayed_nonce(fake):
    import requests

    creds = fake.plugin("netease").credentials
    now = str(int(time.time()))
    headers = {
        "AppKey": creds.app_key,
        "Nonce": "n-1",
        "CurTime": now,
        "CheckSum": netease_fake.checksum(creds.app_secret, "n-1", now),
    }
    form = {"templateid": "19000001", "mobiles": '["13800138000"]', "params": '["1"]'}
    url = f"{fake.url}/sms/sendtemplate.action"
    assert requests.post(url, data=form, headers=headers, timeout=5).json()["code"] == 200
    assert requests.post(url, data=form, headers=headers, timeout=5).json() == {"code": 414, "desc": "nonce used"}


# -- the matrix ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", NAMES)
def test_success_reaches_vendor_in_its_own_format(make_app, fake, vendor):
    row = VENDORS[vendor]
    app = make_app([vendor])
    with app.app_context():
        result = send_sms("+86 138-0013-8000", "captcha", PARAMS, out_id="order-1024")

    assert result.ok and result.provider == vendor
    assert result.delivered == {"+8613800138000": vendor}
    assert result.message_ids and all(result.message_ids)
    assert [(m.phone, m.provider) for m in result.messages] == [("+8613800138000", vendor)]
    (received,) = fake.received(vendor)
    assert received.phones == [row.wire("+8613800138000")]
    assert received.params == row.params_on_wire
    if row.correlation_field is not None:
        assert received.raw[row.correlation_field] == "order-1024"
    assert not fake.rejected


@pytest.mark.parametrize("vendor", NAMES)
def test_business_error_in_http_200_keeps_vendor_code_and_message(make_app, fake, vendor):
    code, message = VENDORS[vendor].business_error
    fake.set_mode(vendor, "business_error", code=code, message=message)
    app = make_app([vendor])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    failed = caught.value.result.failed["+8613800138000"]
    assert (failed.provider, failed.code, failed.message) == (vendor, code, message)
    assert fake.received(vendor)[0].reply == f"business_error:{code}"


def test_huawei_request_level_errors_come_as_http_4xx_and_keep_the_vendor_code(make_app, fake):
    fake.set_mode("huawei", "business_error", code="E000623", message="短信发送量达到限额")
    app = make_app(["huawei"])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.code, attempt.message) == ("E000623", "短信发送量达到限额")


def test_huawei_refuses_single_numbers_inside_an_accepted_request(make_app, fake):
    fake.reject_number("huawei", "+8613900139000", "E200041", "")
    app = make_app(["huawei"])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)
    assert not result.ok
    assert result.delivered == {"+8613800138000": "huawei"}
    assert (result.failed["+8613900139000"].code, result.failed["+8613900139000"].message) == (
        "E200041",
        "同一短信内容接收号码重复",
    )


@pytest.mark.parametrize("vendor", NAMES)
def test_http_500_fails_and_is_not_retried(make_app, fake, vendor):
    fake.set_mode(vendor, "http_500")
    app = make_app([vendor])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert attempt.code == "http_500"
    assert len(fake.received(vendor)) == 1


def test_volcengine_gateway_errors_keep_their_code_at_any_http_status(make_app, fake):
    fake.set_mode("volcengine", "business_error", code="InternalError", message="Service has some internal Error.")
    app = make_app(["volcengine"])
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert (attempt.code, attempt.message) == ("InternalError", "Service has some internal Error.")
    assert len(fake.received("volcengine")) == 1


# Baidu's timeout is retried once with its clientToken, and ends sent or failed: test_vendor_truth.py
@pytest.mark.parametrize("vendor", [name for name in NAMES if name != "baidu"])
def test_timeout_is_bounded_not_retried_and_unknown(make_app, fake, vendor):
    fake.set_mode(vendor, "hang", seconds=20)
    app = make_app([vendor], SMS_TIMEOUT=1)
    started = time.monotonic()
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)  # no SendError: the text may be on its way
    elapsed = time.monotonic() - started
    (attempt,) = result.attempts
    assert (attempt.code, attempt.outcome) == ("timeout", "unknown")
    assert not result.ok and result.unknown == {"+8613800138000": attempt} and not result.failed
    assert elapsed < 3, f"{vendor} took {elapsed:.1f}s with SMS_TIMEOUT=1"
    assert len(fake.received(vendor)) == 1


@pytest.mark.parametrize("vendor", NAMES)
def test_garbage_reply_is_unknown(make_app, fake, vendor):
    fake.set_mode(vendor, "garbage")
    app = make_app([vendor])
    with app.app_context():
        result = send_sms("13800138000", "captcha", PARAMS)
    # a 200 that cannot be read: the vendor took the request, so the text may be out
    (attempt,) = result.attempts
    assert (attempt.code, attempt.outcome) == ("bad_reply", "unknown")
    assert result.unknown == {"+8613800138000": attempt}
    assert len(fake.received(vendor)) == 1


@pytest.mark.parametrize("vendor", NAMES)
def test_connection_refused_fails_fast(make_app, fake, vendor, capfd):
    app = make_app([vendor], **VENDORS[vendor].closed(unused_port()))
    started = time.monotonic()
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert attempt.code == "connection_error"
    assert time.monotonic() - started < 2
    # the Huawei SDK logs connection errors to stderr by itself; ours go through logging only
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("vendor", NAMES)
def test_wrong_secret_is_the_vendors_auth_error(make_app, fake, vendor):
    row = VENDORS[vendor]
    app = make_app([vendor], **row.wrong_secret())
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert attempt.code == row.auth_error
    assert [v for v, _ in fake.rejected] == [vendor]


@pytest.mark.parametrize("vendor", NAMES)
def test_batches_are_chunked_at_the_vendors_documented_maximum(make_app, fake, vendor):
    limit = VENDORS[vendor].max_numbers
    assert provider_class(vendor).max_per_request == limit
    phones = [f"+86139{index:08d}" for index in range(limit + 1)]
    app = make_app([vendor])
    with app.app_context():
        result = send_sms(phones, "captcha", PARAMS)
    assert result.ok and len(result.delivered) == limit + 1
    sizes = sorted(len(r.phones) for r in fake.received(vendor))
    assert sizes == [1, limit]


@pytest.mark.parametrize("vendor", NAMES)
def test_international_numbers_are_written_as_the_vendor_documents(make_app, fake, vendor):
    app = make_app([vendor])
    expected = VENDORS[vendor].international
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


@pytest.mark.parametrize("vendor", NAMES)
def test_outcome_classes_follow_the_vendors_published_codes(vendor):
    cls = provider_class(vendor)
    row = VENDORS[vendor]
    if row.rejected_code:
        assert cls.classify(row.rejected_code) == "rejected"
    assert cls.classify(row.business_error[0]) == "failed"
    assert cls.classify("a code nobody published") == "failed"


@pytest.mark.parametrize("vendor", NAMES)
def test_credentials_never_reach_a_log_or_the_output(make_app, fake, vendor, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and urllib3's included
    row = VENDORS[vendor]
    app = make_app([vendor, "aliyun"])
    with app.app_context():
        send_sms("13800138000", "captcha", PARAMS)
        fake.set_mode(vendor, "business_error")
        send_sms("13800138000", "captcha", PARAMS)  # fails over to aliyun
    bad = make_app([vendor], **row.wrong_secret(), **row.closed(unused_port()))
    with bad.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    out, err = capfd.readouterr()
    seen = "\n".join([caplog.text, out, err, str(caught.value), repr(caught.value.result)])
    for record in caplog.records:
        seen += f"\n{record.args!r} {record.__dict__!r}"
    assert seen.count("SMS via") >= 1  # the failures were logged
    leaked = [secret for secret in SECRET_VALUES if secret in seen]
    assert leaked == []


# -- vendor by vendor ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vendor", "code", "message"),
    [("baidu", "4641", "命中全局黑名单"), ("yunpian", "17", "24小时内同一手机号发送次数超过限制")],
)
def test_per_number_codes_in_an_accepted_batch_refuse_only_that_number(make_app, fake, vendor, code, message):
    fake.reject_number(vendor, "13900139000", code, message)
    app = make_app([vendor])
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)
    assert result.delivered == {"+8613800138000": vendor}
    refused = result.failed["+8613900139000"]
    assert (refused.code, refused.message) == (code, message)
    assert provider_class(vendor).classify(refused.code) == "rejected"
    assert len(fake.received(vendor)) == 1


def test_baidu_sdk_debug_log_never_shows_the_code_or_the_signing_key(make_app, fake, caplog):
    """bce-python-sdk logs the whole request body and its derived signing key at DEBUG."""
    caplog.set_level(logging.DEBUG)
    app = make_app(["baidu"])
    with app.app_context():
        send_sms("13800138000", "captcha", PARAMS)
        fake.set_mode("baidu", "http_500")
        with pytest.raises(SendError):
            send_sms("13800138000", "captcha", PARAMS)
    seen = caplog.text + "".join(f"{r.args!r}" for r in caplog.records)
    assert "483920" not in seen
    assert "sign_key" not in seen and "bce-auth-v1" not in seen
    assert [r for r in caplog.records if r.name.startswith("baidubce") and r.levelno <= logging.DEBUG] == []


def test_yunpian_sends_mainland_numbers_in_one_batch_and_each_number_abroad_alone(make_app, fake):
    app = make_app(["yunpian"], SMS_YUNPIAN_SEND_UID=True)
    phones = ["13800138000", "13900139000", "+1 650-253-0000", "+852 6123 4567"]
    with app.app_context():
        result = send_sms(phones, "captcha", PARAMS, out_id="order-7")
    assert result.ok and len(result.delivered) == 4
    sent = sorted((r.raw["mobile"], r.raw.get("uid"), r.params) for r in fake.received("yunpian"))
    abroad = "【Yunpian】Your verification code is 483920, valid for 5 minutes."  # the international template
    assert sent == [
        ("+16502530000", "order-7", abroad),
        ("+85261234567", "order-7", abroad),
        ("13800138000,13900139000", "order-7", "【云片测试】您的验证码是483920，5分钟内有效。"),
    ]


def test_a_content_template_missing_a_value_sends_nothing(make_app, fake):
    from flask_sms import MissingParameter

    app = make_app(["yunpian"])
    with app.app_context(), pytest.raises(MissingParameter):
        send_sms("13800138000", "captcha", {"code": "483920"})
    assert fake.received("yunpian") == [] and fake.rejected == []


@pytest.mark.parametrize(("vendor", "field"), [("baidu", "signatureId"), ("qiniu", "signature_id")])
def test_a_templates_sign_is_the_purposes_own_signature_id(make_app, fake, vendor, field):
    from vendor_config import TEMPLATES

    templates = {**TEMPLATES[vendor], "notice": {**TEMPLATES[vendor]["notice"], "sign": "sms-sign-Mall0002"}}
    app = make_app([vendor], **{f"SMS_{vendor.upper()}_TEMPLATES": templates})
    with app.app_context():
        send_sms("13800138000", "notice", {"name": "张三"})
        send_sms("13800138000", "captcha", PARAMS)
    notice, captcha = fake.received(vendor)
    assert notice.raw[field] == "sms-sign-Mall0002"
    assert captcha.raw.get(field) == app.config.get(f"SMS_{vendor.upper()}_SIGNATURE_ID")


# -- sign name per purpose -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vendor", "field"),
    [("aliyun", "SignName"), ("tencent", "SignName"), ("huawei", "signature"), ("volcengine", "Sign")],
)
def test_a_templates_sign_overrides_the_providers_sign_name_for_that_purpose(make_app, fake, vendor, field):
    from vendor_config import TEMPLATES

    templates = dict(TEMPLATES[vendor])
    own = templates["notice"] if isinstance(templates["notice"], dict) else {"id": templates["notice"]}
    templates["notice"] = {**own, "sign": "某某商城"}
    app = make_app([vendor], **{f"SMS_{vendor.upper()}_TEMPLATES": templates})
    with app.app_context():
        send_sms("13800138000", "notice", {"name": "张三"})
        send_sms("13800138000", "captcha", PARAMS)
    notice, captcha = fake.received(vendor)
    assert notice.raw[field] == "某某商城"
    assert captcha.raw.get(field, "") == app.config.get(f"SMS_{vendor.upper()}_SIGN_NAME", "")
    assert captcha.raw.get(field, "") != "某某商城"


def test_a_sign_on_a_vendor_without_a_sign_per_request_is_a_config_problem():
    from flask import Flask

    from flask_sms import SmsExtension

    def problems(templates: Any) -> list[str]:
        app = Flask("sign_check")
        app.config.update(
            SECRET_KEY="test-secret-key-for-flask-sms",
            SMS_PROVIDERS=["ronglian"],
            SMS_RONGLIAN_ACCOUNT_SID="sid0",
            SMS_RONGLIAN_AUTH_TOKEN="token0",
            SMS_RONGLIAN_APP_ID="app0",
            SMS_RONGLIAN_TEMPLATES=templates,
        )
        return config_problems(SmsExtension(app), app)

    assert problems({"captcha": {"id": "1", "sign": "某某商城"}, "notice": {"id": "2", "sign": ""}}) == [
        "SMS_RONGLIAN_TEMPLATES['notice']['sign'] must be a non-empty sign name"
    ]
    assert problems({"captcha": {"id": "1", "sign": "某某商城"}}) == [
        "SMS_RONGLIAN_TEMPLATES['captcha'] has a 'sign', but ronglian takes no sign name per request"
    ]


# -- through the public route ------------------------------------------------------------------------------------
def _fail(fake: Any, vendor: str, fault: str) -> dict[str, Any]:
    if fault == "connection_refused":
        return VENDORS[vendor].closed(unused_port())
    if fault == "hang":
        fake.set_mode(vendor, "hang", seconds=4)
    else:
        fake.set_mode(vendor, fault)
    return {}


@pytest.mark.parametrize(("first", "second"), [("huawei", "volcengine"), ("volcengine", "huawei")])
@pytest.mark.parametrize("fault", ["http_500", "hang", "garbage", "connection_refused", "business_error"])
def test_a_fault_on_one_new_vendor_fails_over_to_the_other_through_the_route(make_app, fake, first, second, fault):
    # a hang or an unreadable 200 may have sent the text: those fail over only when asked to
    maybe_sent = fault in ("hang", "garbage")
    app = make_app([first, second], SMS_TIMEOUT=1, SMS_FAILOVER_ON_TIMEOUT=maybe_sent, **_fail(fake, first, fault))
    client = app.test_client()
    started = time.monotonic()
    response = client.post("/sms_captcha/", json={"phone": "13800138000"})
    assert response.status_code == 200, response.get_json()
    assert time.monotonic() - started < 2.5
    (text,) = fake.received(second)
    assert text.phones == ["+8613800138000"]
    assert len(fake.received(first)) == (0 if fault == "connection_refused" else 1)
    code = text.params[0] if isinstance(text.params, list) else text.params["code"]
    verified = client.post("/sms_captcha/verify", json={"phone": "13800138000", "code": code}).get_json()
    assert verified["ok"] is True


def test_both_new_vendors_failing_answer_502_without_their_words(make_app, fake):
    fake.set_mode("huawei", "business_error")
    fake.set_mode("volcengine", "business_error")
    app = make_app(["huawei", "volcengine"], SMS_TIMEOUT=1)
    response = app.test_client().post("/sms_captcha/", json={"phone": "13800138000"})
    assert response.status_code == 502 and response.get_json()["error"] == "send_failed"
    raw = response.get_data(as_text=True)
    words = ["E000623", "短信发送量", "RE:0010", "欠费", "huawei", "volcengine"]
    assert [word for word in words if word in raw] == []
