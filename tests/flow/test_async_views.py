"""Async Flask views (Flask's asgiref bridge) run flask_sms's blocking calls as the README says:
``await asyncio.to_thread(sms.send_code, ...)``, with the app and request context carried into the thread."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import skip_or_fail
from flask import jsonify, request

from flask_sms import RateLimited

PHONE = "13800138000"
VENDOR_DELAY = 0.3


async def ticks_during(work, every: float = 0.02):
    """Run ``work`` while a ticker counts; a loop blocked by ``work`` would count (almost) nothing."""
    count = 0
    done = False

    async def ticker():
        nonlocal count
        while not done:
            await asyncio.sleep(every)
            count += 1

    task = asyncio.ensure_future(ticker())
    try:
        result = await work
    finally:
        done = True
        await task
    return result, count


@pytest.fixture
def app(make_app, fake):
    try:
        import asgiref  # noqa: F401 -- Flask runs async views through it ("flask[async]")
    except ImportError:
        skip_or_fail('asgiref is not installed: pip install "flask[async]" (the test extra has it)')
    fake.delay = VENDOR_DELAY  # every vendor reply takes 300 ms
    app = make_app(["aliyun"], SMS_IP_LIMITS="1/hour", SMS_PHONE_LIMITS="", SMS_GLOBAL_LIMITS="")
    sms = app.extensions["sms"]
    seen = []

    @sms.before_send
    def remember(phone, purpose, req):
        seen.append(req.headers.get("X-Trace"))  # the request reached the worker thread

    @app.post("/async/code")
    async def code():
        try:
            sent, ticks = await ticks_during(asyncio.to_thread(sms.send_code, request.json["phone"]))
        except RateLimited as exc:
            return jsonify(limited=exc.retry_after), 429
        return jsonify(resend_after=sent.resend_after, ticks=ticks, seen=seen)

    @app.post("/async/verify")
    async def verify():
        result, ticks = await ticks_during(
            asyncio.to_thread(sms.verify_code, request.json["phone"], request.json["code"])
        )
        return jsonify(ok=bool(result), reason=result.reason, ticks=ticks)

    @app.post("/async/send")
    async def send():
        result, ticks = await ticks_during(
            asyncio.to_thread(sms.send, PHONE, "captcha", {"code": "1234", "minutes": 5})
        )
        return jsonify(provider=result.provider, ticks=ticks)

    return app


def test_send_code_in_a_thread_does_not_block_the_event_loop(app, fake):
    client = app.test_client()
    started = time.monotonic()
    response = client.post("/async/code", json={"phone": PHONE}, headers={"X-Trace": "abc"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resend_after"] == 60 and body["seen"] == ["abc"]
    assert elapsed >= VENDOR_DELAY
    assert body["ticks"] >= 5  # 300 ms of vendor wait, a tick every 20 ms: the loop kept running
    assert len(fake.received("aliyun")) == 1


def test_the_request_context_reaches_the_thread_for_the_client_limits(app):
    client = app.test_client()
    assert client.post("/async/code", json={"phone": PHONE}).status_code == 200
    limited = client.post("/async/code", json={"phone": "13900139000"})  # SMS_IP_LIMITS 1/hour for this IP
    assert limited.status_code == 429 and limited.get_json()["limited"] > 0


def test_verify_code_and_send_in_a_thread(app, fake):
    client = app.test_client()
    assert client.post("/async/code", json={"phone": PHONE}).status_code == 200
    (received,) = fake.received("aliyun")
    code = received.params["code"]
    wrong = client.post("/async/verify", json={"phone": PHONE, "code": "000000" if code != "000000" else "111111"})
    assert wrong.get_json()["reason"] == "invalid_code"
    right = client.post("/async/verify", json={"phone": PHONE, "code": code})
    assert right.get_json()["ok"] is True
    sent = client.post("/async/send").get_json()
    assert sent["provider"] == "aliyun" and sent["ticks"] >= 5
