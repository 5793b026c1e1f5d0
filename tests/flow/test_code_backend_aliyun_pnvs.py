"""Vendor-checked codes (SMS_CODE_BACKEND = "aliyun_pnvs"), through aliyun-python-sdk-core against the fake's PNVS.

Aliyun makes and texts the code (the fake keeps it, as a phone would show it) and checks
it; the flow keeps its cool-down, quotas, limits, attempt cap and token, and never the code.
"""

from __future__ import annotations

from typing import Any

import pytest
from fake_vendor import unused_port

from flask_sms import ConfigError, code_sent, code_verified

PHONE = "13800138000"
E164 = "+8613800138000"


@pytest.fixture
def pnvs_app(make_app, clock):
    def factory(**config: Any):
        options = {"limits_off": ("ip", "verify_ip"), "clock": clock, "SMS_CODE_BACKEND": "aliyun_pnvs"}
        return make_app(["tencent"], **{**options, **config})  # the app's own texts through Tencent; codes through PNVS

    return factory


def pnvs(fake: Any) -> Any:
    return fake.plugin("aliyun_pnvs")


def send(client, phone: str = PHONE) -> Any:
    return client.post("/sms_captcha/", json={"phone": phone})


def verify(client, code: str, phone: str = PHONE) -> Any:
    return client.post("/sms_captcha/verify", json={"phone": phone, "code": code})


def test_aliyun_makes_texts_and_checks_the_code(pnvs_app, fake):
    app = pnvs_app()
    client = app.test_client()
    heard: list[str] = []
    with (
        code_sent.connected_to(lambda sender, **kw: heard.append("sent")),
        code_verified.connected_to(lambda sender, **kw: heard.append("verified")),
        app.extensions["sms"].record_messages() as outbox,
    ):
        answer = send(client)
        assert answer.status_code == 200
        assert answer.get_json() == {"ok": True, "expires_in": 300, "resend_after": 60}  # the routes' JSON, unchanged
        (request,) = fake.received("aliyun_pnvs")
        assert request.raw["Action"] == "SendSmsVerifyCode" and request.raw["Version"] == "2017-05-25"
        assert request.sign_name == "速通互联验证码" and request.template == "100001"
        assert request.raw["TemplateParam"] == '{"code":"##code##","min":"5"}'  # the docs' example, to the byte
        assert (request.raw["CodeLength"], request.raw["ValidTime"], request.raw["Interval"]) == ("6", "300", "60")
        assert request.raw["CountryCode"] == "86" and request.raw["ReturnVerifyCode"] == "false"
        assert fake.received("tencent") == []  # no provider of the app's own was asked
        code = pnvs(fake).code_of(PHONE)
        passed = verify(client, code)
    assert passed.status_code == 200 and passed.get_json()["token"]
    assert heard == ["sent", "verified"]
    assert [message.params for message in outbox] == [{}]  # the flow never saw the code
    with app.app_context():
        assert app.extensions["sms"].redeem_token(passed.get_json()["token"]) == E164
    assert verify(client, code).get_json()["error"] == "code_expired"  # single use, here too


def test_the_code_never_reaches_the_storage(pnvs_app, fake, redis_server):
    """Neither the code nor its HMAC is in Redis: only a marker for the cool-down, the count and single use."""
    import redis

    app = pnvs_app(SMS_STORAGE_URL=redis_server.url)
    client = app.test_client()
    assert send(client).status_code == 200
    code = pnvs(fake).code_of(PHONE)
    flow = app.extensions["sms"]._states[app].codes
    forbidden = [code, flow._digest("captcha", E164, code)]
    db = redis.Redis.from_url(redis_server.url)
    values = [db.dump(key) or b"" for key in db.scan_iter("*")]
    assert values and not [v for v in values for f in forbidden if f.encode() in v]
    assert verify(client, code).status_code == 200


def test_a_wrong_code_is_invalid_and_the_vendor_was_asked(pnvs_app, fake):
    client = pnvs_app().test_client()
    send(client)
    code = pnvs(fake).code_of(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    answer = verify(client, wrong)
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_code"  # Aliyun said UNKNOWN
    assert pnvs(fake).checks == 1
    assert verify(client, code).status_code == 200  # the right code still passes


def test_the_attempt_cap_stops_a_guesser_before_aliyun_is_asked(pnvs_app, fake):
    client = pnvs_app(SMS_MAX_ATTEMPTS=3).test_client()
    send(client)
    code = pnvs(fake).code_of(PHONE)
    guesses = [f"{n:06d}" for n in range(10) if f"{n:06d}" != code][:6]
    answers = [verify(client, guess).get_json()["error"] for guess in guesses]
    assert answers[:3] == ["invalid_code"] * 3
    assert answers[3:] == ["too_many_attempts"] * 3
    assert pnvs(fake).checks == 3  # the fourth guess and after never reached Aliyun
    assert verify(client, code).get_json()["error"] == "too_many_attempts"  # the code is dead here
    assert pnvs(fake).checks == 3


def test_a_new_code_gets_a_fresh_attempt_budget(pnvs_app, fake, clock):
    client = pnvs_app(SMS_MAX_ATTEMPTS=2).test_client()
    send(client)
    verify(client, "999999")
    verify(client, "999998")
    assert verify(client, "999997").get_json()["error"] == "too_many_attempts"
    clock.advance(61)
    fake.plugin("aliyun_pnvs").codes.clear()  # Aliyun's own Interval is real time; ours is the test's clock
    assert send(client).status_code == 200
    assert verify(client, pnvs(fake).code_of(PHONE)).status_code == 200


def test_a_code_texted_for_one_purpose_never_passes_another(pnvs_app, fake, clock):
    """Aliyun keeps one code per number (per scheme), whatever the purpose: a new code for "reset" replaces
    the live "captcha" one there, and its PASS must not sign anyone in on the captcha form."""
    client = pnvs_app(SMS_CAPTCHA_PURPOSES=["captcha", "reset"]).test_client()
    assert send(client).status_code == 200
    first = pnvs(fake).code_of(PHONE)
    pnvs(fake).let_interval_pass()
    assert client.post("/sms_captcha/", json={"phone": PHONE, "purpose": "reset"}).status_code == 200
    second = pnvs(fake).code_of(PHONE)
    assert verify(client, first).get_json()["error"] == "invalid_code"  # replaced at Aliyun
    answer = verify(client, second)  # the reset code, typed into the captcha form
    assert answer.status_code == 400 and answer.get_json()["error"] in ("invalid_code", "code_expired")
    assert "token" not in answer.get_json()


def test_a_code_for_another_purpose_replaces_the_live_one_here_too(pnvs_app, fake, clock):
    client = pnvs_app(SMS_CAPTCHA_PURPOSES=["captcha", "reset"]).test_client()
    assert send(client).status_code == 200
    pnvs(fake).let_interval_pass()
    assert client.post("/sms_captcha/", json={"phone": PHONE, "purpose": "reset"}).status_code == 200
    code = pnvs(fake).code_of(PHONE)
    answer = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code, "purpose": "reset"})
    assert answer.status_code == 200 and answer.get_json()["token"]
    checks = pnvs(fake).checks
    assert verify(client, code).get_json()["error"] == "code_expired"  # the captcha code is gone: not asked
    assert pnvs(fake).checks == checks


def test_an_unreachable_check_is_503_never_a_pass(pnvs_app, fake):
    client = pnvs_app(SMS_TIMEOUT=0.5).test_client()
    send(client)
    code = pnvs(fake).code_of(PHONE)
    for mode in ("http_500", "garbage"):
        fake.set_mode("aliyun_pnvs", mode)
        answer = verify(client, code)
        assert answer.status_code == 503 and answer.get_json()["error"] == "unavailable", mode
    fake.set_mode("aliyun_pnvs", "business_error", code="isv.AMOUNT_NOT_ENOUGH")
    assert verify(client, code).status_code == 503
    fake.set_mode("aliyun_pnvs", "hang", seconds=3)
    assert verify(client, code).status_code == 503
    fake.set_mode("aliyun_pnvs", "ok")
    assert verify(client, code).status_code == 200  # never passed meanwhile; the code is still live


def test_a_worker_that_cannot_reach_aliyun_answers_503(pnvs_app, fake, redis_server, clock):
    """Two workers on one Redis: the one whose check cannot connect answers 503, and passes nothing."""
    sending = pnvs_app(SMS_STORAGE_URL=redis_server.url)
    cut_off = pnvs_app(SMS_STORAGE_URL=redis_server.url, SMS_ALIYUN_PNVS_ENDPOINT=f"127.0.0.1:{unused_port()}")
    assert send(sending.test_client()).status_code == 200
    code = pnvs(fake).code_of(PHONE)
    answer = verify(cut_off.test_client(), code)
    assert answer.status_code == 503 and answer.get_json()["error"] == "unavailable"
    assert verify(sending.test_client(), code).status_code == 200  # the code was not used up by the 503


def test_no_failover_for_a_vendor_checked_code(pnvs_app, fake):
    fake.set_mode("aliyun_pnvs", "business_error", code="isv.AMOUNT_NOT_ENOUGH")
    client = pnvs_app().test_client()
    answer = send(client)
    assert answer.status_code == 502 and answer.get_json()["error"] == "send_failed"
    assert fake.received("tencent") == []  # Tencent would not know Aliyun's code
    fake.set_mode("aliyun_pnvs", "ok")
    assert send(client).status_code == 200  # nothing was sent: the cool-down was given back


def test_a_refusal_for_the_number_keeps_the_cool_down(pnvs_app, fake):
    fake.reject_number("aliyun_pnvs", PHONE, "isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控")
    client = pnvs_app().test_client()
    answer = send(client)
    assert answer.status_code == 400 and answer.get_json()["error"] == "phone_rejected"
    assert send(client).status_code == 429


def test_a_timeout_on_send_keeps_the_code_and_the_cool_down(pnvs_app, fake):
    fake.set_mode("aliyun_pnvs", "hang", seconds=3, times=1)
    client = pnvs_app(SMS_TIMEOUT=0.5).test_client()
    assert send(client).status_code == 200  # unknown: it may be on its way
    assert send(client).status_code == 429


def test_the_cool_down_quota_and_ip_limits_stay_local(pnvs_app, fake, clock):
    client = pnvs_app(SMS_PHONE_LIMITS="2/hour", SMS_IP_LIMITS="3/hour").test_client()
    assert send(client).status_code == 200
    assert send(client).status_code == 429  # our cool-down: Aliyun is not asked
    assert len(fake.received("aliyun_pnvs")) == 1
    clock.advance(61)
    fake.plugin("aliyun_pnvs").codes.clear()
    assert send(client).status_code == 200
    clock.advance(61)
    assert send(client).status_code == 429  # the phone's quota
    assert send(client, "13900139000").status_code == 429  # the IP's fourth send attempt
    assert len(fake.received("aliyun_pnvs")) == 2


def test_test_numbers_stay_local_with_a_vendor_backend(pnvs_app, fake):
    client = pnvs_app(SMS_TEST_NUMBERS={E164: "246810"}).test_client()
    assert send(client).status_code == 200
    assert verify(client, "246810").status_code == 200
    assert fake.accepted == []  # neither the send nor the check reached Aliyun


def test_under_suppress_send_no_vendor_is_asked_and_the_outbox_shows_the_code(pnvs_app, fake):
    """An app's own tests (SMS_SUPPRESS_SEND, on under app.testing): neither the send nor the check reaches
    Aliyun; the code is made and checked here, so ``record_messages()`` reads it as with the local backend."""
    app = pnvs_app(SMS_SUPPRESS_SEND=True)
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        assert send(client).status_code == 200
    (message,) = outbox
    assert message.phones == (E164,) and message.params["code"].isdigit()
    assert verify(client, "000000" if message.params["code"] != "000000" else "111111").status_code == 400
    assert verify(client, message.params["code"]).status_code == 200
    assert fake.accepted == [] and fake.rejected == []


def test_the_typed_code_never_reaches_a_log(pnvs_app, fake, caplog):
    client = pnvs_app().test_client()
    send(client)
    fake.set_mode("aliyun_pnvs", "http_500", body="echo 864209 in the error")
    with caplog.at_level("DEBUG"):
        verify(client, "864209")
    assert "864209" not in caplog.text


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"SMS_CODE_BACKEND": "netease_sendcode"}, "SMS_CODE_BACKEND must be one of local, aliyun_pnvs"),
        ({"SMS_ALIYUN_PNVS_SIGN_NAME": None}, "SMS_ALIYUN_PNVS_SIGN_NAME is required"),
        ({"SMS_ALIYUN_PNVS_SCHEME_NAME": "x" * 21}, "at most 20 characters"),
        ({"SMS_CODE_LENGTH": 10}, "aliyun_pnvs makes codes of 4 to 8 digits"),
        ({"SMS_ALLOWED_REGIONS": ["CN", "HK"]}, "aliyun_pnvs texts mainland numbers only"),
        ({"SMS_VOICE_PROVIDERS": ["console"]}, "a call cannot read one out"),
        ({"SMS_PROVIDERS": ["aliyun:pnvs"]}, "whose keys SMS_ALIYUN_PNVS_* are the vendor's pnvs keys"),
    ],
)
def test_backend_config_problems(pnvs_app, config, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("*", r"\*")):
        pnvs_app(**config)


def test_credentials_fall_back_to_the_sms_keys_or_their_own(pnvs_app):
    app = pnvs_app(SMS_ALIYUN_PNVS_ACCESS_KEY_ID="pnvs-only-key")
    backend = app.extensions["sms"].check(app).code_backend
    assert backend.settings["ACCESS_KEY_ID"] == "pnvs-only-key"
    assert backend.settings["ACCESS_KEY_SECRET"] == app.config["SMS_ALIYUN_ACCESS_KEY_SECRET"]


def test_no_sms_provider_is_needed_in_production(make_app):
    from flask import Flask

    from flask_sms import SmsExtension

    app = Flask("individual")
    app.config.update(
        SECRET_KEY="an-individual-developers-secret-key",
        SMS_CODE_BACKEND="aliyun_pnvs",
        SMS_ALIYUN_ACCESS_KEY_ID="id",
        SMS_ALIYUN_ACCESS_KEY_SECRET="secret",
        SMS_ALIYUN_PNVS_SIGN_NAME="速通互联验证码",
        SMS_ALIYUN_PNVS_TEMPLATE_CODE="100001",
    )
    settings = SmsExtension(app).check(app)  # no SMS_PROVIDERS, no SMS templates: the vendor's own sign
    assert settings.providers == () and settings.code_backend.name == "aliyun_pnvs"
    result = app.test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 0, result.output
    assert "providers none; codes made, texted and checked by aliyun_pnvs (SMS_CODE_BACKEND)" in result.output
    local = Flask("local")
    local.config.update(SECRET_KEY="an-individual-developers-secret-key", SMS_PROVIDERS=[])
    with pytest.raises(ConfigError, match="SMS_PROVIDERS is empty"):
        SmsExtension(local).check(local)
