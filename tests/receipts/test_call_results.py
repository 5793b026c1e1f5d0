"""Call results as delivery reports: each vendor's documented push, read into ``DeliveryReport(channel="voice")``.

The bodies are the vendors' published examples (Aliyun VoiceReport, Tencent's
voicecode_callback and voice_failure_callback, Ronglian's VoiceCode XML), with the call
id of a real call placed through the SDKs first, so the report finds its ``out_id``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flask_sms import delivery_reported, send_sms

TOKEN = "receipt-token-0123456789"
PHONE = "13800138000"
E164 = "+8613800138000"


@pytest.fixture
def app(make_app):
    return make_app(
        ["aliyun"],
        SMS_RECEIPT_TOKEN=TOKEN,
        SMS_VOICE_PROVIDERS=["aliyun", "tencent", "ronglian"],
        SMS_RONGLIAN_VOICE_RESP_URL=f"https://app.example/sms_receipts/ronglian-voice?token={TOKEN}",
    )


def call(app, fake, vendor: str, out_id: str) -> str:
    """Place a call through ``vendor`` (the others answering 500 before it): its call id."""
    order = ["aliyun", "tencent", "ronglian"]
    for earlier in order[: order.index(vendor)]:
        fake.set_mode(f"{earlier}_voice", "http_500", times=1)
    with app.app_context():
        result = send_sms(PHONE, "captcha", {"code": "246813"}, out_id=out_id, channel="voice")
    assert result.provider == vendor
    return result.messages[0].message_id


def pushed(app, name: str, **kwargs: Any) -> tuple[Any, list[Any]]:
    reports: list[Any] = []

    def heard(sender: Any, report: Any, **extra: Any) -> None:
        reports.append(report)

    with delivery_reported.connected_to(heard):
        answer = app.test_client().post(f"/sms_receipts/{name}?token={TOKEN}", **kwargs)
    return answer, reports


def test_aliyun_voice_report(app, fake):
    call_id = call(app, fake, "aliyun", "login-42")
    body = [
        {  # the VoiceReport fields of help.aliyun.com/document_detail/112505, for this call
            "call_id": call_id,
            "originate_time": "2026-11-22 10:00:00",
            "ring_time": "2026-11-22 10:00:03",
            "start_time": "2026-11-22 10:00:05",
            "end_time": "2026-11-22 10:00:20",
            "caller": "05711111****",
            "callee": PHONE,
            "duration": "15",
            "status_code": "200000",
            "hangup_direction": "用户",
            "status_msg": "执行完成",
            "out_id": "login-42",
            "dtmf": "",
            "voice_type": "voice",
            "toll_type": "LOCAL",
        },
        {
            "call_id": "1^2",
            "start_time": "",
            "end_time": "2026-11-22 10:01:00",
            "callee": PHONE,
            "status_code": "200005",
        },
    ]
    answer, reports = pushed(app, "aliyun-voice", json=body)
    assert answer.status_code == 200 and answer.get_json() == {"code": 0, "msg": "接收成功"}
    answered, missed = reports
    assert (answered.channel, answered.status, answered.provider, answered.phone) == (
        "voice",
        "delivered",
        "aliyun",
        E164,
    )
    assert answered.out_id == "login-42" and answered.code == "200000" and answered.message_id == call_id
    assert answered.delivered_at is not None and answered.delivered_at.isoformat() == "2026-11-22T10:00:20+08:00"
    assert (missed.status, missed.code, missed.channel) == ("failed", "200005", "voice")  # never answered
    with app.app_context():
        assert app.extensions["sms"].receipts.status("login-42") == answered


def test_tencent_voice_code_callback_finds_the_out_id_by_call_id(app, fake):
    call_id = call(app, fake, "tencent", "login-43")
    body = {  # the example of cloud.tencent.com/document/product/1128/51533, for this call
        "voicecode_callback": {
            "result": "0",
            "accept_time": "1470196835",
            "call_from": "075583763333",
            "callid": call_id,
            "end_calltime": "1470196843",
            "fee": "1",
            "mobile": PHONE,
            "nationcode": "86",
            "start_calltime": "1470196821",
        }
    }
    answer, (report,) = pushed(app, "tencent-voice", json=body)
    assert answer.status_code == 200 and answer.get_json() == {"result": 0, "errmsg": "OK"}
    assert (report.channel, report.status, report.phone, report.out_id) == ("voice", "delivered", E164, "login-43")
    assert report.submitted_at is not None and int(report.submitted_at.timestamp()) == 1470196821


def test_tencent_voice_failure_callback(app, fake):
    body = {
        "voice_failure_callback": {
            "call_from": "075583763333",
            "callid": "d5b2a6b6-0000",
            "failure_code": 8,
            "failure_reason": "空号",
            "mobile": PHONE,
            "nationcode": "86",
        }
    }
    answer, (report,) = pushed(app, "tencent-voice", json=body)
    assert answer.status_code == 200
    assert (report.status, report.code, report.description, report.channel) == ("failed", "8", "空号", "voice")


def test_tencent_voice_not_answered(app):
    item = {"result": "1", "callid": "c-1", "mobile": PHONE, "nationcode": "86", "start_calltime": "1470196821"}
    _, (report,) = pushed(app, "tencent-voice", json={"voicecode_callback": item})
    assert (report.status, report.code, report.description) == ("failed", "1", "not answered")


def test_ronglian_voice_code_push(app, fake):
    call_sid = call(app, fake, "ronglian", "login-44")
    (received,) = fake.received("ronglian_voice")
    assert received.raw["respUrl"].endswith("/sms_receipts/ronglian-voice?token=" + TOKEN)
    xml = (  # the example of doc.yuntongxun.com/p/5a533e563b8496dd00dce0a7, for this call
        '<?xml version="1.0" encoding="UTF-8"?><Request><action>VoiceCode</action>'
        f"<number>{PHONE}</number><callSid>{call_sid}</callSid><state>0</state><duration>30</duration>"
        "<userData>login-44</userData></Request>"
    )
    answer, (report,) = pushed(app, "ronglian-voice", data=xml, content_type="text/plain")
    assert answer.status_code == 200 and b"<statuscode>000000</statuscode>" in answer.data
    assert (report.channel, report.status, report.out_id, report.message_id) == (
        "voice",
        "delivered",
        "login-44",
        call_sid,
    )


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("aliyun-voice", {"json": {"call_id": "x"}}),
        ("tencent-voice", {"json": [{"voicecode_callback": {}}]}),
        ("ronglian-voice", {"data": "<Request><action>SMSArrived</action></Request>", "content_type": "text/xml"}),
    ],
)
def test_a_body_that_is_not_the_vendors_call_push_is_a_400(app, name, kwargs):
    answer, reports = pushed(app, name, **kwargs)
    assert answer.status_code == 400 and reports == []


def test_a_voice_push_for_a_vendor_not_calling_is_a_404(make_app):
    app = make_app(["aliyun"], SMS_RECEIPT_TOKEN=TOKEN, SMS_VOICE_PROVIDERS=["tencent"])
    client = app.test_client()
    assert client.post(f"/sms_receipts/aliyun-voice?token={TOKEN}", json=[]).status_code == 404
    assert client.post(f"/sms_receipts/tencent-voice?token={TOKEN}", data=json.dumps([])).status_code == 400


def test_a_calls_result_is_not_lost_when_a_handler_raises(app, fake):
    """Call results go through the same receipt book as texts' reports: seen only once every handler returned."""
    call_id = call(app, fake, "tencent", "login-44")
    body = {"voicecode_callback": {"result": "0", "callid": call_id, "mobile": PHONE, "nationcode": "86"}}
    kept: list[Any] = []
    state = {"raised": False}

    def flaky(sender: Any, report: Any, **extra: Any) -> None:
        if not state["raised"]:
            state["raised"] = True
            raise RuntimeError("the database blinked")
        kept.append(report)

    client = app.test_client()
    with delivery_reported.connected_to(flaky):
        first = client.post(f"/sms_receipts/tencent-voice?token={TOKEN}", json=body)
        retry = client.post(f"/sms_receipts/tencent-voice?token={TOKEN}", json=body)
        again = client.post(f"/sms_receipts/tencent-voice?token={TOKEN}", json=body)
    assert (first.status_code, retry.status_code, again.status_code) == (500, 200, 200)
    assert [(r.channel, r.out_id) for r in kept] == [("voice", "login-44")]
