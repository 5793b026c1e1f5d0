"""The verification flow on a real Redis server (started by the tests)."""

from __future__ import annotations

import threading

import pytest
import redis
from conftest import storage_app_factory
from helpers import send_and_collect

PHONE = "13800138000"


@pytest.fixture
def redis_app(make_app, redis_server):
    return storage_app_factory(make_app, redis_server.url)


def _send(app, client, phone=PHONE):
    return send_and_collect(app, client, phone)


def test_round_trip_stores_only_an_hmac_in_redis(redis_app, redis_server):
    app = redis_app()
    client = app.test_client()
    response, (code,) = _send(app, client)
    assert response.status_code == 200
    db = redis.Redis.from_url(redis_server.url)
    keys = sorted(key.decode() for key in db.keys("*"))
    code_keys = [key for key in keys if key.endswith(":code")]
    assert code_keys == ["flask_sms:sms:{captcha:+8613800138000}:code"]
    for key in keys:
        if db.type(key) == b"string":
            assert code.encode() not in db.get(key)
    # the phone quotas live beside the code, in the same hash slot
    assert "flask_sms:sms:{captcha:+8613800138000}:quota:5/3600" in keys, keys
    assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["ok"] is True
    assert db.get(code_keys[0]) is None


def test_keys_of_one_phone_share_a_cluster_slot(redis_app, redis_server):
    from redis.crc import key_slot

    app = redis_app()
    client = app.test_client()
    _send(app, client)
    client.post("/sms_captcha/verify", json={"phone": PHONE, "code": "x"})
    db = redis.Redis.from_url(redis_server.url)
    ours = db.keys("flask_sms:sms:*")
    suffixes = {key.split(b"}:", 1)[1] for key in ours}
    assert suffixes == {b"code", b"strangers", b"cooldown", b"quota:5/3600", b"quota:10/86400"}
    assert len({key_slot(key) for key in ours}) == 1


def test_concurrent_verifies_have_one_winner(redis_app):
    app = redis_app()
    _, (code,) = _send(app, app.test_client())
    barrier = threading.Barrier(20)
    statuses = []

    def attempt():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 19


def test_concurrent_sends_give_one_text(redis_app):
    app = redis_app()
    barrier = threading.Barrier(20)
    statuses = []
    with app.extensions["sms"].record_messages() as outbox:

        def attempt():
            client = app.test_client()
            barrier.wait()
            statuses.append(client.post("/sms_captcha/", json={"phone": PHONE}).status_code)

        threads = [threading.Thread(target=attempt) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [200] + [429] * 19
    assert len(outbox) == 1


def test_lockout_then_a_new_code_gets_a_fresh_budget(redis_app):
    app = redis_app()
    client = app.test_client()
    sent, _ = _send(app, client)
    owner = {"phone": PHONE, "code": "1", "nonce": sent.get_json()["nonce"]}
    errors = [client.post("/sms_captcha/verify", json=owner).get_json()["error"] for _ in range(5)]
    assert errors == ["invalid_code"] * 4 + ["too_many_attempts"]
    redis_app.clock.advance(61)
    sent, (code,) = _send(app, client)
    owner = {"phone": PHONE, "code": "1", "nonce": sent.get_json()["nonce"]}
    wrong = client.post("/sms_captcha/verify", json=owner)
    assert wrong.get_json()["error"] == "invalid_code"  # the new code has its own budget
    right = client.post("/sms_captcha/verify", json={**owner, "code": code})
    assert right.get_json()["ok"] is True


def test_cooldown_and_phone_quota_on_redis(redis_app):
    app = redis_app(SMS_PHONE_LIMITS="2/hour")
    client = app.test_client()
    assert _send(app, client)[0].status_code == 200
    response, codes = _send(app, client)
    assert response.status_code == 429 and codes == []
    assert 59 <= int(response.headers["Retry-After"]) <= 60
    redis_app.clock.advance(60)
    assert _send(app, client)[0].status_code == 200
    redis_app.clock.advance(60)
    response, codes = _send(app, client)
    assert response.status_code == 429 and codes == []  # the hourly quota, counted in Redis


def test_outage_fails_closed_then_recovers(redis_app, redis_server):
    app = redis_app()
    client = app.test_client()
    _, (code,) = _send(app, client)
    redis_server.stop()

    response, codes = _send(app, client, phone="13900139000")
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"
    assert codes == []  # nothing was sent
    response = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code})
    assert response.status_code == 503 and response.get_json()["error"] == "unavailable"

    redis_server.start()  # an empty server on the same port: the app reconnects by itself
    response, codes = _send(app, client, phone="13900139000")
    assert response.status_code == 200 and len(codes) == 1
    ok = client.post("/sms_captcha/verify", json={"phone": "13900139000", "code": codes[0]})
    assert ok.get_json()["ok"] is True
