"""The four built-in human checks (SMS_CHALLENGE), each against the loopback fake of its vendor's own
server-side check (tests/fake_captcha.py): Tencent through its SDK, Aliyun through aliyun-python-sdk-core's
CommonRequest, GeeTest and Turnstile over HTTP."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from fake_captcha import KEYS, CaptchaFake
from fakes.turnstile import (
    TURNSTILE_DUMMY_TOKEN,
    TURNSTILE_FAIL,
    TURNSTILE_PASS,
    TURNSTILE_SPENT,
)
from flask import Flask

from flask_sms.challenge import challenge_settings

PROVIDERS = ["tencent", "aliyun", "geetest", "turnstile"]


@pytest.fixture(scope="module")
def captcha_fake() -> Iterator[CaptchaFake]:
    fake = CaptchaFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def checks(captcha_fake: CaptchaFake) -> Iterator[CaptchaFake]:
    captcha_fake.mode = "ok"
    captcha_fake.checked.clear()
    yield captcha_fake
    captcha_fake.mode = "ok"


def always_app(make_app: Any, challenge: dict[str, str]) -> Flask:
    return make_app(["console"], SMS_SUPPRESS_SEND=True, SMS_CHALLENGE=challenge, SMS_CHALLENGE_MODE="always")


def post(app: Flask, phone: str, challenge: Any = None, address: str = "58.20.1.9") -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    body: dict[str, Any] = {"phone": phone}
    if challenge is not None:
        body["challenge"] = challenge
    return client.post("/sms_captcha/", json=body)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_solved_check_passes_once_and_a_wrong_one_is_refused(make_app, checks, provider):
    app = always_app(make_app, checks.settings(provider))
    assert post(app, "13800138000").get_json()["error"] == "challenge_required"
    solved = checks.solve(provider)
    with app.extensions["sms"].record_messages() as outbox:
        assert post(app, "13800138000", solved).status_code == 200
    assert len(outbox) == 1
    again = post(app, "13900139000", solved)  # each vendor's token is single use
    assert again.status_code == 400 and again.get_json()["error"] == "challenge_failed"
    forged = {name: "forged" for name in solved}
    assert post(app, "13700137000", forged).get_json()["error"] == "challenge_failed"
    missing = post(app, "13600136000", {"token": "x"} if provider != "turnstile" else {"ticket": "x"})
    assert missing.get_json()["error"] == "challenge_failed"  # not this vendor's fields: never sent to it


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unreachable_check_refuses_the_challenged_request(make_app, checks, provider):
    app = always_app(make_app, checks.settings(provider))
    checks.mode = "http_500"
    refused = post(app, "13800138000", checks.solve(provider))
    assert refused.status_code == 503 and refused.get_json()["error"] == "unavailable"  # fail closed


@pytest.mark.parametrize("provider", ["tencent", "aliyun", "geetest"])
def test_the_vendor_checks_our_credentials(make_app, checks, provider):
    """A wrong key is the vendor's refusal (its signature check, or GeeTest's sign_token), never a pass."""
    wrong = dict(checks.settings(provider))
    secret = {"tencent": "secret_key", "aliyun": "access_key_secret", "geetest": "captcha_key"}[provider]
    wrong[secret] = "not-the-key"
    app = always_app(make_app, wrong)
    outcome = post(app, "13800138000", checks.solve(provider))
    assert outcome.status_code in (400, 503) and outcome.get_json()["error"] in ("challenge_failed", "unavailable")


def test_what_each_vendor_is_asked(make_app, checks):
    """The fields each vendor's documentation names, with the client's address."""
    for provider in PROVIDERS:
        app = always_app(make_app, checks.settings(provider))
        solved = checks.solve(provider)
        assert post(app, "13800138000", solved, address="58.20.1.9").status_code == 200
    asked = dict(checks.checked)
    assert asked["turnstile"]["remoteip"] == "58.20.1.9" and asked["turnstile"]["secret"] == KEYS["turnstile"]["secret"]
    tencent = asked["tencent"]
    assert tencent["CaptchaType"] == 9 and tencent["UserIp"] == "58.20.1.9"
    assert tencent["CaptchaAppId"] == int(KEYS["tencent"]["captcha_app_id"])
    assert {"Ticket", "Randstr", "AppSecretKey"} <= set(tencent)
    aliyun = asked["aliyun"]
    assert aliyun["Action"] == "VerifyIntelligentCaptcha" and aliyun["Version"] == "2023-03-05"
    assert aliyun["SignatureMethod"] == "HMAC-SHA1" and "CaptchaVerifyParam" in aliyun
    geetest = asked["geetest"]
    key = KEYS["geetest"]["captcha_key"].encode()
    assert geetest["sign_token"] == hmac.new(key, geetest["lot_number"].encode(), hashlib.sha256).hexdigest()
    assert geetest["captcha_id"] == KEYS["geetest"]["captcha_id"]
    assert {"captcha_output", "pass_token", "gen_time"} <= set(geetest)


@pytest.mark.parametrize(
    ("secret", "passes"), [(TURNSTILE_PASS, True), (TURNSTILE_FAIL, False), (TURNSTILE_SPENT, False)]
)
def test_turnstiles_published_test_keys(make_app, checks, secret, passes):
    """Cloudflare's documented test secrets: always passes, always fails, token already spent."""
    app = always_app(make_app, {"provider": "turnstile", "secret": secret, "endpoint": checks.url})
    outcome = post(app, "13800138000", {"token": TURNSTILE_DUMMY_TOKEN})
    assert (outcome.status_code == 200) is passes
    if not passes:
        assert outcome.get_json()["error"] == "challenge_failed"


def test_credentials_never_reach_a_log_or_an_answer(make_app, checks, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    for provider in PROVIDERS:
        app = always_app(make_app, checks.settings(provider))
        checks.mode = "http_500"
        answer = post(app, "13800138000", checks.solve(provider)).get_data(as_text=True)
        checks.mode = "ok"
        for secret in ("secret", "secret_key", "app_secret_key", "access_key_secret", "captcha_key"):
            value = KEYS[provider].get(secret)
            if value:
                assert value not in answer and value not in caplog.text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"provider": "recaptcha"}, "must be a mapping with a 'provider'"),
        (
            {"provider": "tencent", "secret_id": "a"},
            "for 'tencent' needs 'secret_key', 'app_secret_key', 'captcha_app_id'",
        ),
        ({"provider": "turnstile", "secret": "s", "colour": "red"}, "has unknown keys ['colour']"),
        ({"provider": "turnstile", "secret": "s", "endpoint": "ftp://x"}, "'endpoint' must be a URL"),
    ],
)
def test_config_problems(value, problem):
    from flask_sms.options import Invalid

    with pytest.raises(Invalid) as raised:
        challenge_settings(value)
    assert any(problem in text for text in raised.value.problems), raised.value.problems
