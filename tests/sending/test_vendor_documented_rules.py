"""Issue 21, the send path checked against the vendors' own docs rather than our reading of them.

Each finding has its test here, through the real SDKs (or the documented HTTP APIs) against the
loopback fakes, and each fails on the code before the fix:

* numbers abroad fail over: Huawei, Volcengine, Yunpian and Qiniu keep international templates of
  their own, and their account-level codes for a region (E200024/E200025/E200026, RE:0011, 20/23/28)
  are ``failed``, not ``rejected``;
* Ronglian's ``reqId`` is unique per request (the fake refuses a repeat with 160054);
* Yunpian's ``uid`` only when asked; Baidu's ``clientToken`` on every send, a timeout retried once with it;
* a vendor's refusal of the text's values is the outcome ``content``: it fails over but never opens
  the vendor's circuit breaker.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from fakes import huawei as huawei_fake
from fakes import qiniu as qiniu_fake
from fakes import volcengine as volcengine_fake
from fakes.ronglian import ronglian_authorization, ronglian_sig
from helpers import FakeClock
from vendor_config import INTL_TEMPLATES, RONGLIAN, TEMPLATES

from flask_sms import PhoneRejected, SendError, provider_down, send_sms
from flask_sms.providers import provider_class

PARAMS = {"code": "483920", "minutes": 5}
ABROAD = "+85261234567"


def _send(app: Any, phones: Any, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    with app.app_context():
        return send_sms(phones, kwargs.pop("purpose", "captcha"), params or PARAMS, **kwargs)


# -- 1. numbers abroad -----------------------------------------------------------------------------------------
# vendor -> (its code for a number abroad sent with a mainland template, the template id on the wire abroad)
ABROAD_CODES = {
    "huawei": ("E200024", huawei_fake.INTL_TEMPLATE_IDS[0]),
    "volcengine": ("RE:0011", volcengine_fake.INTL_TEMPLATE_IDS[0]),
    "yunpian": ("23", None),  # Yunpian takes the text: the international one
    "qiniu": ("NotFoundError", qiniu_fake.INTL_TEMPLATE_IDS[0]),
}
SEPARATE = list(ABROAD_CODES)


@pytest.mark.parametrize("vendor", SEPARATE)
def test_without_international_templates_a_number_abroad_goes_to_the_next_provider(make_app, fake, vendor):
    """Before: Huawei, Volcengine and Yunpian sent it with the mainland template (and got a code classed
    rejected, so the next provider was never tried)."""
    app = make_app([vendor, "tencent"], **{f"SMS_{vendor.upper()}_INTL_TEMPLATES": None})
    result = _send(app, ["13800138000", ABROAD])
    assert result.ok
    assert result.delivered == {"+8613800138000": vendor, ABROAD: "tencent"}
    assert [len(r.phones) for r in fake.received(vendor)] == [1]  # it never saw the number abroad
    (abroad,) = fake.received("tencent")
    assert abroad.template == INTL_TEMPLATES["tencent"]["captcha"]["id"]


@pytest.mark.parametrize("vendor", SEPARATE)
def test_a_mainland_template_abroad_is_the_accounts_problem_and_fails_over(make_app, fake, vendor):
    """The vendor's own answer to a number abroad with a mainland template (an account's international
    capability or a template's country list, not the number) moves the number on."""
    mainland = TEMPLATES[vendor]
    app = make_app([vendor, "tencent"], **{f"SMS_{vendor.upper()}_INTL_TEMPLATES": mainland})
    result = _send(app, ABROAD)
    refused, sent = result.attempts
    assert (refused.provider, refused.code, refused.outcome) == (vendor, ABROAD_CODES[vendor][0], "failed")
    assert sent.provider == "tencent" and result.delivered == {ABROAD: "tencent"}


@pytest.mark.parametrize("vendor", SEPARATE)
def test_a_number_abroad_goes_out_with_the_international_template(make_app, fake, vendor):
    app = make_app([vendor])
    result = _send(app, ABROAD)
    assert result.ok and result.provider == vendor
    (received,) = fake.received(vendor)
    expected = ABROAD_CODES[vendor][1]
    if expected is not None:
        assert received.template == expected
    else:
        assert received.params == "【Yunpian】Your verification code is 483920, valid for 5 minutes."


def test_qiniu_texts_numbers_abroad_through_its_oversea_api(make_app, fake):
    """Before: Qiniu could not reach a number abroad at all (``unsupported_number``)."""
    app = make_app(["qiniu"], SMS_QINIU_SENDER_ID="FlaskSMS")
    result = _send(app, ["13800138000", ABROAD, "+1 650-253-0000"])
    assert result.ok
    by_kind = {tuple(r.phones): r.raw for r in fake.received("qiniu")}
    assert set(by_kind) == {("13800138000",), (ABROAD, "+16502530000")}
    oversea = by_kind[(ABROAD, "+16502530000")]
    assert oversea["sender_id"] == "FlaskSMS" and "seq" not in oversea  # /v1/message/oversea takes no seq
    assert "sender_id" not in by_kind[("13800138000",)]
    assert all(message.message_id for message in result.messages)


# the vendors' published codes, as the docs describe them (docs/vendors/<vendor>.md cites each)
RECLASSIFIED = [
    ("huawei", "E200024", "failed"),  # 没有国际短信能力: 未开通国际短信能力
    ("huawei", "E200025", "failed"),  # 国际短信接收方通道校验失败: 确认发送范围
    ("huawei", "E200026", "failed"),  # 国际短信接收方匹配通道失败
    ("volcengine", "RE:0011", "failed"),  # 不支持对应地区下发: 申请对应地区的短信下发
    ("yunpian", "20", "failed"),  # 不支持的国家地区
    ("yunpian", "23", "failed"),  # 发往模板支持的国家列表之外的地区
    ("yunpian", "28", "failed"),  # 不支持的运营商
    ("tencent", "UnsupportedOperation.UnsupportedRegion", "failed"),  # 不支持该地区短信下发
    ("ronglian", "160061", "failed"),  # 暂不支持的国家码号
    ("aliyun", "isv.BLACK_KEY_CONTROL_LIMIT", "content"),  # 模板变量中存在黑名单关键字
    ("aliyun", "isv.PARAM_NOT_SUPPORT_URL", "content"),
    ("aliyun", "isv.INVALID_JSON_PARAM", "content"),
    ("tencent", "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", "content"),
    ("tencent", "FailedOperation.ContainSensitiveWord", "content"),
    ("huawei", "E200028", "content"),  # 模板变量校验失败
    ("baidu", "4608", "content"),  # 模板参数不合法
    ("yunpian", "4", "content"),  # 关键词屏蔽
    ("ihuyi", "407", "content"),  # 短信内容含有敏感字符
]


@pytest.mark.parametrize(("vendor", "code", "outcome"), RECLASSIFIED)
def test_codes_are_classed_as_the_vendors_describe_them(vendor, code, outcome):
    assert provider_class(vendor).classify(code) == outcome


# -- 2. Ronglian reqId -----------------------------------------------------------------------------------------
def test_every_ronglian_request_has_its_own_req_id_also_for_a_reused_out_id(make_app, fake):
    """Before: every request of a send (each 200-number chunk, each number abroad) and every send with the
    same out_id carried reqId = out_id; the fake's 160054 made all but the first "maybe sent"."""
    app = make_app(["ronglian"])
    phones = [f"136{n:08d}" for n in range(201)] + ["+1 650-253-0000", ABROAD]
    first = _send(app, phones, out_id="order-7")
    again = _send(app, "13800138000", out_id="order-7")  # the caller's stable id, reused the same day
    assert first.ok and again.ok
    requests = fake.received("ronglian")
    assert len(requests) == 5  # 200 + 1 mainland, 2 abroad one per request, and the second send
    req_ids = [r.raw["reqId"] for r in requests]
    assert len(set(req_ids)) == 5 and all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in req_ids)
    assert all(r.reply == "ok" for r in requests)
    # the out_id stays the caller's in the result
    assert {m.out_id for m in first.messages} == {"order-7"} and len(first.messages) == 203


def test_the_fake_refuses_a_req_id_used_before_with_160054(fake):
    import requests as http

    sid, token, app_id = RONGLIAN.sid, RONGLIAN.token, RONGLIAN.app_id
    stamp = time.strftime("%Y%m%d%H%M%S")
    url = f"{fake.url}/2013-12-26/Accounts/{sid}/SMS/TemplateSMS?sig={ronglian_sig(sid, token, stamp)}"
    import base64

    header = base64.b64encode(f"{sid}:{stamp}".encode()).decode()
    assert ronglian_authorization(header) == (sid, stamp)
    body = {"to": "13800138000", "appId": app_id, "templateId": "1", "datas": ["1", "5"], "reqId": "abc123"}
    answers = [
        http.post(url, json=body, headers={"Authorization": header}, timeout=5).json()["statusCode"] for _ in range(2)
    ]
    assert answers == ["000000", "160054"]


def test_a_ronglian_receipt_finds_its_out_id_through_the_message_id(make_app, fake):
    from fake_receipts import FakeReceipts

    from flask_sms import delivery_reported

    token = "receipt-token-0123456789abcdef"
    receipts = FakeReceipts(fake).install()
    heard: list[Any] = []
    try:
        app = make_app(["ronglian"], SMS_RECEIPT_TOKEN=token)
        result = _send(app, "13800138000", out_id="order-9")
        (item,) = receipts.items("ronglian")
        assert item["Request"]["reqId"] != "order-9"  # the push echoes the request's reqId
        with delivery_reported.connected_to(lambda sender, report: heard.append(report)):
            answer = app.test_client().post(f"/sms_receipts/ronglian?token={token}", json=item)
    finally:
        receipts.uninstall()
    assert answer.status_code == 200
    (report,) = heard
    assert (report.message_id, report.out_id) == (result.messages[0].message_id, "order-9")


# -- 4. Yunpian uid, Baidu clientToken ---------------------------------------------------------------------------
def test_yunpian_sends_uid_only_when_asked(make_app, fake):
    """Before: uid went on every request, although Yunpian keeps it off on an account until asked."""
    _send(make_app(["yunpian"]), "13800138000", out_id="order-1")
    _send(make_app(["yunpian"], SMS_YUNPIAN_SEND_UID=True), "13900139000", out_id="order-2")
    default, asked = fake.received("yunpian")
    assert "uid" not in default.raw
    assert asked.raw["uid"] == "order-2"


def test_every_baidu_send_carries_a_client_token_that_prefixes_its_message_ids(make_app, fake):
    app = make_app(["baidu"])
    first = _send(app, ["13800138000", "13900139000"])
    second = _send(app, "13700137000")
    tokens = [r.raw["_clientToken"] for r in fake.received("baidu")]
    assert len(set(tokens)) == 2 and all(0 < len(t) <= 64 and t.isascii() for t in tokens)
    assert all(m.message_id.startswith(tokens[0]) for m in first.messages)
    assert second.messages[0].message_id.startswith(tokens[1])


def test_a_baidu_read_timeout_is_retried_once_with_its_token_and_texts_once(make_app, fake):
    """Before: a read timeout ended unknown (no failover, no certainty). With the token Baidu answers the
    retry from the first request: the number is sent, and the fake sent one text."""
    fake.set_mode("baidu", "hang", seconds=3, times=1)
    app = make_app(["baidu", "tencent"], SMS_TIMEOUT=0.5, SMS_CIRCUIT_BREAKER=None)
    result = _send(app, "13800138000")
    (attempt,) = result.attempts
    assert (attempt.provider, attempt.outcome) == ("baidu", "sent") and result.ok and not result.unknown
    assert len(fake.received("baidu")) == 1  # one text
    (replay,) = fake.plugin("baidu").replays  # the retry, answered from the token
    assert replay.raw["_clientToken"] == fake.received("baidu")[0].raw["_clientToken"]
    assert fake.received("tencent") == []
    assert result.messages[0].message_id.startswith(replay.raw["_clientToken"])


def test_a_baidu_retry_that_also_gets_no_answer_stays_unknown_and_is_not_retried_again(make_app, fake):
    fake.set_mode("baidu", "hang", seconds=3)  # the repeat hangs too
    app = make_app(["baidu", "tencent"], SMS_TIMEOUT=0.5, SMS_CIRCUIT_BREAKER=None)
    result = _send(app, "13800138000")
    (attempt,) = result.attempts
    assert (attempt.code, attempt.outcome) == ("timeout", "unknown") and result.unknown
    assert fake.received("tencent") == []
    assert len(fake.received("baidu")) == 1 and len(fake.plugin("baidu").replays) == 1  # two requests, one text


def test_the_baidu_fake_refuses_a_token_reused_for_other_parameters(make_app, fake):
    import requests as http
    from fakes.baidu import authorization

    creds = fake.plugin("baidu").credentials
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    answers = []
    for mobile in ("13800138000", "13900139000"):
        body = json.dumps(
            {"signatureId": creds.signature_id, "template": "sms-tmpl-x", "mobile": mobile, "contentVar": {}}
        ).encode()
        headers = {"Host": fake.host, "Content-Type": "application/json", "Content-Length": str(len(body))}
        headers["x-bce-date"] = stamp
        query = "clientToken=token-1"
        headers["Authorization"] = authorization(
            creds.access_key_id, creds.secret_access_key, "POST", "/api/v3/sendSms", query, headers, stamp
        )
        answer = http.post(f"{fake.url}/api/v3/sendSms?{query}", data=body, headers=headers, timeout=5)
        answers.append((answer.status_code, answer.json().get("code")))
    assert answers == [(200, "1000"), (403, "IdempotentParameterMismatch")]


# -- 5. content errors are not vendor failures ---------------------------------------------------------------------
def test_values_the_vendor_refuses_fail_over_but_never_open_its_breaker(make_app, fake):
    """The attack (issue 21, finding 6): a template value with a URL made Aliyun refuse the text; it failed
    over to Tencent, which sent it. After 5 such sends Aliyun's breaker was open for every send."""
    downs: list[str] = []
    breaker = {"failures": 3, "window": 60, "cooldown": 30}
    app = make_app(["aliyun", "tencent"], clock=FakeClock(), SMS_CIRCUIT_BREAKER=breaker)
    with provider_down.connected_to(lambda sender, provider, **_: downs.append(provider)):
        for n in range(6):
            result = _send(app, f"1380013800{n}", {"name": "see http://evil.example.com"}, purpose="notice")
            refused, sent = result.attempts
            assert (refused.provider, refused.code, refused.outcome) == (
                "aliyun",
                "isv.PARAM_NOT_SUPPORT_URL",
                "content",
            )
            assert sent.provider == "tencent" and result.ok
        honest = _send(app, "13900139000", {"name": "王先生"}, purpose="notice")
    assert downs == []
    assert [a.provider for a in honest.attempts] == ["aliyun"] and honest.ok  # Aliyun still takes traffic


def test_a_content_refusal_everywhere_raises_send_error_not_phone_rejected(make_app, fake):
    fake.set_mode("tencent", "business_error", code="InvalidParameterValue.ProhibitedUseUrlInTemplateParameter")
    app = make_app(["aliyun", "tencent"])
    with pytest.raises(SendError) as caught:
        _send(app, ["13800138000", "13900139000"], {"name": "www.evil.example.com"}, purpose="notice")
    assert not isinstance(caught.value, PhoneRejected)
    outcomes = [(a.provider, a.outcome) for a in caught.value.attempts]
    assert outcomes == [("aliyun", "content"), ("tencent", "content")]  # a batch's content code stays content


def test_through_the_captcha_route_the_values_are_ours(make_app, fake):
    """The route fills the template with the code it generates and the minutes it keeps it: a client's
    fields never reach a template value, so a vendor cannot refuse them as content."""
    app = make_app(["aliyun"], SMS_CIRCUIT_BREAKER={"failures": 1, "window": 60, "cooldown": 30})
    hostile = {"phone": "13800138000", "code": "http://evil.example.com", "name": "www.x.com", "minutes": "a.cn"}
    answer = app.test_client().post("/sms_captcha/", json=hostile)
    assert answer.status_code == 200, answer.get_json()
    (received,) = fake.received("aliyun")
    assert set(received.params) == {"code", "minutes"}
    assert re.fullmatch(r"\d{4,8}", received.params["code"]) and received.params["minutes"].isdigit()
    assert received.reply == "ok"
