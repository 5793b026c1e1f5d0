"""Delivery receipts (issue 9): the vendors push to a real server, the real SDKs poll the fake.

Every push goes over real HTTP from ``fake_receipts.FakeReceipts`` to the app served
by werkzeug on loopback; every poll goes through the vendor's SDK to the fake, which
checks the signature as it does for SendSms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest
import requests
from fake_receipts import BEIJING
from flask import Flask
from receipt_fixtures import OTHER, PHONE, TOKEN

from flask_sms import DeliveryReport, SmsError, send_sms
from flask_sms.errors import ConfigError


# -- the documented push formats -----------------------------------------------------------------
def test_the_documented_aliyun_push_reads_as_one_report(receipt_app, heard):
    app = receipt_app(["aliyun"])
    body = [
        {
            "phone_number": "13811112222",
            "send_time": "2017-01-01 00:00:00",
            "report_time": "2017-01-01 00:00:05",
            "success": True,
            "err_code": "DELIVERED",
            "err_msg": "用户接收成功",
            "sms_size": "1",
            "biz_id": "12345^0",
            "out_id": "67890",
        }
    ]
    answer = app.test_client().post(f"/sms_receipts/aliyun?token={TOKEN}", json=body)
    assert answer.status_code == 200
    assert answer.get_json() == {"code": 0, "msg": "接收成功"}
    (report,) = heard
    assert report == DeliveryReport(
        "aliyun",
        "+8613811112222",
        "12345^0",
        "67890",
        "delivered",
        "DELIVERED",
        "用户接收成功",
        datetime(2017, 1, 1, tzinfo=timezone(timedelta(hours=8))),
        datetime(2017, 1, 1, 0, 0, 5, tzinfo=timezone(timedelta(hours=8))),
    )
    assert report.delivered_at is not None and report.delivered_at.utcoffset() == timedelta(hours=8)


def test_the_documented_tencent_callback_reads_with_its_ext(receipt_app, heard):
    app = receipt_app()
    body = [
        {
            "user_receive_time": "2015-10-17 08:03:04",
            "nationcode": "86",
            "mobile": "13800138000",
            "report_status": "FAIL",
            "errmsg": "MK:0001",
            "description": "运营商拦截",
            "sid": "2433:abc",
            "ext": "order-17",
        }
    ]
    answer = app.test_client().post(f"/sms_receipts/tencent?token={TOKEN}", json=body)
    assert answer.status_code == 200 and answer.get_json() == {"result": 0, "errmsg": "OK"}
    (report,) = heard
    assert (report.phone, report.status, report.code, report.description) == (PHONE, "failed", "MK:0001", "运营商拦截")
    assert (report.message_id, report.out_id, report.submitted_at) == ("2433:abc", "order-17", None)
    assert report.delivered_at == datetime(2015, 10, 17, 0, 3, 4, tzinfo=timezone.utc)


@pytest.mark.parametrize("form", ["json", "xml"])
def test_a_ronglian_smsarrived_push_reads_in_json_and_xml(receipt_app, receipts, heard, form):
    app = receipt_app(["ronglian"])
    entry = receipts.add("ronglian", PHONE, "4121908f3d1b4edb9210f0eb4742f62c", "req-1")
    item = receipts.items("ronglian", [entry])[0]
    client = app.test_client()
    if form == "json":
        answer = client.post(f"/sms_receipts/ronglian?token={TOKEN}", json=item)
        assert answer.get_json() == {"statusCode": "000000"}
    else:
        answer = client.post(
            f"/sms_receipts/ronglian?token={TOKEN}",
            data=receipts.fake.plugin("ronglian").ronglian_xml(item),
            content_type="application/xml",
        )
        assert b"<statuscode>000000</statuscode>" in answer.data
    assert answer.status_code == 200
    (report,) = heard
    # reqId is a per-request id, not the out_id (which the book finds from the message id a send recorded)
    assert (report.phone, report.message_id, report.out_id, report.status) == (
        PHONE,
        "4121908f3d1b4edb9210f0eb4742f62c",
        "",
        "delivered",
    )


def test_xml_with_a_doctype_is_refused_unread(receipt_app, heard):
    app = receipt_app(["ronglian"])
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><Request>&b;</Request>'
    )
    answer = app.test_client().post(f"/sms_receipts/ronglian?token={TOKEN}", data=bomb, content_type="text/xml")
    assert answer.status_code == 400 and heard == []


def test_a_second_account_takes_pushes_at_its_own_url(receipt_app, heard):
    app = receipt_app(["aliyun", "aliyun:backup"])
    body = [{"phone_number": "13811112222", "success": True, "err_code": "DELIVERED", "biz_id": "777^0", "out_id": "b"}]
    client = app.test_client()
    assert client.post(f"/sms_receipts/aliyun:backup?token={TOKEN}", json=body).status_code == 200
    assert [(report.provider, report.message_id) for report in heard] == [("aliyun:backup", "777^0")]
    # an account that is not configured is unknown
    assert client.post(f"/sms_receipts/aliyun:other?token={TOKEN}", json=body).status_code == 404


def test_vendors_without_a_push_and_unknown_ones_are_404(receipt_app):
    client = receipt_app().test_client()
    assert client.post(f"/sms_receipts/ihuyi?token={TOKEN}", json=[]).status_code == 404
    assert client.post(f"/sms_receipts/nosuch?token={TOKEN}", json=[]).status_code == 404


def test_no_token_configured_means_no_route(make_app):
    app = make_app(["tencent"])
    assert app.test_client().post("/sms_receipts/tencent?token=x", json=[]).status_code == 404


# -- the whole loop, over real HTTP ----------------------------------------------------------------
def test_send_then_tencent_pushes_then_signal_then_status(receipt_app, receipts, heard, serve):
    app = receipt_app()
    receipts.fail(OTHER, "MK:0001", "运营商拦截")
    with app.app_context():
        result = send_sms([PHONE, OTHER], "captcha", {"code": "123456", "minutes": 5}, out_id="login-42")
    served = serve(app)
    (push,) = receipts.push_all("tencent", served.receipt_url("tencent"))
    assert push.statuses == [200] and json.loads(push.answers[0]) == {"result": 0, "errmsg": "OK"}
    by_phone = {report.phone: report for report in heard}
    assert set(by_phone) == {PHONE, OTHER}
    assert by_phone[PHONE].status == "delivered" and by_phone[OTHER].status == "failed"
    assert by_phone[OTHER].code == "MK:0001"
    # the callback carries only the serial number: the status store found the out_id the send recorded
    assert {report.out_id for report in heard} == {"login-42"}
    assert {report.message_id for report in heard} == {m.message_id for m in result.messages}
    with app.app_context():
        latest = app.extensions["sms"].receipts.status("login-42")
    assert latest is not None and latest.out_id == "login-42" and latest in heard


def test_aliyun_batch_duplicates_and_a_retry_after_a_non_200(receipt_app, receipts, heard, serve):
    app = receipt_app(["aliyun"])
    failures = iter([True])

    @app.before_request
    def first_push_hits_a_restarting_worker() -> Any:
        if next(failures, False):
            return "restarting", 503
        return None

    with app.app_context():
        for number in range(5):
            send_sms(f"+861380013800{number}", "captcha", {"code": "1", "minutes": 5}, out_id=f"o{number}")
    served = serve(app)
    (push,) = receipts.push_all("aliyun", served.receipt_url("aliyun"))
    assert push.statuses == [503, 200]  # the vendor retried after the non-200 answer
    assert sorted(r.out_id for r in heard) == [f"o{n}" for n in range(5)]
    again = receipts.push_all("aliyun", served.receipt_url("aliyun"))
    assert [p.statuses for p in again] == [[200]] and len(heard) == 5  # acknowledged, nothing fired twice


def test_a_wrong_or_missing_token_is_403_and_fires_nothing(receipt_app, receipts, heard, serve):
    app = receipt_app()
    with app.app_context():
        send_sms(PHONE, "captcha", {"code": "1", "minutes": 5})
    served = serve(app)
    items = receipts.items("tencent")
    wrong = receipts.push("tencent", served.receipt_url("tencent", token=TOKEN[:-1] + "X"), items)
    missing = receipts.push("tencent", served.receipt_url("tencent", token=None), items)
    assert wrong.statuses == [403, 403, 403] and missing.statuses == [403, 403, 403]
    assert heard == []
    assert TOKEN.encode() not in b"".join(wrong.answers + missing.answers)


def test_allowed_ips_check_the_source_address(receipt_app, receipts, heard, serve):
    outside = serve(receipt_app(SMS_RECEIPT_ALLOWED_IPS=["203.0.113.0/24", "2001:db8::/32"]))
    inside = serve(receipt_app(SMS_RECEIPT_ALLOWED_IPS="10.0.0.0/8, 127.0.0.1"))
    entry = receipts.add("tencent", PHONE, "2433:ip")
    assert (
        receipts.push("tencent", outside.receipt_url("tencent"), receipts.items("tencent", [entry])).statuses[0] == 403
    )
    assert heard == []
    assert receipts.push("tencent", inside.receipt_url("tencent"), receipts.items("tencent", [entry])).statuses == [200]
    assert len(heard) == 1


def test_a_body_over_the_cap_is_413_before_parsing(receipt_app, receipts, heard, serve):
    served = serve(receipt_app(SMS_RECEIPT_MAX_BYTES=2048))
    entries = [receipts.add("tencent", PHONE, f"2433:{n}") for n in range(40)]
    big = json.dumps(receipts.items("tencent", entries)).encode()
    assert len(big) > 2048
    assert requests.post(served.receipt_url("tencent"), data=big, timeout=5).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the route stops reading one byte past the cap
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    assert requests.post(served.receipt_url("tencent"), data=chunks(), timeout=5).status_code == 413
    assert heard == []


def test_malformed_bodies_are_400_and_a_batch_keeps_its_good_items(receipt_app, receipts, heard):
    client = receipt_app().test_client()
    url = f"/sms_receipts/tencent?token={TOKEN}"
    for body in (b"", b"[", b"{}", b'"x"', b"[1, 2]", b'[{"sid": "1"}]', "[\ud800]".encode("utf-8", "surrogatepass")):
        answer = client.post(url, data=body, content_type="application/json")
        assert answer.status_code == 400, body
        assert answer.get_json()["error"] == "invalid_request"
    good = receipts.items("tencent", [receipts.add("tencent", PHONE, "2433:good")])[0]
    # dropped only without a status, or without what identifies the text (its sid, or else a phone and a time)
    bad = [
        {**good, "report_status": "MAYBE"},
        {**good, "mobile": "not a phone"},
        {**good, "sid": {"nested": True}, "user_receive_time": "yesterday"},
        "a string",
    ]
    answer = client.post(url, json=[bad[0], good, *bad[1:]])
    assert answer.status_code == 200
    assert [report.message_id for report in heard] == ["2433:good"]


def test_the_route_is_not_under_csrf_or_the_cross_site_check(receipt_app, receipts, heard):
    from flask_wtf import CSRFProtect

    before = Flask("csrf_before")
    before.config.update(SECRET_KEY="x" * 32)
    CSRFProtect(before)
    entry = receipts.add("tencent", PHONE, "2433:csrf")
    items = receipts.items("tencent", [entry])
    for order in ("before", "after"):
        app = receipt_app()  # make_app builds SmsExtension first: CSRFProtect comes after
        if order == "after":
            CSRFProtect(app)
        else:
            app = _app_with_csrf_first(app)
        client = app.test_client()
        answer = client.post(
            f"/sms_receipts/tencent?token={TOKEN}",
            json=items,
            headers={"Origin": "https://vendor.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert answer.status_code == 200, (order, answer.data)
        assert client.post("/sms_captcha/", json={"phone": PHONE}).get_json()["error"] == "csrf_failed"


def _app_with_csrf_first(template: Flask) -> Flask:
    from flask_wtf import CSRFProtect

    from flask_sms import SmsExtension

    app = Flask("csrf_first")
    app.config.update(template.config)
    CSRFProtect(app)
    SmsExtension(app)
    return app


# -- polling through the SDKs ----------------------------------------------------------------------------
def test_aliyun_query_send_details_pages_through_everything(receipt_app, receipts, heard):
    app = receipt_app(["aliyun"])
    with app.app_context():
        result = send_sms(PHONE, "captcha", {"code": "1", "minutes": 5}, out_id="poll-1")
        # 70 older texts to the same phone, today (the query is by day), never in the same second as the
        # real send: Aliyun's query carries no message id, so a report is told apart by its send time
        now = datetime.now(BEIJING)
        start = datetime.combine(now.date(), time(0, 0, 1), BEIJING)
        if now - start < timedelta(minutes=5):
            start = now + timedelta(minutes=5)
        for number in range(70):
            receipts.add("aliyun", PHONE, f"history-{number}", sent_at=start + timedelta(seconds=number))
        reports = app.extensions["sms"].receipts.fetch("aliyun", phone="13800138000")
    pages = [q for q in receipts.queries if q[0] == "aliyun:QuerySendDetails"]
    assert [q[1]["CurrentPage"] for q in pages] == ["1", "2"] and {q[1]["PageSize"] for q in pages} == {"50"}
    assert pages[0][1]["SendDate"] == datetime.now(BEIJING).strftime("%Y%m%d")
    assert len(reports) == 71 and len(heard) == 71
    assert all(r.phone == PHONE and r.status == "delivered" and r.submitted_at for r in reports)
    sms, biz_id = app.extensions["sms"], result.messages[0].message_id
    with app.app_context():
        assert len(sms.receipts.fetch("aliyun", phone=PHONE)) == 71
        assert len(heard) == 71  # fetched again: returned, not announced again
        one = sms.receipts.fetch("aliyun", phone=PHONE, message_id=biz_id)
        heard_so_far = len(heard)
        assert sms.receipts.fetch("aliyun", phone=PHONE, message_id=biz_id) == one
    assert len(heard) == heard_so_far
    # by BizId the report carries the id, and the status store knows the send's out_id
    assert [(r.message_id, r.out_id) for r in one] == [(biz_id, "poll-1")]


def test_aliyun_polling_needs_a_phone_and_a_day_within_30_days(receipt_app, receipts):
    app = receipt_app(["aliyun"])
    sms = app.extensions["sms"]
    with app.app_context():
        with pytest.raises(SmsError, match="needs a phone number"):
            sms.receipts.fetch("aliyun")
        with pytest.raises(SmsError, match="last 30 days"):
            sms.receipts.fetch("aliyun", phone=PHONE, date=(datetime.now(BEIJING) - timedelta(days=31)).date())
        with pytest.raises(SmsError, match="not in SMS_PROVIDERS"):
            sms.receipts.fetch("tencent", phone=PHONE)


def test_tencent_pulls_by_phone_and_drains_the_queue_once(receipt_app, receipts, heard, serve):
    app = receipt_app()
    receipts.fail(OTHER)
    sms = app.extensions["sms"]
    with app.app_context():
        send_sms([PHONE, OTHER], "captcha", {"code": "1", "minutes": 5}, out_id="pull-1")
        by_phone = sms.receipts.fetch("tencent", phone=OTHER)
        assert [(r.phone, r.status, r.out_id) for r in by_phone] == [(OTHER, "failed", "pull-1")]
        queue = sms.receipts.fetch("tencent")
        assert sorted(r.phone for r in queue) == [PHONE, OTHER]
        assert sms.receipts.fetch("tencent") == []  # the queue returns each report once
    assert len(heard) == 2  # OTHER's report came twice (by phone, then from the queue): announced once
    served = serve(app)
    assert receipts.push_all("tencent", served.receipt_url("tencent"))[0].statuses == [200]
    assert len(heard) == 2  # and the vendor's push of the same reports fires nothing either


def test_vendors_without_a_query_api_say_so(receipt_app):
    app = receipt_app(["ronglian", "ihuyi"])
    with app.app_context():
        for provider in ("ronglian", "ihuyi"):
            with pytest.raises(SmsError, match=f"{provider} publishes no query API"):
                app.extensions["sms"].receipts.fetch(provider, phone=PHONE)


def test_flask_sms_status_prints_a_table(receipt_app, receipts):
    app = receipt_app(["aliyun"])
    receipts.fail(PHONE, "UNDELIV", "失败")
    with app.app_context():
        send_sms(PHONE, "captcha", {"code": "1", "minutes": 5}, out_id="cli-1")
    result = app.test_cli_runner().invoke(args=["sms", "status", "13800138000", "--provider", "aliyun"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split()[:3] == ["PHONE", "STATUS", "CODE"]
    assert row.split()[:3] == [PHONE, "failed", "UNDELIV"] and "+0800" in row
    old = app.test_cli_runner().invoke(args=["sms", "status", PHONE, "--date", "2001-01-01"])
    assert old.exit_code == 1 and "last 30 days" in old.output


# -- the console provider and config -----------------------------------------------------------------------
def test_the_console_provider_delivers_at_once(make_app, heard):
    app = make_app(["console"])
    with app.app_context():
        result = send_sms(PHONE, "captcha", {"code": "1", "minutes": 5})
        report = app.extensions["sms"].receipts.status(result.out_id)
    assert report is not None and report.status == "delivered" and report.out_id == result.out_id
    assert heard == [report]


def test_bad_receipt_keys_are_config_problems_that_never_show_the_token(make_app):
    with pytest.raises(ConfigError) as caught:
        make_app(
            ["tencent"],
            SMS_RECEIPT_TOKEN="short secret!",
            SMS_RECEIPT_ALLOWED_IPS=["10.0.0.0/8", "not-a-network"],
            SMS_RECEIPT_MAX_BYTES=10,
        )
    text = str(caught.value)
    assert "SMS_RECEIPT_TOKEN must be at least 16 URL-safe characters" in text
    assert "'not-a-network'" in text and "SMS_RECEIPT_MAX_BYTES" in text
    assert "short secret!" not in text


def test_receipts_work_with_the_verification_flow_off(make_app, heard):
    app = make_app(["tencent"], SMS_ENABLE_CAPTCHA=False, SMS_RECEIPT_TOKEN=TOKEN)
    body = [{"nationcode": "86", "mobile": "13800138000", "report_status": "SUCCESS", "sid": "x", "ext": "o"}]
    client = app.test_client()
    assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=body).status_code == 200
    assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 404
    with app.app_context():
        assert app.extensions["sms"].receipts.status("o") == heard[0]


# -- across gunicorn workers, on Redis -------------------------------------------------------------------
def test_gunicorn_workers_on_redis_announce_each_report_once(fake, receipts, tmp_path, redis_binary):
    from gunicorn_helpers import call, fire, gunicorn_env, start_gunicorn, stop_group
    from helpers import RedisServer

    redis = RedisServer(redis_binary, tmp_path / "redis").start()
    env = gunicorn_env(fake.url, fake.host, redis.url)
    env["FLASK_SMS_PROVIDERS"] = json.dumps(["tencent"])
    env["FLASK_SMS_RECEIPT_TOKEN"] = json.dumps(TOKEN)
    app = start_gunicorn(tmp_path, env, "--workers", "4", "--worker-class", "sync")
    try:
        entries = [receipts.add("tencent", f"+86137{n:08d}", f"2433:w{n}") for n in range(50)]
        batch = json.dumps(receipts.items("tencent", entries)).encode()
        path = f"/sms_receipts/tencent?token={TOKEN}"
        # the vendor's first push and its retries, 40 copies at once: every worker gets some. A copy that
        # finds reports another worker is announcing is answered 503 and retried, as the vendor does
        spec = ("POST", path, None, batch, {"X-Test-Hold": "0.2"})
        replies = fire(app.port, [spec] * 40, threads=20)
        assert {reply.status for reply in replies} <= {200, 503} and 200 in {reply.status for reply in replies}
        assert len({reply.pid for reply in replies}) >= 2
        pending = sum(reply.status != 200 for reply in replies)
        for _ in range(20):
            if not pending:
                break
            pending = sum(reply.status != 200 for reply in fire(app.port, [spec] * pending, threads=pending))
        assert pending == 0
        assert call(app.port, "GET", "/_scale/reports").body == {"count": 50}
    finally:
        stop_group(app.process)
        redis.stop()


def test_the_token_is_masked_in_the_servers_access_log(receipt_app, serve, caplog):
    import logging

    served = serve(receipt_app())
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert requests.post(served.receipt_url("tencent"), json=[], timeout=5).status_code == 200
        assert (
            requests.post(served.receipt_url("tencent", token="wrong-token-000000"), json=[], timeout=5).status_code
            == 403
        )
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("/sms_receipts/tencent?token=***" in line for line in lines), lines
    assert not any(TOKEN in line for line in lines)


def test_the_url_prefix_applies_and_register_routes_false_keeps_the_receipt_route(receipt_app):
    app = receipt_app(SMS_URL_PREFIX="/api", SMS_REGISTER_ROUTES=False)
    client = app.test_client()
    assert client.post(f"/api/sms_receipts/tencent?token={TOKEN}", json=[]).status_code == 200
    assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=[]).status_code == 404
    assert client.post("/api/sms_captcha/", json={"phone": PHONE}).status_code == 404


def test_a_storage_outage_answers_503_so_the_vendor_retries_and_sends_still_succeed(
    receipt_app, receipts, heard, redis_server, caplog
):
    app = receipt_app(SMS_STORAGE_URL=redis_server.url)
    entry = receipts.add("tencent", PHONE, "2433:outage")
    client = app.test_client()
    redis_server.stop()
    answer = client.post(f"/sms_receipts/tencent?token={TOKEN}", json=receipts.items("tencent", [entry]))
    assert answer.status_code == 503 and answer.get_json()["error"] == "unavailable"
    with app.app_context():  # the text is out: a storage fault while recording its ids is logged, not raised
        result = send_sms(PHONE, "captcha", {"code": "1", "minutes": 5})
    assert result.ok and "could not record the message ids" in caplog.text
    redis_server.start()
    answer = client.post(f"/sms_receipts/tencent?token={TOKEN}", json=receipts.items("tencent", [entry]))
    assert answer.status_code == 200 and [r.message_id for r in heard] == ["2433:outage"]


def test_tencent_polls_a_given_day_within_its_7_days(receipt_app, receipts):
    app = receipt_app()
    sms = app.extensions["sms"]
    today = datetime.now(BEIJING).date()
    with app.app_context():
        send_sms(PHONE, "captcha", {"code": "1", "minutes": 5})
        assert [r.phone for r in sms.receipts.fetch("tencent", phone=PHONE, date=today)] == [PHONE]
        assert sms.receipts.fetch("tencent", phone=PHONE, date=today - timedelta(days=7)) == []  # partly in range
        with pytest.raises(SmsError, match="last 7 days"):
            sms.receipts.fetch("tencent", phone=PHONE, date=today - timedelta(days=9))
    (query,) = [q for q in receipts.queries if q[1].get("BeginTime") and q[0].endswith("PhoneNumber")][:1]
    assert query[1]["PhoneNumber"] == PHONE and query[1]["Offset"] == 0


def test_a_receipt_push_and_a_poll_never_call_back_up(receipt_app, receipts):
    import sys

    from helpers import layer_rank

    app = receipt_app()
    client = app.test_client()
    climbs: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event != "call" or frame.f_back is None:
            return
        callee, caller = frame.f_globals.get("__name__", ""), frame.f_back.f_globals.get("__name__", "")
        callee_rank, caller_rank = layer_rank(callee), layer_rank(caller)
        if callee_rank is not None and caller_rank is not None and callee_rank < caller_rank:
            climbs.append(f"{caller}.{frame.f_back.f_code.co_name} -> {callee}.{frame.f_code.co_name}")

    with app.app_context():
        send_sms(PHONE, "captcha", {"code": "1", "minutes": 5})
    sys.setprofile(profile)
    try:
        pushed = client.post(f"/sms_receipts/tencent?token={TOKEN}", json=receipts.items("tencent"))
        with app.app_context():
            polled = app.extensions["sms"].receipts.fetch("tencent", phone=PHONE)
    finally:
        sys.setprofile(None)
    assert pushed.status_code == 200 and len(polled) == 1
    assert climbs == []


def test_a_send_touches_the_storage_only_with_receipts_on(make_app, redis_server):
    import redis

    client = redis.Redis.from_url(redis_server.url)

    def calls() -> dict[str, int]:
        stats = client.info("commandstats")
        return {name: value["calls"] for name, value in stats.items() if name not in ("cmdstat_info", "cmdstat_hello")}

    def commands_during_a_send(**config: Any) -> dict[str, int]:
        app = make_app(["aliyun"], SMS_STORAGE_URL=redis_server.url, **config)
        before = calls()
        with app.app_context():
            assert send_sms([PHONE, OTHER], "captcha", {"code": "1"}, out_id="rt-1").ok
        after = calls()
        return {name: count - before.get(name, 0) for name, count in after.items() if count != before.get(name, 0)}

    # nothing but, on a process's first send, the one read of the circuit breakers (then once a second at most)
    assert commands_during_a_send() in ({}, {"cmdstat_hgetall": 1})
    # one pipeline: the biz_id -> out_id, and (out_id, phone) -> biz_id for each number; Flask-Caching
    # writes them as SET ... EX, older releases (the floors) as SETEX: one write per key either way
    writes = commands_during_a_send(SMS_RECEIPT_TOKEN=TOKEN)
    writes.pop("cmdstat_hgetall", None)
    assert writes in ({"cmdstat_set": 3}, {"cmdstat_setex": 3}), writes


@pytest.mark.parametrize(
    ("provider", "key", "vendor_code"),
    [
        ("aliyun", "SMS_ALIYUN_ACCESS_KEY_SECRET", "SignatureDoesNotMatch"),
        ("tencent", "SMS_TENCENT_SECRET_KEY", "AuthFailure.SignatureFailure"),
    ],
)
def test_polls_are_signed_and_the_fake_checks_them(receipt_app, receipts, provider, key, vendor_code):
    app = receipt_app([provider], **{key: "not-the-secret-0000"})
    with app.app_context(), pytest.raises(SmsError) as caught:
        app.extensions["sms"].receipts.fetch(provider, phone=PHONE)
    assert vendor_code in str(caught.value) and "not-the-secret" not in str(caught.value)
    assert receipts.queries == []  # refused before the query handler ran


def test_flask_sms_check_says_receipts_are_on(receipt_app):
    result = receipt_app().test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 0 and "delivery receipts on" in result.output
    assert TOKEN not in result.output


def test_international_numbers_read_as_e164(receipt_app, heard):
    client = receipt_app().test_client()
    tencent = [{"nationcode": "852", "mobile": "61234567", "report_status": "SUCCESS", "sid": "hk-1"}]
    assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=tencent).status_code == 200
    aliyun_app = receipt_app(["aliyun"])
    aliyun = [{"phone_number": "85261234567", "success": False, "err_code": "UNDELIV", "biz_id": "hk-2"}]
    assert aliyun_app.test_client().post(f"/sms_receipts/aliyun?token={TOKEN}", json=aliyun).status_code == 200
    assert [(r.phone, r.status) for r in heard] == [("+85261234567", "delivered"), ("+85261234567", "failed")]
    assert heard[0].delivered_at is None and heard[1].submitted_at is None  # absent times are None


def test_an_app_hook_that_reads_the_body_first_does_no_harm(receipt_app, heard):
    app = receipt_app()

    @app.before_request
    def audit() -> None:
        from flask import request

        request.get_data(cache=True)

    body = [{"nationcode": "86", "mobile": "13800138000", "report_status": "SUCCESS", "sid": "hook-1"}]
    assert app.test_client().post(f"/sms_receipts/tencent?token={TOKEN}", json=body).status_code == 200
    assert [r.message_id for r in heard] == ["hook-1"]


def test_receipts_on_memory_outside_debug_warn_once(make_app, caplog):
    import logging

    app = make_app(["tencent"], SMS_RECEIPT_TOKEN=TOKEN, TESTING=False, DEBUG=False)
    app.testing = False
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_sms"):
        for _ in range(2):
            assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=[]).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if "delivery-report marks" in r.getMessage()]
    assert len(warnings) <= 1  # once per process (an earlier test may have said it already)
    from flask_sms import reporting

    assert any("delivery-report marks" in said for said in reporting._said)


def test_an_aliyun_push_and_a_later_poll_of_the_same_text_announce_it_once(receipt_app, receipts, heard, serve):
    """The poll (QuerySendDetails by phone and day) carries no BizId, only the OutId the send now
    sends: the status store maps (out_id, phone) to the BizId, so both read as the same report."""
    app = receipt_app(["aliyun"])
    with app.app_context():
        result = send_sms(PHONE, "captcha", {"code": "123456", "minutes": 5}, out_id="login-7")
    served = serve(app)
    (push,) = receipts.push_all("aliyun", served.receipt_url("aliyun"))
    assert push.statuses == [200] and len(heard) == 1
    with app.app_context():
        polled = app.extensions["sms"].receipts.fetch("aliyun", phone=PHONE)
    assert [(r.out_id, r.message_id) for r in polled] == [("login-7", result.messages[0].message_id)]
    assert len(heard) == 1  # the poll found nothing new
