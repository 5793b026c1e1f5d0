"""Verification tokens are bound to the app that minted them (issue 18, SMS_TOKEN_AUDIENCE).

The attacks: a token minted by a staging app that shares ``SECRET_KEY`` with production was
redeemed in production; one token was redeemed once in each of two apps (each keeps its own
record of redeemed ids). Both failed before the audience.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_sms import ConfigError, SmsExtension

SECRET = "one-secret-key-shared-by-every-app"
PHONE, E164 = "13800138000", "+8613800138000"


def flow_app(import_name: str = "shop", **config: Any) -> Flask:
    app = Flask(import_name)
    app.config.update(
        SECRET_KEY=SECRET,
        SMS_PROVIDERS=["console"],
        SMS_SUPPRESS_SEND=True,
        SMS_IP_LIMITS="",
        SMS_GLOBAL_LIMITS="",
        SMS_VERIFY_IP_LIMITS="",
        **config,
    )
    SmsExtension(app).check(app)
    return app


def verified_token(app: Flask, phone: str = PHONE) -> str:
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        assert client.post("/sms_captcha/", json={"phone": phone}).status_code == 200
    response = client.post("/sms_captcha/verify", json={"phone": phone, "code": outbox[0].params["code"]})
    return str(response.get_json()["token"])


def redeem(app: Flask, token: str) -> str | None:
    with app.app_context():
        return app.extensions["sms"].redeem_token(token)


def test_a_token_minted_by_staging_is_refused_in_production():
    """The attack: staging (same code, same import name, same SECRET_KEY) minted a token that production redeemed."""
    production = flow_app(SMS_TOKEN_AUDIENCE="shop-production")
    staging = flow_app(SMS_TOKEN_AUDIENCE="shop-staging")
    assert redeem(production, verified_token(staging)) is None
    assert redeem(production, verified_token(production, "13900139000")) == "+8613900139000"


def test_one_token_redeems_in_one_app_only():
    """The attack: one token was redeemed once in each of two apps sharing SECRET_KEY."""
    shop, admin = flow_app("shop"), flow_app("admin")
    token = verified_token(shop)
    assert redeem(admin, token) is None  # the default audience is the app's import name
    assert redeem(shop, token) == E164
    assert redeem(shop, token) is None
    assert redeem(admin, verified_token(admin)) == E164


def test_refusing_another_apps_token_does_not_use_it_up():
    shop, admin = flow_app("shop"), flow_app("admin")
    token = verified_token(shop)
    assert redeem(admin, token) is None
    assert redeem(shop, token) == E164


def test_apps_with_the_same_audience_share_tokens_and_their_storage_decides_single_use(redis_server):
    """Two apps that are one service (the same audience) on one Redis: a token redeems once across both."""
    one = flow_app("shop", SMS_TOKEN_AUDIENCE="shop", SMS_STORAGE_URL=redis_server.url)
    two = flow_app("shop_worker", SMS_TOKEN_AUDIENCE="shop", SMS_STORAGE_URL=redis_server.url)
    token = verified_token(one)
    assert redeem(two, token) == E164
    assert redeem(one, token) is None


def test_the_audience_is_a_config_key():
    app = flow_app("shop")
    assert app.config["SMS_TOKEN_AUDIENCE"] == "shop"
    assert app.extensions["sms"].check(app).captcha.token_audience == "shop"
    for bad in ("", "x" * 201, 42.5):
        with pytest.raises(ConfigError, match="SMS_TOKEN_AUDIENCE"):
            flow_app("shop", SMS_TOKEN_AUDIENCE=bad)
