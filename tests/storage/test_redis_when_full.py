"""Redis when it is full (issue 18): every key has a TTL, ``flask sms check`` reads ``maxmemory-policy``,
and a full Redis under ``noeviction`` refuses (503) and forgets nothing. Real ``redis-server`` each time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from helpers import FakeClock, RedisServer

from flask_sms import SmsExtension

PHONE, E164 = "13800138000", "+8613800138000"
RECEIPT_TOKEN = "receipt-token-0123456789abcdef"
POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)


@pytest.fixture
def start_redis(redis_binary: str, tmp_path: Any) -> Iterator[Callable[..., RedisServer]]:
    servers: list[RedisServer] = []

    def start(*extra: str) -> RedisServer:
        server = RedisServer(redis_binary, tmp_path / f"redis{len(servers)}", extra=extra).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def check_output(app: Flask) -> tuple[int, str, str]:
    """``flask sms check``: (exit code, stdout, stderr)."""
    kwargs = {"mix_stderr": False} if _mixes() else {}
    result = app.test_cli_runner(**kwargs).invoke(args=["sms", "check"])
    return result.exit_code, result.stdout, result.stderr


def _mixes() -> bool:
    """click < 8.2 mixes stderr into the output unless told not to; 8.2 keeps them apart and has no switch."""
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


# -- every key has a TTL -----------------------------------------------------------------------------
def test_every_key_flask_sms_writes_on_redis_has_a_ttl(make_app, fake, redis_server):
    """Under ``noeviction`` a key without a TTL would stay until Redis is full for good; under ``volatile-*``
    it could never be evicted. So every key flask_sms writes expires: sends, failovers and an open breaker,
    wrong and right codes, redeemed tokens, the per-IP, app-wide and verify limits, receipts."""
    app = make_app(
        ["aliyun", "tencent"],
        SMS_STORAGE_URL=redis_server.url,
        SMS_RECEIPT_TOKEN=RECEIPT_TOKEN,
        SMS_CIRCUIT_BREAKER={"failures": 1, "window": 60, "cooldown": 30},
    )
    sms = app.extensions["sms"]
    client = app.test_client()
    fake.set_mode("aliyun", "http_500", times=1)  # fails over to tencent; aliyun's breaker opens
    with sms.record_messages() as outbox:
        assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 200
        assert client.post("/sms_captcha/", json={"phone": "13900139000"}).status_code == 200
    code = outbox[0].params["code"]
    assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": "000000"}).status_code == 400
    assert client.post("/sms_captcha/verify", json={"phone": "13900139000", "code": "000000"}).status_code == 400
    token = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["token"]
    with app.app_context():
        assert sms.redeem_token(token) == E164
    push = [{"nationcode": "86", "mobile": PHONE, "report_status": "SUCCESS", "sid": "s-1", "ext": "order-1"}]
    assert client.post(f"/sms_receipts/tencent?token={RECEIPT_TOKEN}", json=push).status_code == 200

    server = redis.Redis(port=redis_server.port)
    keys = sorted(key.decode() for key in server.scan_iter(count=1000))
    kinds = {":code", ":strangers", ":cooldown", ":quota:", "sms:token:", "{breaker}", "sms:receipt:", "LIMITER/"}
    kinds |= {"{guard}:app", "{guard}:v:", "{guard}:code:"}  # the fraud guard's books
    assert {kind for kind in kinds if any(kind in key for key in keys)} == kinds, keys  # the workload wrote each
    without_ttl = [key for key in keys if server.ttl(key) < 0]
    assert without_ttl == []


# -- flask sms check reads maxmemory-policy ---------------------------------------------------------------
@pytest.mark.parametrize("policy", POLICIES)
def test_flask_sms_check_warns_on_a_policy_that_evicts(make_app, start_redis, policy):
    server = start_redis("--maxmemory", "64mb", "--maxmemory-policy", policy)
    app = make_app(["console"], SMS_STORAGE_URL=server.url)
    exit_code, out, err = check_output(app)
    assert exit_code == 0 and "config OK" in out  # a warning, not a config problem
    if policy == "noeviction":
        assert "warning" not in err
    else:
        assert f"has maxmemory-policy {policy!r}" in err and "set maxmemory-policy 'noeviction'" in err
        assert err.count("warning:") == 1  # the codes and the limits are on one Redis: said once


@pytest.mark.parametrize(
    "refusal",
    [("--rename-command", "CONFIG", ""), ("--user", "default", "on", "nopass", "~*", "&*", "+@all", "-config")],
    ids=["config-renamed", "acl-denies-config"],
)
def test_check_says_so_when_redis_refuses_config(make_app, start_redis, refusal):
    """A managed Redis may rename CONFIG or deny it by ACL: the check says it could not tell, never crashes."""
    server = start_redis(*refusal)
    app = make_app(["console"], SMS_STORAGE_URL=server.url)
    exit_code, out, err = check_output(app)
    assert exit_code == 0 and "config OK" in out
    assert "could not read maxmemory-policy" in err and "Traceback" not in out + err


def test_check_warns_about_a_simplecache_passed_as_cache(make_app):
    """The app's own SimpleCache, passed as ``cache=``, evicts the soonest-expiring keys past its threshold."""
    from flask_caching import Cache

    app = Flask("own_cache")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"])
    SmsExtension(app, cache=Cache(app, config={"CACHE_TYPE": "SimpleCache"}))
    exit_code, out, err = check_output(app)
    assert exit_code == 0 and "config OK" in out
    assert "is a SimpleCache" in err and "flask_sms.memory.MemoryCache" in err


def test_memory_storage_has_no_policy_to_warn_about(make_app):
    exit_code, out, err = check_output(make_app(["console"]))
    assert exit_code == 0 and "config OK" in out and "warning" not in err


# -- a full Redis under noeviction refuses and forgets nothing --------------------------------------------
def _fill(server: RedisServer) -> redis.Redis:
    """Write junk (with a TTL) until Redis refuses: it is at maxmemory."""
    junk = redis.Redis(port=server.port)
    for index in range(100_000):
        try:
            junk.set(f"junk:{index}", b"x" * 16_384, ex=86_400)
        except redis.exceptions.ResponseError as exc:
            assert "maxmemory" in str(exc)
            # A full Redis hovers at the limit (a freed buffer lets the odd small write through); hold it
            # just over, so every write of this test meets a full Redis.
            junk.config_set("maxmemory", int(junk.info("memory")["used_memory"]) - 256 * 1024)
            return junk
    raise AssertionError("Redis never filled")


def test_a_full_redis_under_noeviction_refuses_and_forgets_nothing(make_app, start_redis):
    server = start_redis("--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
    clock = FakeClock()
    app = make_app(
        ["console"],
        storage_url=server.url,
        limits_off=("ip", "global", "verify_ip"),
        clock=clock,
        SMS_SUPPRESS_SEND=True,
    )
    sms = app.extensions["sms"]
    client = app.test_client()
    with sms.record_messages() as outbox:
        assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 200
    code = outbox[0].params["code"]
    junk = _fill(server)

    with sms.record_messages() as outbox:
        refused = client.post("/sms_captcha/", json={"phone": "13900139000"})
    assert refused.status_code == 503 and refused.get_json()["error"] == "unavailable" and outbox == []
    # A right code and a wrong one get the same answer: a full Redis is no oracle for guesses it cannot count.
    for typed in (code, "000000" if code != "000000" else "111111"):
        answer = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": typed})
        assert answer.status_code == 503 and answer.get_json()["error"] == "unavailable"

    junk.delete(*[key for key in junk.scan_iter("junk:*", count=1000)])  # memory frees up
    clock.advance(2)
    again = client.post("/sms_captcha/", json={"phone": PHONE})
    assert again.status_code == 429  # the cool-down was kept
    assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["ok"] is True
