"""Delivery receipts of every vendor that documents a push: failed texts, batches, signatures, queries.

The push itself (once, retried after a raising handler, its out_id found) is a case of tests/sending/test_vendor_matrix.py.

Each text is sent through the vendor's real SDK (or its documented HTTP API) to the loopback fake;
the fake remembers what it took and pushes the report in the vendor's documented format over real
HTTP to the app served by werkzeug, retrying after a non-200 answer as the vendor does. Ihuyi
documents no push (nor a query API): its route stays 404.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests
from fake_vendor import kits
from receipt_fixtures import PHONE, TOKEN

from flask_sms import SmsError, send_sms

PUSHING = tuple(name for name, kit in kits().items() if kit.push_tries)


def _config(vendor: str) -> dict[str, Any]:
    """Baidu's pushes are signed with the account's token: set, the route checks the signature."""
    if vendor == "baidu":
        from fakes.baidu import BaiduCredentials

        return {"SMS_BAIDU_CALLBACK_TOKEN": BaiduCredentials().callback_token}
    return {}


@pytest.mark.parametrize("vendor", PUSHING)
def test_a_failed_text_reads_as_failed_with_the_vendors_code(vendor, receipt_app, receipts, serve, heard):
    app = receipt_app([vendor], **_config(vendor))
    receipts.fail(PHONE, "UNDELIV", "用户短信接收失败")
    with app.app_context():
        send_sms(PHONE, "captcha", {"code": "123456", "minutes": 5}, out_id="failed-1")
    served = serve(app)
    assert [push.statuses for push in receipts.push_all(vendor, served.receipt_url(vendor))] == [[200]]
    (report,) = heard
    assert report.status == "failed" and report.out_id == "failed-1"
    if vendor != "netease":  # NetEase's status says only 2 (failed)
        assert report.code == "UNDELIV"


def test_huaweis_batch_push_of_status_report_lists(receipt_app, receipts, serve, heard):
    app = receipt_app(["huawei"])
    phones = [f"+86138001380{n:02d}" for n in range(60)]
    with app.app_context():
        assert send_sms(phones, "captcha", {"code": "1", "minutes": 5}, out_id="batch-7").ok
    served = serve(app)
    pushes = receipts.push_all("huawei", served.receipt_url("huawei"), json_batches=True)
    assert [push.statuses for push in pushes] == [[200], [200]]  # at most 50 reports a push
    assert sorted(r.phone for r in heard) == sorted(phones) and {r.out_id for r in heard} == {"batch-7"}


def test_yunpians_doubly_encoded_sms_status_is_read_too(receipt_app, heard):
    from urllib.parse import quote

    item = {
        "sid": 9527,
        "uid": None,
        "user_receive_time": "2014-03-17 22:55:21",
        "error_msg": "",
        "mobile": "13800138000",
    }
    item["report_status"] = "SUCCESS"
    once = quote(json.dumps([item]))
    client = receipt_app(["yunpian"]).test_client()
    answer = client.post(
        f"/sms_receipts/yunpian?token={TOKEN}",
        data=f"sms_status={quote(once)}",  # "部分语言由于解码方式差异需要解码两次"
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200 and answer.data == b"SUCCESS"
    assert [(r.message_id, r.phone, r.out_id) for r in heard] == [("9527", PHONE, "")]


def test_baidus_signature_is_checked_when_its_token_is_set(receipt_app, receipts, serve, heard):
    checked = serve(receipt_app(["baidu"], SMS_BAIDU_CALLBACK_TOKEN="another-token-0000"))
    unchecked = serve(receipt_app(["baidu"]))
    entry = receipts.add("baidu", PHONE, "msg-1_13800138000", "o-1")
    ((body, content_type, headers),) = receipts.requests_for("baidu", [entry])  # signed with the account id
    wrong = requests.post(checked.receipt_url("baidu"), data=body, headers={"Content-Type": content_type, **headers})
    assert wrong.status_code == 403 and heard == []
    bare = requests.post(checked.receipt_url("baidu"), data=body, headers={"Content-Type": content_type})
    assert bare.status_code == 403 and heard == []
    timestamp = headers["timestamp"]
    resigned = {**headers, "signature": hashlib.md5(f"another-token-0000{timestamp}".encode() + body).hexdigest()}
    right = requests.post(checked.receipt_url("baidu"), data=body, headers={"Content-Type": content_type, **resigned})
    assert right.status_code == 200 and [r.message_id for r in heard] == ["msg-1_13800138000"]
    # without SMS_BAIDU_CALLBACK_TOKEN the receipt token is the check
    other = receipts.add("baidu", PHONE, "msg-2_13800138000", "o-2")
    ((body, content_type, _),) = receipts.requests_for("baidu", [other])
    assert requests.post(unchecked.receipt_url("baidu"), data=body, headers={"Content-Type": content_type}).ok
    assert [r.message_id for r in heard] == ["msg-1_13800138000", "msg-2_13800138000"]


def test_a_netease_push_with_a_checksum_that_does_not_match_is_refused(receipt_app, receipts, serve, heard):
    served = serve(receipt_app(["netease"]))
    entry = receipts.add("netease", PHONE, "123456789", "")
    ((body, content_type, headers),) = receipts.requests_for("netease", [entry])
    forged = {**headers, "CheckSum": "0" * 40}
    answer = requests.post(served.receipt_url("netease"), data=body, headers={"Content-Type": content_type, **forged})
    assert answer.status_code == 403 and heard == []
    tampered = body.replace(b'"status": 1', b'"status": 2')
    answer = requests.post(
        served.receipt_url("netease"), data=tampered, headers={"Content-Type": content_type, **headers}
    )
    assert answer.status_code == 403 and heard == []
    answer = requests.post(served.receipt_url("netease"), data=body, headers={"Content-Type": content_type, **headers})
    assert answer.status_code == 200 and [r.message_id for r in heard] == ["123456789"]


def test_huaweis_accepted_status_is_not_a_report_yet(receipt_app, heard, caplog):
    client = receipt_app(["huawei"]).test_client()
    form = {"smsMsgId": "abc_1", "status": "ACCEPTD", "extend": "o", "to": PHONE}
    answer = client.post(f"/sms_receipts/huawei?token={TOKEN}", data=form)
    assert answer.status_code == 400 and heard == []  # nothing readable: the vendor may retry it
    assert "1 not a final status" in caplog.text


# -- the query APIs -------------------------------------------------------------------------------------
def test_yunpian_get_record_fetches_a_days_reports(receipt_app, receipts, heard):
    app = receipt_app(["yunpian"])
    receipts.fail("+8613900139000", "DB:0103", "空号")
    with app.app_context():
        sent = send_sms([PHONE, "+8613900139000"], "captcha", {"code": "1", "minutes": 5}, out_id="rec-1")
        reports = app.extensions["sms"].receipts.fetch("yunpian", phone="13900139000")
        with pytest.raises(SmsError, match="needs a phone number"):
            app.extensions["sms"].receipts.fetch("yunpian")
    assert [(r.phone, r.status, r.code, r.out_id) for r in reports] == [
        ("+8613900139000", "failed", "DB:0103", "rec-1")
    ]
    assert reports[0].message_id in {m.message_id for m in sent.messages}
    ((name, query),) = receipts.queries
    assert name == "yunpian:get_record" and query["mobile"] == "13900139000" and query["page_size"] == "100"
    assert heard == reports


def test_netease_querystatus_fetches_a_sendids_reports(receipt_app, receipts, heard):
    app = receipt_app(["netease"])
    with app.app_context():
        sent = send_sms([PHONE, "+8613900139000"], "captcha", {"code": "1", "minutes": 5}, out_id="q-1")
        sendid = sent.messages[0].message_id
        reports = app.extensions["sms"].receipts.fetch("netease", message_id=sendid)
        with pytest.raises(SmsError, match="needs the sendid"):
            app.extensions["sms"].receipts.fetch("netease", phone=PHONE)
    assert sorted((r.phone, r.status, r.out_id) for r in reports) == [
        (PHONE, "delivered", "q-1"),
        ("+8613900139000", "delivered", "q-1"),
    ]
    assert [q[1]["sendid"] for q in receipts.queries] == [sendid]


@pytest.mark.parametrize("vendor", ["huawei", "volcengine", "baidu", "qiniu"])
def test_vendors_whose_query_api_is_not_read_say_so(vendor, receipt_app):
    app = receipt_app([vendor])
    with app.app_context(), pytest.raises(SmsError, match="no query API"):
        app.extensions["sms"].receipts.fetch(vendor, phone=PHONE)


def test_ihuyi_documents_no_push(receipt_app):
    answer = receipt_app(["ihuyi"]).test_client().post(f"/sms_receipts/ihuyi?token={TOKEN}", json=[])
    assert answer.status_code == 404
