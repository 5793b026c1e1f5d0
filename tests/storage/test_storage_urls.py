"""``SMS_STORAGE_URL`` schemes against real servers: password, TLS (rediss://) and Sentinel."""

from __future__ import annotations

import subprocess
import time

import pytest
import redis
from conftest import need_binary
from helpers import RedisServer, free_port

PHONE = "13800138000"


def _round_trip(make_app, url, **config):
    app = make_app(["console"], SMS_SUPPRESS_SEND=True, SMS_STORAGE_URL=url, **config)
    client = app.test_client()
    sms = app.extensions["sms"]
    with sms.record_messages() as outbox:
        assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 200
        assert client.post("/sms_captcha/", json={"phone": PHONE}).status_code == 429  # the cool-down is stored
    (message,) = outbox
    verified = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": message.params["code"]})
    assert verified.get_json()["ok"] is True
    return app


def test_password_in_url_works_and_never_reaches_the_log(make_app, redis_binary, tmp_path, caplog, capfd):
    server = RedisServer(redis_binary, tmp_path / "pw", extra=("--requirepass", "s3cret-redis-pw")).start()
    try:
        with caplog.at_level("DEBUG"):
            _round_trip(make_app, f"redis://:s3cret-redis-pw@127.0.0.1:{server.port}/0")
        assert "redis://:***@127.0.0.1" in caplog.text
        out, err = capfd.readouterr()
        assert "s3cret-redis-pw" not in caplog.text + out + err
    finally:
        server.stop()


def test_wrong_password_is_a_503_not_a_500(make_app, redis_binary, tmp_path):
    server = RedisServer(redis_binary, tmp_path / "pw", extra=("--requirepass", "right")).start()
    try:
        app = make_app(["console"], SMS_SUPPRESS_SEND=True, SMS_STORAGE_URL=f"redis://:wrong@127.0.0.1:{server.port}/0")
        response = app.test_client().post("/sms_captcha/", json={"phone": PHONE})
        assert response.status_code == 503 and response.get_json()["error"] == "unavailable"
        assert "wrong" not in response.get_data(as_text=True)
    finally:
        server.stop()


@pytest.fixture
def tls_redis(redis_binary, tmp_path):
    openssl = need_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            redis_binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield url
    process.kill()
    process.wait()


def test_rediss_tls(make_app, tls_redis):
    _round_trip(make_app, tls_redis)
    keys = redis.Redis.from_url(tls_redis).keys("flask_sms:*")
    assert keys  # the codes really live on the TLS server


@pytest.fixture
def sentinel(redis_binary, tmp_path):
    master = RedisServer(redis_binary, tmp_path / "master").start()
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor mymaster 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds mymaster 2000\n"
    )
    process = subprocess.Popen(
        [redis_binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            if redis.Redis(port=port).sentinel_get_master_addr_by_name("mymaster"):
                break
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            master.stop()
            raise RuntimeError("sentinel did not start")
        time.sleep(0.05)
    yield f"redis+sentinel://127.0.0.1:{port}/mymaster", master
    process.kill()
    process.wait()
    master.stop()


def test_redis_sentinel(make_app, sentinel):
    url, master = sentinel
    _round_trip(make_app, url)
    keys = redis.Redis(port=master.port).keys("*")
    assert any(key.startswith(b"flask_sms:sms:{captcha:+8613800138000}") for key in keys)
    assert any(b"LIMITER/flask_sms/ip/" in key for key in keys)  # Flask-Limiter's counters, on the same master


def test_unknown_scheme_is_a_config_error(make_app):
    from flask_sms import ConfigError

    with pytest.raises(ConfigError, match="SMS_STORAGE_URL"):
        make_app(["console"], SMS_STORAGE_URL="memcached://127.0.0.1:11211")
