"""The voice channel: codes read out by a call, through the real SDKs against the loopback fake.

Aliyun SingleCallByTts (aliyun-python-sdk-core, RPC-signed), Tencent VMS SendCodeVoice
(tencentcloud-sdk-python-vms, TC3 with the service ``vms``) and Ronglian VoiceVerify
(TemplateSMS's signing) each run end to end: the fake checks every signature and
records what it received.
"""

from __future__ import annotations

from typing import Any

import pytest
from fake_vendor import unused_port
from vendor_config import VOICE_CLOSED

from flask_sms import ConfigError, SendError, provider_down, send_sms

PHONE = "13800138000"
E164 = "+8613800138000"
#: the fake's vendor name for each voice provider, and how it writes the called number
VOICE_FAKES = {
    "aliyun": ("aliyun_voice", PHONE),
    "tencent": ("tencent_voice", E164),
    "ronglian": ("ronglian_voice", PHONE),
}
#: a refusal that is final for the number, and one about the account (which fails over), per vendor
REJECTED = {
    "aliyun": "isv.BUSINESS_LIMIT_CONTROL",
    "tencent": "InvalidParameterValue.CalledNumberVerifyFail",
}


@pytest.fixture
def voice_app(make_app, clock):
    """Texts through Aliyun, calls through ``voice`` (the fake checks both), on a hand-driven clock."""

    def factory(voice: list[str] | None = None, **config: Any):
        options = {
            "limits_off": ("ip", "verify_ip", "phone"),
            "clock": clock,
            "SMS_VOICE_PROVIDERS": voice or ["aliyun"],
        }
        return make_app(["aliyun"], **{**options, **config})

    return factory


def send(client, channel: str | None = None, phone: str = PHONE) -> Any:
    """Ask for a code; keep the answer's nonce, as sms.js does, for the verify that follows."""
    body = {"phone": phone} if channel is None else {"phone": phone, "channel": channel}
    response = client.post("/sms_captcha/", json=body)
    if response.status_code == 200:
        client.sms_nonce = response.get_json().get("nonce")
    return response


def sent_code(app, client, channel: str | None = None) -> tuple[Any, str | None]:
    with app.extensions["sms"].record_messages() as outbox:
        response = send(client, channel)
    return response, (outbox[0].params["code"] if outbox else None)


def verify(client, code: str) -> Any:
    return client.post(
        "/sms_captcha/verify", json={"phone": PHONE, "code": code, "nonce": getattr(client, "sms_nonce", None)}
    )


@pytest.mark.parametrize("vendor", ["aliyun", "tencent", "ronglian"])
def test_a_call_reads_out_the_code_through_each_vendor(voice_app, fake, vendor):
    app = voice_app([vendor], SMS_VOICE_AFTER=0)
    client = app.test_client()
    response, code = sent_code(app, client, "voice")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["channel"] == "voice" and body["resend_after"] == 60 and body["expires_in"] == 300
    fake_name, wire = VOICE_FAKES[vendor]
    (call,) = fake.received(fake_name)
    assert call.phones == [wire]
    assert code is not None and code in (call.params if isinstance(call.params, str) else call.params["code"])
    assert fake.received("aliyun") == []  # no text went out
    assert verify(client, code).get_json()["ok"] is True


def test_each_vendor_gets_its_documented_fields(voice_app, fake):
    app = voice_app(
        ["aliyun", "tencent", "ronglian"], SMS_VOICE_AFTER=0, SMS_RONGLIAN_VOICE_RESP_URL="https://x.example/r"
    )
    with app.app_context():
        sms = app.extensions["sms"]
        result = sms.send(PHONE, "captcha", {"code": "482913"}, out_id="login-42", channel="voice")
        assert result.channel == "voice" and result.provider == "aliyun"
        (aliyun,) = fake.received("aliyun_voice")
        assert aliyun.template == "TTS_171115079" and aliyun.params == {"code": "482913"}
        assert aliyun.raw["Action"] == "SingleCallByTts" and aliyun.raw["Version"] == "2017-05-25"
        assert aliyun.raw["OutId"] == "login-42" and "CalledShowNumber" not in aliyun.raw
        fake.set_mode("aliyun_voice", "http_500")
        sms.send(PHONE, "captcha", {"code": "482913"}, out_id="login-43", channel="voice")
        (tencent,) = fake.received("tencent_voice")
        assert tencent.raw["CodeMessage"] == "482913" and tencent.raw["CalledNumber"] == E164
        assert tencent.raw["VoiceSdkAppid"] == "1400006666" and tencent.raw["SessionContext"] == "login-43"
        assert tencent.headers["X-TC-Action"] == "SendCodeVoice" and tencent.headers["X-TC-Version"] == "2020-09-02"
        assert "/vms/tc3_request" in tencent.headers["Authorization"]
        fake.set_mode("tencent_voice", "http_500")
        sms.send(PHONE, "captcha", {"code": "482913"}, out_id="login-44", channel="voice")
        (ronglian,) = fake.received("ronglian_voice")
        assert ronglian.raw == {
            "appId": "8a216da8test0000app",
            "verifyCode": "482913",
            "playTimes": "3",
            "to": PHONE,
            "respUrl": "https://x.example/r",
            "userData": "login-44",
            "_client_port": ronglian.client_port,
        }


def test_an_out_id_longer_than_aliyuns_15_bytes_is_left_off_the_call(voice_app, fake):
    app = voice_app()
    with app.app_context():
        result = send_sms(PHONE, "captcha", {"code": "123456"}, channel="voice")  # a 32-character out_id
    (call,) = fake.received("aliyun_voice")
    assert "OutId" not in call.raw and len(result.out_id) == 32 and result.message_ids


@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
def test_a_refusal_final_for_the_number_is_not_failed_over(voice_app, fake, vendor):
    app = voice_app([vendor, "ronglian"], SMS_VOICE_AFTER=0)
    fake_name, wire = VOICE_FAKES[vendor]
    fake.reject_number(fake_name, wire, REJECTED[vendor], "refused for this number")
    response = send(app.test_client(), "voice")
    assert response.status_code == 400 and response.get_json()["error"] == "phone_rejected"
    assert fake.received("ronglian_voice") == []  # not tried: another vendor would refuse too


@pytest.mark.parametrize("vendor", ["aliyun", "tencent", "ronglian"])
def test_a_vendors_business_error_fails_over_to_the_next_voice_vendor(voice_app, fake, vendor):
    others = [v for v in VOICE_FAKES if v != vendor]
    app = voice_app([vendor, others[0]], SMS_VOICE_AFTER=0)
    fake.set_mode(VOICE_FAKES[vendor][0], "business_error")
    with app.app_context():
        result = send_sms(PHONE, "captcha", {"code": "123456"}, channel="voice")
    assert result.provider == others[0]
    failed, sent = result.attempts
    assert failed.provider == vendor and not failed.ok and failed.code == VOICE_FAKES_BUSINESS[vendor]
    assert sent.provider == others[0] and sent.ok


VOICE_FAKES_BUSINESS = {
    "aliyun": "isv.AMOUNT_NOT_ENOUGH",
    "tencent": "FailedOperation.InsufficientBalanceInVoicePackage",
    "ronglian": "160014",
}


def test_every_voice_vendor_failing_is_send_failed_and_gives_the_cool_down_back(voice_app, fake):
    app = voice_app(["aliyun", "tencent"], SMS_VOICE_AFTER=0)
    fake.set_mode("aliyun_voice", "http_500")
    fake.set_mode("tencent_voice", "business_error")
    client = app.test_client()
    response = send(client, "voice")
    assert response.status_code == 502 and response.get_json()["error"] == "send_failed"
    fake.set_mode("aliyun_voice", "ok")
    assert send(client, "voice").status_code == 200  # nothing was called: the cool-down was given back


def test_a_timeout_is_unknown_and_not_failed_over(voice_app, fake):
    app = voice_app(["aliyun", "tencent"], SMS_VOICE_AFTER=0, SMS_TIMEOUT=0.5)
    fake.set_mode("aliyun_voice", "hang", seconds=3)
    client = app.test_client()
    response, code = sent_code(app, client, "voice")
    assert response.status_code == 200  # the call may be ringing: the code and the cool-down stay
    assert fake.received("tencent_voice") == []  # never a second call for one code
    assert send(client, "voice").status_code == 429
    assert verify(client, code).get_json()["ok"] is True


def test_a_refused_connection_fails_over(voice_app, fake):
    port = unused_port()
    app = voice_app(["aliyun", "ronglian"], SMS_VOICE_AFTER=0, **VOICE_CLOSED["aliyun"](port))
    response = send(app.test_client(), "voice")
    assert response.status_code == 200 and len(fake.received("ronglian_voice")) == 1


def test_the_voice_breaker_is_the_voice_channels_own(voice_app, fake, clock):
    app = voice_app(
        ["aliyun", "tencent"], SMS_VOICE_AFTER=0, SMS_CIRCUIT_BREAKER={"failures": 2, "window": 60, "cooldown": 30}
    )
    heard: list[tuple[str, str]] = []

    def down(sender: Any, provider: str, channel: str = "sms", **extra: Any) -> None:
        heard.append((provider, channel))

    fake.set_mode("aliyun_voice", "http_500")
    with provider_down.connected_to(down), app.app_context():
        for _ in range(3):
            send_sms(PHONE, "captcha", {"code": "123456"}, channel="voice")
        text = send_sms(PHONE, "notice", {"name": "王"})
    assert heard == [("aliyun", "voice")]
    assert len(fake.received("aliyun_voice")) == 2  # the third call skipped aliyun: its voice breaker is open
    assert len(fake.received("tencent_voice")) == 3
    assert text.provider == "aliyun"  # texts through aliyun are not skipped


def test_a_call_replaces_a_texted_code_and_the_other_way_round(voice_app, clock):
    app = voice_app()
    client = app.test_client()
    texted_response, texted = sent_code(app, client)
    assert texted_response.status_code == 200
    called_response, called = sent_code(app, client, "voice")
    assert called_response.status_code == 200 and called != texted
    assert verify(client, texted).get_json()["error"] == "invalid_code"
    assert verify(client, called).get_json()["ok"] is True
    clock.advance(61)
    _, called_again = sent_code(app, client, "voice")
    _, texted_again = sent_code(app, client)
    assert verify(client, called_again).get_json()["error"] == "invalid_code"
    assert verify(client, texted_again).get_json()["ok"] is True


def test_a_new_code_on_either_channel_gets_a_fresh_attempt_budget(voice_app):
    app = voice_app(SMS_MAX_ATTEMPTS=2)
    client = app.test_client()
    sent_code(app, client)
    assert verify(client, "000000").get_json()["error"] == "invalid_code"
    _, called = sent_code(app, client, "voice")
    assert verify(client, "000000").get_json()["error"] == "invalid_code"
    assert verify(client, called).get_json()["ok"] is True


def test_voice_is_offered_only_after_a_text(voice_app, fake, clock):
    app = voice_app()
    client = app.test_client()
    refused = send(client, "voice")
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert "text message first" in refused.get_json()["message"]
    assert fake.received("aliyun_voice") == []
    texted = send(client)
    assert texted.get_json()["voice_after"] == 60  # the page may offer "call me instead"
    assert send(client, "voice").status_code == 200
    clock.advance(301)  # the text is older than the code's lifetime: no call without a fresh one
    assert send(client, "voice").status_code == 403


def test_voice_after_counts_texts_within_the_code_lifetime(voice_app, clock):
    app = voice_app(SMS_VOICE_AFTER=2)
    client = app.test_client()
    first = send(client)
    assert "voice_after" not in first.get_json()
    assert send(client, "voice").status_code == 403
    clock.advance(61)
    assert send(client).get_json()["voice_after"] == 60
    assert send(client, "voice").status_code == 200
    clock.advance(250)  # the first text is now older than SMS_CODE_TTL (300 s), the second is not
    refused = send(client, "voice")
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"


def test_without_voice_the_send_answer_is_unchanged(make_app):
    app = make_app(["console"], SMS_SUPPRESS_SEND=True)
    answer = send(app.test_client()).get_json()
    assert isinstance(answer.pop("nonce"), str)
    assert answer == {"ok": True, "expires_in": 300, "resend_after": 60}


def test_voice_has_its_own_cool_down_and_quota(voice_app, clock):
    app = voice_app(SMS_VOICE_RESEND_INTERVAL=90, SMS_VOICE_PHONE_LIMITS="2/hour")
    client = app.test_client()
    assert send(client).status_code == 200
    called = send(client, "voice")  # the text's cool-down does not hold the call back
    assert called.status_code == 200 and called.get_json()["resend_after"] == 90
    again = send(client, "voice")
    assert again.status_code == 429 and again.get_json()["error"] == "rate_limited"
    clock.advance(61)
    assert send(client).status_code == 200  # nor does the call's cool-down hold the next text back
    clock.advance(30)
    assert send(client, "voice").status_code == 200
    clock.advance(91)
    assert send(client).status_code == 200
    refused = send(client, "voice")
    assert refused.status_code == 429  # "2/hour" of calls, whatever the texts


def test_the_default_voice_quota_is_three_an_hour(voice_app, clock):
    app = voice_app(SMS_VOICE_AFTER=0)
    client = app.test_client()
    for _ in range(3):
        assert send(client, "voice").status_code == 200
        clock.advance(61)
    assert send(client, "voice").status_code == 429


def test_a_channel_that_is_off_or_unknown_is_a_400_that_names_the_field(make_app, voice_app, fake):
    off = make_app(["aliyun"]).test_client()
    for channel in ("voice", "fax"):
        response = send(off, channel)
        assert response.status_code == 400, channel
        assert response.get_json()["error"] == "invalid_request" and response.get_json()["field"] == "channel"
    assert "not available" in send(off, "voice").get_json()["message"]
    on = voice_app().test_client()
    assert send(on, "fax").get_json()["field"] == "channel"
    assert fake.accepted == []


def test_send_sms_on_the_voice_channel_checks_the_code_before_calling(voice_app, fake):
    app = voice_app(["tencent"])
    with app.app_context(), pytest.raises(Exception, match="digits only"):
        send_sms(PHONE, "captcha", {"code": "12ab"}, channel="voice")
    with app.app_context(), pytest.raises(Exception, match="parameter 'code'"):
        send_sms(PHONE, "captcha", {"name": "王"}, channel="voice")
    assert fake.accepted == []


def test_voice_calls_mainland_numbers_only(voice_app, fake):
    app = voice_app(["aliyun", "tencent"], SMS_VOICE_AFTER=0)
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("+85291234567", "captcha", {"code": "123456"}, channel="voice")
    assert caught.value.result is not None
    assert caught.value.result.failed["+85291234567"].code == "unsupported_number"
    assert fake.accepted == []


def test_a_code_longer_than_eight_digits_is_a_config_problem_when_voice_is_on(make_app):
    with pytest.raises(ConfigError, match="a voice call reads out at most 8 digits"):
        make_app(["console"], SMS_CODE_LENGTH=9, SMS_VOICE_PROVIDERS=["console"])
    assert make_app(["console"], SMS_CODE_LENGTH=9).extensions["sms"]  # texts take up to 10


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"SMS_VOICE_PROVIDERS": ["ihuyi"]}, "has ['ihuyi'], which cannot call"),
        (
            {"SMS_VOICE_PROVIDERS": ["aliyun"], "SMS_ALIYUN_VOICE_TEMPLATES": None},
            "SMS_ALIYUN_VOICE_TEMPLATES is required",
        ),
        (
            {"SMS_VOICE_PROVIDERS": ["tencent"], "SMS_TENCENT_VOICE_SDK_APP_ID": None},
            "SMS_TENCENT_VOICE_SDK_APP_ID is required",
        ),
        ({"SMS_VOICE_AFTER": 11}, "SMS_VOICE_AFTER must be an integer from 0 to 10"),
        ({"SMS_VOICE_PROVIDERS": ["aliyun", "aliyun"]}, "lists a provider twice"),
    ],
)
def test_voice_config_problems(make_app, config, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make_app(["console"], **config)


def test_voice_credentials_fall_back_to_the_sms_keys_or_their_own(make_app, fake):
    app = make_app(["console"], SMS_VOICE_PROVIDERS=["aliyun"], SMS_ALIYUN_VOICE_ACCESS_KEY_ID="voice-only-key")
    voice = app.extensions["sms"].check(app).voice
    assert voice.provider_settings["aliyun"]["ACCESS_KEY_ID"] == "voice-only-key"
    assert voice.provider_settings["aliyun"]["ACCESS_KEY_SECRET"] == app.config["SMS_ALIYUN_ACCESS_KEY_SECRET"]
    assert app.config["SMS_ALIYUN_VOICE_ENDPOINT"]  # the fake's; the default is dyvmsapi.aliyuncs.com
    with pytest.raises(
        ConfigError, match=r"SMS_ALIYUN_VOICE_ACCESS_KEY_ID \(or SMS_ALIYUN_ACCESS_KEY_ID\) is required"
    ):
        make_app(["console"], SMS_VOICE_PROVIDERS=["aliyun"], SMS_ALIYUN_ACCESS_KEY_ID=None)


def test_a_voice_only_secret_is_masked_like_the_sms_ones(make_app):
    from flask_sms import _redact

    secret = "voice-only-secret-0123456789"
    make_app(["console"], SMS_VOICE_PROVIDERS=["aliyun"], SMS_ALIYUN_VOICE_ACCESS_KEY_SECRET=secret)
    assert secret not in _redact.redact(f"signed with {secret} and more")


def test_an_account_label_voice_is_reserved(make_app):
    with pytest.raises(ConfigError, match="'aliyun:voice', whose keys SMS_ALIYUN_VOICE_"):
        make_app(["aliyun", "aliyun:voice"])


def test_test_numbers_are_never_called(voice_app, fake):
    app = voice_app(["aliyun", "tencent"], SMS_VOICE_AFTER=0, SMS_TEST_NUMBERS={E164: "246810"})
    client = app.test_client()
    assert send(client, "voice").status_code == 200
    assert fake.accepted == []  # neither a call nor a text reached any vendor
    assert verify(client, "246810").get_json()["ok"] is True


def test_the_console_logs_a_call_as_it_logs_a_text(voice_app, caplog):
    app = voice_app(["console"], SMS_VOICE_AFTER=0)
    with caplog.at_level("INFO", logger="flask_sms"), app.extensions["sms"].record_messages() as outbox:
        assert send(app.test_client(), "voice").status_code == 200
    (message,) = outbox
    assert message.channel == "voice"
    assert f"Call to {E164} [captcha] code={message.params['code']} minutes=5" in caplog.text


def test_flask_sms_check_names_the_voice_providers(voice_app):
    result = voice_app(["aliyun", "tencent"]).test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 0, result.output
    assert "providers aliyun; calls through aliyun, tencent; verification flow" in result.output
