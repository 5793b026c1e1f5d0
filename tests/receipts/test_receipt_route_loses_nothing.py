"""Receipts lose nothing (issue 21, "Receipts lose data"), each finding as a hostile client found it.

* a report whose handler raised was marked seen: the vendor's retry was acknowledged and the
  report never announced again (with 100 reports and one raising handler the app saw 1);
* valid reports in documented variants, or differing in fields nothing needs, were dropped;
* a newline in the URL's provider segment wrote a forged line into the log;
* wrong tokens could be tried without limit, each logging a line;
* the token in the query was masked in werkzeug's access log only, not in gunicorn's;
* forged pushes carrying the token filled ``memory://`` and a capped Redis.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from helpers import FakeClock
from receipt_fixtures import PHONE, TOKEN

from flask_sms import DeliveryReport, delivery_reported, send_sms

TENCENT = {
    "user_receive_time": "2015-10-17 08:03:04",
    "nationcode": "86",
    "mobile": "13800138000",
    "report_status": "SUCCESS",
    "errmsg": "DELIVRD",
    "description": "用户短信送达成功",
    "sid": "2433:variant",
    "ext": "order-9",
}
ALIYUN = {
    "phone_number": "13800138000",
    "send_time": "2017-01-01 00:00:00",
    "report_time": "2017-01-01 00:00:05",
    "success": True,
    "err_code": "DELIVERED",
    "err_msg": "用户接收成功",
    "sms_size": "1",
    "biz_id": "12345^0",
    "out_id": "order-9",
}
RONGLIAN = {
    "action": "SMSArrived",
    "smsType": "1",
    "apiVersion": "2013-12-26",
    "content": "4121908f3d1b4edb",
    "fromNum": "13800138000",
    "dateSent": "20170101000000",
    "deliverCode": "DELIVRD",
    "recvTime": "20170101000005",
    "status": "0",
    "reqId": "order-9",
}


@pytest.fixture
def clocked(receipt_app: Callable[..., Any]) -> Callable[..., Any]:
    """Receipt apps on one FakeClock (``.clock``): windows and once-a-minute logs follow it, not the wall."""
    clock = FakeClock()

    def factory(providers: list[str] | None = None, **config: Any) -> Any:
        return receipt_app(providers, clock=clock, **config)

    factory.clock = clock  # type: ignore[attr-defined]
    return factory


@pytest.fixture
def raising_once() -> Iterator[list[DeliveryReport]]:
    """A handler that raises on the first report it is given, once; it keeps every report it returned for."""
    kept: list[DeliveryReport] = []
    state = {"raised": False}

    def handle(sender: object, report: DeliveryReport) -> None:
        if not state["raised"]:
            state["raised"] = True
            raise RuntimeError("the database blinked")
        kept.append(report)

    delivery_reported.connect(handle)
    yield kept
    delivery_reported.disconnect(handle)


# -- seen only after every handler returned -------------------------------------------------------------
def test_100_reports_and_one_raising_handler_the_app_eventually_sees_all_100(
    receipt_app, receipts, serve, raising_once
):
    app = receipt_app()
    entries = [receipts.add("tencent", f"+86137{n:08d}", f"2433:{n}") for n in range(100)]
    served = serve(app)
    (push,) = receipts.push_all("tencent", served.receipt_url("tencent"))
    assert push.statuses == [500, 200]  # the raise is answered 500; the vendor's retry settles it
    assert sorted(r.message_id for r in raising_once) == sorted(e.message_id for e in entries)
    assert len(raising_once) == 100  # each of the 99 announced once, the one that raised once more


def test_a_report_whose_handler_raised_is_announced_again_on_a_poll(receipt_app, receipts, raising_once):
    app = receipt_app()
    with app.app_context():
        send_sms(PHONE, "captcha", {"code": "1", "minutes": 5}, out_id="poll-9")
        with pytest.raises(RuntimeError, match="blinked"):
            app.extensions["sms"].receipts.fetch("tencent", phone=PHONE)
        assert raising_once == []
        (again,) = app.extensions["sms"].receipts.fetch("tencent", phone=PHONE)
    assert raising_once == [again] and again.out_id == "poll-9"


def test_a_copy_of_a_push_that_another_worker_is_announcing_is_answered_503(receipt_app, serve):
    app = receipt_app()
    entered, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def slow(sender: object, report: DeliveryReport) -> None:
        entered.set()
        assert release.wait(10)
        seen.append(report.message_id)

    delivery_reported.connect(slow)
    try:
        served = serve(app)
        url, body = served.receipt_url("tencent"), [TENCENT]
        first: dict[str, Any] = {}
        pusher = threading.Thread(target=lambda: first.update(answer=requests.post(url, json=body, timeout=10)))
        pusher.start()
        assert entered.wait(10)
        copy = requests.post(url, json=body, timeout=10)
        release.set()
        pusher.join(10)
    finally:
        delivery_reported.disconnect(slow)
    assert copy.status_code == 503 and copy.headers["Retry-After"]  # not acknowledged while it may still fail
    assert first["answer"].status_code == 200 and seen == ["2433:variant"]
    assert requests.post(url, json=body, timeout=10).status_code == 200 and seen == ["2433:variant"]


# -- lenient reading ------------------------------------------------------------------------------------
#: valid reports that were dropped (400, or 200 without the report): a documented variant, or a field
#: nothing needs that could not be read. (provider, what differs from the documented item, what the report says)
VARIANTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("tencent", {"ext": {}}, {"out_id": ""}),
    ("tencent", {"ext": ["order-9"]}, {"out_id": ""}),
    ("tencent", {"mobile": "+8613800138000"}, {"phone": PHONE}),
    ("tencent", {"mobile": "8613800138000", "nationcode": ""}, {"phone": PHONE}),
    ("tencent", {"mobile": "008613800138000"}, {"phone": PHONE}),
    ("tencent", {"user_receive_time": 1445040184}, {"delivered_at": "2015-10-17T08:03:04+08:00"}),
    ("tencent", {"user_receive_time": "1445040184"}, {"delivered_at": "2015-10-17T08:03:04+08:00"}),
    ("tencent", {"user_receive_time": "2015-10-17T00:03:04Z"}, {"delivered_at": "2015-10-17T08:03:04+08:00"}),
    ("tencent", {"user_receive_time": "17/10/2015"}, {"delivered_at": None}),
    ("tencent", {"user_receive_time": "2015-10-17 08:03:04.250"}, {"delivered_at": "2015-10-17T08:03:04.250000+08:00"}),
    ("tencent", {"errmsg": {"code": "DELIVRD"}}, {"code": ""}),
    ("tencent", {"report_status": "success"}, {"status": "delivered"}),
    ("tencent", {"report_status": "Fail"}, {"status": "failed"}),
    ("tencent", {"description": "运营商拦截" * 60}, {"description": ("运营商拦截" * 60)[:512]}),
    ("aliyun", {"success": 1}, {"status": "delivered"}),
    ("aliyun", {"success": "1"}, {"status": "delivered"}),
    ("aliyun", {"success": 0}, {"status": "failed"}),
    ("aliyun", {"report_time": "2017-01-01T00:00:05+08:00"}, {"delivered_at": "2017-01-01T00:00:05+08:00"}),
    ("aliyun", {"send_time": "2016-12-31T16:00:00Z"}, {"submitted_at": "2017-01-01T00:00:00+08:00"}),
    ("aliyun", {"report_time": 1483200005}, {"delivered_at": "2017-01-01T00:00:05+08:00"}),
    ("aliyun", {"out_id": {}}, {"out_id": ""}),
    ("aliyun", {"err_msg": "x" * 3000}, {"description": "x" * 512}),
    ("aliyun", {"biz_id": None}, {"message_id": ""}),  # identified by its phone and time
    ("ronglian", {"recvTime": "2017-01-01 00:00:05"}, {"delivered_at": "2017-01-01T00:00:05+08:00"}),
    ("ronglian", {"dateSent": "2017-01-01T00:00:00"}, {"submitted_at": "2017-01-01T00:00:00+08:00"}),
    ("ronglian", {"deliverCode": {"code": "DELIVRD"}}, {"code": ""}),
]


def _body(provider: str, item: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    return {"Request": item} if provider == "ronglian" else [item]


@pytest.mark.parametrize(("provider", "changed", "expected"), VARIANTS, ids=lambda v: json.dumps(v)[:40])
def test_documented_variants_and_fields_nothing_needs_are_read(receipt_app, heard, provider, changed, expected):
    documented = {"tencent": TENCENT, "aliyun": ALIYUN, "ronglian": RONGLIAN}[provider]
    client = receipt_app([provider]).test_client()
    answer = client.post(f"/sms_receipts/{provider}?token={TOKEN}", json=_body(provider, {**documented, **changed}))
    assert answer.status_code == 200, answer.data
    (report,) = heard
    for name, value in expected.items():
        got = getattr(report, name)
        assert (got.isoformat() if hasattr(got, "isoformat") else got) == value, name


def test_dropped_reports_are_counted_in_the_log_with_their_reason(receipt_app, heard, caplog):
    client = receipt_app().test_client()
    items = [
        TENCENT,
        {**TENCENT, "report_status": None},
        {**TENCENT, "sid": None, "mobile": None},
        {**TENCENT, "sid": None, "user_receive_time": None},
        "not a report",
    ]
    with caplog.at_level(logging.WARNING, logger="flask_sms"):
        assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=items).status_code == 200
    assert [r.message_id for r in heard] == ["2433:variant"]
    (line,) = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert "dropped 4 report(s) from a tencent push" in line
    assert "2 without a message id (or a phone and a time)" in line
    assert "1 without a status" in line and "1 not an object" in line


# -- the log and the token --------------------------------------------------------------------------------
def test_a_newline_in_the_provider_segment_forges_no_log_line(receipt_app, caplog):
    client = receipt_app().test_client()
    forged = "aliyun%0A2026-01-01 INFO flask_sms: pushed by the vendor"
    with caplog.at_level(logging.DEBUG, logger="flask_sms"):
        for token in ("wrong-token-0000000", TOKEN):
            answer = client.post(f"/sms_receipts/{forged}?token={token}", json=[])
            assert answer.status_code in (403, 404)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "pushed by the vendor" not in logged and "\n2026" not in logged


def test_wrong_tokens_are_limited_per_client_and_logged_once_a_minute(clocked, caplog):
    app = clocked()
    client = app.test_client()
    attacker, vendor = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "203.0.113.9"}
    with caplog.at_level(logging.WARNING, logger="flask_sms"):
        statuses = [
            client.post(f"/sms_receipts/tencent?token=guess-{n:012d}", json=[], environ_base=attacker).status_code
            for n in range(2000)
        ]
        assert statuses[:10] == [403] * 10 and set(statuses[10:]) == {429}
        # the right token from the same client is refused unread too, until the minute is over
        assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=[], environ_base=attacker).status_code == 429
        # other clients are not affected
        assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=[], environ_base=vendor).status_code == 200
        lines = [r.getMessage() for r in caplog.records if "receipt push(es) with a missing or" in r.getMessage()]
        assert len(lines) == 1 and "198.51.100.7" in lines[0]
        clocked.clock.advance(61)
        assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=[], environ_base=attacker).status_code == 200
        assert client.post("/sms_receipts/tencent?token=guess", json=[], environ_base=attacker).status_code == 403
    lines = [r.getMessage() for r in caplog.records if "receipt push(es) with a missing or" in r.getMessage()]
    assert len(lines) == 2 and "refused 2000 receipt push(es)" in lines[1]  # 1999 unsaid, and the latest


def test_the_token_may_be_a_path_segment(receipt_app, receipts, serve, heard, caplog):
    served = serve(receipt_app())
    entry = receipts.add("tencent", PHONE, "2433:path")
    items = receipts.items("tencent", [entry])
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert receipts.push("tencent", served.receipt_url("tencent", in_path=True), items).statuses == [200]
        wrong = receipts.push("tencent", served.receipt_url("tencent", "wrong-token-000000", in_path=True), items)
    assert wrong.statuses == [403, 403, 403] and [r.message_id for r in heard] == ["2433:path"]
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("/sms_receipts/tencent/***" in line for line in lines), lines
    assert not any(TOKEN in line for line in lines)


def test_the_access_log_filter_masks_the_token_for_stdlib_loggers():
    from flask_sms.masking import AccessLogFilter

    records = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    logger = logging.getLogger("flask_sms_tests.access")
    handler = Keep()
    logger.addHandler(handler)
    logger.addFilter(AccessLogFilter(tokens=("s3cret-from-env-0000",)))
    old, logger.propagate = logger.propagate, False
    try:
        logger.warning('"POST /api/sms_receipts/aliyun?token=%s HTTP/1.1" 200', TOKEN)
        logger.warning('"POST /sms_receipts/aliyun:backup/%s HTTP/1.1" 200', TOKEN)
        logger.warning("GET /sms_receipts/qiniu?x=1&token=%s&y=2 elsewhere s3cret-from-env-0000", TOKEN)
        logger.warning("GET /other?token=%s is not a receipt URL", "keep-me")
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()
        logger.propagate = old
    assert records[0] == '"POST /api/sms_receipts/aliyun?token=*** HTTP/1.1" 200'
    assert records[1] == '"POST /sms_receipts/aliyun:backup/*** HTTP/1.1" 200'
    assert records[2] == "GET /sms_receipts/qiniu?x=1&token=***&y=2 elsewhere ***"
    assert records[3] == "GET /other?token=keep-me is not a receipt URL"


def test_the_access_log_filter_masks_the_token_in_gunicorns_access_log(fake, receipts, tmp_path):
    """The docs' gunicorn snippet (docs/receipts.md), run: ``--access-logfile`` with the request line, the path
    and %(q)s."""
    from pathlib import Path

    from gunicorn_helpers import call, gunicorn_env, start_gunicorn, stop_group

    readme = (Path(__file__).resolve().parents[2] / "docs" / "receipts.md").read_text()
    (snippet,) = [b for b in readme.split("```python\n")[1:] if b.startswith("# gunicorn.conf.py")]
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(snippet.split("```")[0])  # the docs' own snippet
    access = tmp_path / "access.log"
    env = gunicorn_env(fake.url, fake.host, "memory://")
    env["FLASK_SMS_PROVIDERS"] = json.dumps(["tencent"])
    env["FLASK_SMS_RECEIPT_TOKEN"] = json.dumps(TOKEN)
    app = start_gunicorn(
        tmp_path,
        env,
        "--config",
        str(conf),
        "--workers",
        "1",
        "--access-logfile",
        str(access),
        "--access-logformat",
        '%(h)s "%(r)s" %(s)s q=%(q)s U=%(U)s',
    )
    try:
        body = json.dumps([TENCENT]).encode()
        assert call(app.port, "POST", f"/sms_receipts/tencent?token={TOKEN}", None, body).status == 200
        assert call(app.port, "POST", f"/sms_receipts/tencent/{TOKEN}", None, body).status == 200
        assert call(app.port, "POST", "/sms_receipts/tencent?token=a-wrong-token-000", None, body).status == 403
    finally:
        stop_group(app.process)
    logged = access.read_text()
    assert logged.count("/sms_receipts/tencent") >= 3, logged
    assert TOKEN not in logged and "a-wrong-token" not in logged
    assert "/sms_receipts/tencent?token=***" in logged and "/sms_receipts/tencent/***" in logged
    assert "q=token=***" in logged


# -- bounded pushes --------------------------------------------------------------------------------------
def _forged_push(start: int, count: int) -> bytes:
    """One push of ``count`` distinct reports that carry the token (a leaked one), about 200 bytes each."""
    items = [{**TENCENT, "sid": f"forged-{start + n}", "ext": f"forged-out-{start + n}"} for n in range(count)]
    return json.dumps(items).encode()


def test_pushes_are_bounded_in_count_per_minute(clocked, heard):
    app = clocked(SMS_RECEIPT_LIMITS="5/minute")
    client = app.test_client()
    answers = [client.post(f"/sms_receipts/tencent?token={TOKEN}", json=[]) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 60
    clocked.clock.advance(60)
    assert client.post(f"/sms_receipts/tencent?token={TOKEN}", json=[TENCENT]).status_code == 200
    assert len(heard) == 1


def test_forged_pushes_cannot_fill_the_memory_storage_and_push_out_codes_or_real_reports(clocked, heard):
    """memory:// keeps its receipts in a bounded part that forgets its oldest keys when full: a flood of
    forged reports would push out the real ones (their status, their de-duplication marks)."""
    from helpers import send_and_collect

    app = clocked(["console"], SMS_RECEIPT_MAX_STORED_BYTES=4 * 1024 * 1024, SMS_IP_LIMITS="", SMS_GLOBAL_LIMITS="")
    client = app.test_client()
    sent, (code,) = send_and_collect(app, client, PHONE)  # the console provider reports it delivered at once
    assert sent.status_code == 200
    (real,) = heard
    answers = [
        client.post(f"/sms_receipts/tencent?token={TOKEN}", data=_forged_push(start, 3_000)).status_code
        for start in range(0, 60_000, 3_000)  # 20 pushes of 3000 reports, each under 1 MB
    ]
    assert answers[0] == 200 and answers[-1] == 503  # the bound is reached: refused, nothing more stored
    assert 1 < len(heard) < 20_000
    with app.app_context():
        assert app.extensions["sms"].receipts.status(real.out_id) == real  # the real report is still known
    verified = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code})
    assert verified.status_code == 200 and verified.get_json()["ok"] is True


def test_forged_pushes_cannot_fill_a_capped_redis(receipt_app, redis_binary, tmp_path, heard):
    import redis
    from helpers import RedisServer

    server = RedisServer(
        redis_binary, tmp_path / "capped", extra=("--maxmemory", "24mb", "--maxmemory-policy", "noeviction")
    )
    server.start()
    try:
        app = receipt_app(
            ["console"],
            SMS_STORAGE_URL=server.url,
            SMS_RECEIPT_MAX_STORED_BYTES=4 * 1024 * 1024,
            SMS_IP_LIMITS="",
            SMS_GLOBAL_LIMITS="",
        )
        client = app.test_client()
        answers = [
            client.post(f"/sms_receipts/tencent?token={TOKEN}", data=_forged_push(start, 3_000)).status_code
            for start in range(0, 90_000, 3_000)
        ]
        assert answers[0] == 200 and answers[-1] == 503
        used = redis.Redis.from_url(server.url).info("memory")["used_memory"]
        assert used < 20 * 1024 * 1024
        # codes and limits can still be written: the flow still sends, and verifies
        from helpers import send_and_collect

        sent, (code,) = send_and_collect(app, client, PHONE)
        assert sent.status_code == 200
        assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["ok"] is True
    finally:
        server.stop()
