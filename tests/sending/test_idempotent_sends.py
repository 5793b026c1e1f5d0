"""``send_sms(..., out_id=..., idempotent=True)``: at most one text per out_id, across workers."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_py

from flask_sms import DuplicateSend, SendError, send_sms


@pytest.fixture
def on_redis(make_app, redis_server):
    """Two apps on one Redis: two workers of one deployment."""

    def factory(**config):
        return make_app(["aliyun"], SMS_STORAGE_URL=redis_server.url, **config)

    return factory


def send(app, out_id="order-42:shipped", **kwargs):
    with app.app_context():
        return send_sms("13800138000", "notice", {"name": "Li"}, out_id=out_id, idempotent=True, **kwargs)


def test_a_second_call_returns_the_first_result_without_sending(on_redis, fake):
    first_worker, second_worker = on_redis(), on_redis()
    first = send(first_worker)
    again = send(second_worker)
    assert len(fake.received("aliyun")) == 1
    assert again == first and again.ok and again.out_id == "order-42:shipped"
    assert again.attempts[0].phones == ("+8613800138000",) and again.messages == first.messages
    send(first_worker, out_id="order-43:shipped")  # another out_id is another text
    assert len(fake.received("aliyun")) == 2


def test_in_flight_the_second_call_gets_duplicate_send(on_redis, fake):
    first_worker, second_worker = on_redis(SMS_TIMEOUT=10), on_redis()
    fake.set_mode("aliyun", "hang", seconds=3, times=1)
    results = []
    thread = threading.Thread(target=lambda: results.append(send(first_worker)))
    thread.start()
    deadline = time.monotonic() + 10
    while not fake.received("aliyun") and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(DuplicateSend) as in_flight:
        send(second_worker)
    assert in_flight.value.out_id == "order-42:shipped"
    thread.join(15)
    assert results and results[0].ok
    assert send(second_worker) == results[0]  # done: now the result
    assert len(fake.received("aliyun")) == 1


def test_nothing_sent_gives_the_claim_back(on_redis, fake):
    app = on_redis()
    fake.set_mode("aliyun", "business_error", times=1)
    with pytest.raises(SendError):
        send(app)
    assert send(app).ok  # the retry sends
    assert len(fake.received("aliyun")) == 2


def test_a_text_that_may_have_gone_out_is_not_sent_again(on_redis, fake):
    app = on_redis()
    fake.set_mode("aliyun", "garbage", times=1)  # an unreadable 200: maybe sent
    first = send(app)
    assert first.unknown and not first.ok
    assert send(app) == first and len(fake.received("aliyun")) == 1


def test_the_record_lives_sms_idempotency_ttl(on_redis, redis_server):
    send(on_redis(SMS_IDEMPOTENCY_TTL=3600))
    client = redis_py.Redis.from_url(redis_server.url)
    (key,) = client.keys("*sms:sent:{order-42:shipped}")
    assert 3590 <= client.ttl(key) <= 3600


def test_idempotent_without_an_out_id_is_a_type_error(make_app):
    app = make_app(["aliyun"])
    with app.app_context(), pytest.raises(TypeError, match="out_id"):
        send_sms("13800138000", "notice", {"name": "Li"}, idempotent=True)


def test_on_memory_within_one_process(make_app, fake):
    app = make_app(["aliyun"])
    assert send(app) == send(app)
    assert len(fake.received("aliyun")) == 1
