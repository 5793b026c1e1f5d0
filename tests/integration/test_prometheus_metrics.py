"""Prometheus metrics: the fixed names, no phone number in any label, the default registry, gunicorn's 4 workers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import config_problems

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client import REGISTRY

from flask_sms import SmsExtension

TESTS = Path(__file__).resolve().parents[1]
NAMES = (
    "flask_sms_sends_total",
    "flask_sms_send_duration_seconds_count",
    "flask_sms_codes_sent_total",
    "flask_sms_codes_verified_total",
    "flask_sms_refusals_total",
    "flask_sms_delivery_reports_total",
    "flask_sms_breaker_open",
    "flask_sms_fraud_decisions_total",
)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_flow_counts_sends_codes_verifications_and_refusals(make_app, fake):
    app = make_app(["aliyun", "tencent"], SMS_RESEND_INTERVAL=60)
    client = app.test_client()
    before = {
        "aliyun_failed": value("flask_sms_sends_total", provider="aliyun", outcome="failed", channel="sms"),
        "tencent_sent": value("flask_sms_sends_total", provider="tencent", outcome="sent", channel="sms"),
        "timed": value("flask_sms_send_duration_seconds_count", provider="aliyun"),
        "codes": value("flask_sms_codes_sent_total", purpose="captcha", channel="sms"),
        "verified": value("flask_sms_codes_verified_total", purpose="captcha"),
        "limited": value("flask_sms_refusals_total", reason="rate_limited"),
        "invalid": value("flask_sms_refusals_total", reason="invalid_code"),
    }
    fake.set_mode("aliyun", "business_error", times=1)  # fails over to tencent
    assert client.post("/sms_captcha/", json={"phone": "13800138000"}).status_code == 200
    assert client.post("/sms_captcha/", json={"phone": "13800138000"}).status_code == 429
    assert client.post("/sms_captcha/verify", json={"phone": "13800138000", "code": "000000x"}).status_code == 400
    code = fake.received("tencent")[-1].params[0]
    assert client.post("/sms_captcha/verify", json={"phone": "13800138000", "code": code}).status_code == 200
    assert (
        value("flask_sms_sends_total", provider="aliyun", outcome="failed", channel="sms")
        == before["aliyun_failed"] + 1
    )
    assert (
        value("flask_sms_sends_total", provider="tencent", outcome="sent", channel="sms") == before["tencent_sent"] + 1
    )
    assert value("flask_sms_send_duration_seconds_count", provider="aliyun") == before["timed"] + 1
    assert value("flask_sms_codes_sent_total", purpose="captcha", channel="sms") == before["codes"] + 1
    assert value("flask_sms_codes_verified_total", purpose="captcha") == before["verified"] + 1
    assert value("flask_sms_refusals_total", reason="rate_limited") == before["limited"] + 1
    assert value("flask_sms_refusals_total", reason="invalid_code") == before["invalid"] + 1


def test_delivery_reports_and_the_breaker_gauge(make_app, fake):
    app = make_app(["aliyun", "console"], SMS_CIRCUIT_BREAKER={"failures": 2, "window": 60, "cooldown": 30})
    reports = value("flask_sms_delivery_reports_total", provider="console", status="delivered")
    assert value("flask_sms_breaker_open", provider="aliyun") == 0  # the series exists from the start
    fake.set_mode("aliyun", "http_500")
    with app.app_context():
        for _ in range(2):
            app.extensions["sms"].send("13800138000", "captcha", {"code": "1234"})
    assert value("flask_sms_breaker_open", provider="aliyun") == 1
    assert value("flask_sms_delivery_reports_total", provider="console", status="delivered") == reports + 2
    fake.set_mode("aliyun", "ok")
    app.extensions["sms"].clock = lambda: time.time() + 31  # past the cool-down: the probe closes it
    with app.app_context():
        app.extensions["sms"].send("13800138000", "captcha", {"code": "1234"})
    assert value("flask_sms_breaker_open", provider="aliyun") == 0


def test_every_name_is_registered_and_no_label_holds_a_phone_number(make_app):
    app = make_app(["console"], SMS_SUPPRESS_SEND=False)
    client = app.test_client()
    client.post("/sms_captcha/", json={"phone": "13912345678"})
    client.post("/sms_captcha/", json={"phone": "13912345678"})
    text = prometheus_client.generate_latest(REGISTRY).decode()
    for name in NAMES:
        base = name.removesuffix("_total").removesuffix("_count")
        assert re.search(rf"^# TYPE {base}(_total)? ", text, re.MULTILINE), name
    labels = re.findall(r"^flask_sms_\w+\{([^}]*)\}", text, re.MULTILINE)
    assert labels and not [label for label in labels if re.search(r"\d{7}", label)]


def test_sms_metrics_false_turns_them_off_and_true_needs_prometheus_client(make_app, monkeypatch):
    app = make_app(["console"], SMS_SUPPRESS_SEND=False, SMS_METRICS=False)
    before = value("flask_sms_codes_sent_total", purpose="captcha", channel="sms")
    assert app.test_client().post("/sms_captcha/", json={"phone": "13700137000"}).status_code == 200
    assert value("flask_sms_codes_sent_total", purpose="captcha", channel="sms") == before
    import importlib.util

    from flask import Flask

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "prometheus_client" else real(name, *a)
    )
    bare = Flask("no_prometheus")
    bare.config.update(SECRET_KEY="a-long-enough-secret-key-for-the-test", SMS_PROVIDERS=["console"], SMS_METRICS=True)
    (problem,) = config_problems(SmsExtension(bare), bare)
    assert problem.startswith("SMS_METRICS is True but prometheus_client is not installed")


def test_four_gunicorn_workers_add_up_in_multiprocess_mode(fake, redis_server, tmp_path):
    from conftest import need_module, vendor_config
    from helpers import free_port, gunicorn_command

    need_module("gunicorn")
    port = free_port()
    config = {
        "SECRET_KEY": "a-long-enough-secret-key-for-the-test",
        "SMS_PROVIDERS": ["aliyun"],
        "SMS_STORAGE_URL": redis_server.url,
        "SMS_IP_LIMITS": "",
        "SMS_GLOBAL_LIMITS": "",
        "SMS_FRAUD_GUARD": None,  # dozens of codes to one prefix from one address: pumping, to the guard
        **vendor_config(fake.url, fake.host),
    }
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {name: v for name, v in os.environ.items() if not name.startswith("FLASK_")}
    env.update({f"FLASK_{key}": json.dumps(v) for key, v in config.items()})
    env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    command = gunicorn_command(port, "-w", "4", logfile=tmp_path / "gunicorn.log")
    command[-1] = "metrics_app:create_app()"
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)

        def send(phone: str) -> tuple[int, str]:
            request = urllib.request.Request(
                f"{base}/sms_captcha/",
                data=json.dumps({"phone": phone}).encode(),
                headers={"Content-Type": "application/json", "X-Test-Hold": "0.2"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, response.headers["X-Worker-Pid"]
            except urllib.error.HTTPError as error:
                return error.code, error.headers["X-Worker-Pid"]

        phones = [f"1380013{n:04d}" for n in range(16)] + ["13800130000"] * 4  # 16 texts, 4 refused (cool-down)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(send, phones))
        assert sorted(status for status, _ in answers) == [200] * 16 + [429] * 4
        assert len({pid for _, pid in answers}) >= 2, "the sends were not spread over the workers"
        with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
            text = response.read().decode()
    finally:
        server.terminate()
        server.wait(20)
    assert sample(text, 'flask_sms_codes_sent_total{channel="sms",purpose="captcha"}') == 16
    assert sample(text, 'flask_sms_sends_total{channel="sms",outcome="sent",provider="aliyun"}') == 16
    assert sample(text, 'flask_sms_refusals_total{reason="rate_limited"}') == 4
    assert sample(text, 'flask_sms_send_duration_seconds_count{provider="aliyun"}') == 16
    assert sample(text, 'flask_sms_breaker_open{provider="aliyun"}') == 0  # livemostrecent: one value, not 4


def sample(text: str, series: str) -> float:
    found = [line.split()[-1] for line in text.splitlines() if line.startswith(series + " ")]
    assert len(found) == 1, (series, [line for line in text.splitlines() if line.startswith(series.split("{")[0])])
    return float(found[0])


def wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_scale/pid", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_calls_count_under_the_voice_channel(make_app):
    app = make_app(["console"], SMS_SUPPRESS_SEND=False, SMS_VOICE_PROVIDERS=["console"], SMS_VOICE_AFTER=0)
    client = app.test_client()
    before = value("flask_sms_codes_sent_total", purpose="captcha", channel="voice")
    calls = value("flask_sms_sends_total", provider="console", outcome="sent", channel="voice")
    assert client.post("/sms_captcha/", json={"phone": "13600136000"}).status_code == 200
    assert client.post("/sms_captcha/", json={"phone": "13600136000", "channel": "voice"}).status_code == 200
    assert value("flask_sms_codes_sent_total", purpose="captcha", channel="voice") == before + 1
    assert value("flask_sms_sends_total", provider="console", outcome="sent", channel="voice") == calls + 1
