"""The voice fakes check each vendor's signature on its own terms, record what they received, and
match the vendors' published examples (tccli's SendCodeVoice, the SingleCallByTts reply)."""

from __future__ import annotations

import json
import time
from email.message import Message
from typing import Any

import pytest
from fake_vendor import FakeVendor
from fakes.tencent import tc3_canonical_request, tc3_signature
from vendor_config import ALIYUN, TENCENT

from flask_sms import SendError, send_sms

PHONE = "13800138000"


def call(app: Any, code: str = "123456", **extra: Any) -> Any:
    with app.app_context():
        return send_sms(PHONE, "captcha", {"code": code}, channel="voice", **extra)


@pytest.mark.parametrize(
    ("vendor", "wrong", "refusal"),
    [
        ("aliyun", {"SMS_ALIYUN_ACCESS_KEY_SECRET": "not-the-secret"}, "SignatureDoesNotMatch"),
        ("tencent", {"SMS_TENCENT_SECRET_KEY": "not-the-secret"}, "AuthFailure.SignatureFailure"),
        ("ronglian", {"SMS_RONGLIAN_AUTH_TOKEN": "not-the-token"}, "111109"),
    ],
)
def test_a_wrong_secret_is_refused_with_the_vendors_code(make_app, fake, vendor, wrong, refusal):
    app = make_app(["console"], SMS_VOICE_PROVIDERS=[vendor], **wrong)
    with pytest.raises(SendError) as caught:
        call(app)
    assert caught.value.attempts[0].code == refusal
    assert fake.accepted == [] and [name for name, _ in fake.rejected] == [f"{vendor}_voice"]
    assert fake.rejected[0][1].startswith(refusal)


def test_a_voice_only_key_signs_the_call(make_app, fake):
    """SMS_ALIYUN_VOICE_ACCESS_KEY_SECRET, when set, signs the call (and the SMS secret does not)."""
    app = make_app(
        ["console"],
        SMS_VOICE_PROVIDERS=["aliyun"],
        SMS_ALIYUN_ACCESS_KEY_SECRET="an-sms-secret-the-fake-does-not-know",
        SMS_ALIYUN_VOICE_ACCESS_KEY_SECRET=ALIYUN.secret,
    )
    assert call(app).ok and len(fake.received("aliyun_voice")) == 1


def test_the_tencent_fake_checks_the_vms_service_in_the_scope():
    """A request signed for the service ``sms`` is refused by VMS: the scope's service is part of the check."""
    body = json.dumps({"CodeMessage": "1234", "CalledNumber": "+8613788888888", "VoiceSdkAppid": "1400006666"}).encode()
    with FakeVendor() as fake:
        timestamp = str(int(time.time()))
        day = time.strftime("%Y-%m-%d", time.gmtime(int(timestamp)))
        headers = {"content-type": "application/json", "host": fake.host, "X-TC-Timestamp": timestamp}
        canonical = tc3_canonical_request("POST", "/", "", headers, "content-type;host", body)
        verdicts = {}
        for service in ("sms", "vms"):
            signature = tc3_signature(TENCENT.secret_key, timestamp, day, service, canonical)
            authorization = (
                f"TC3-HMAC-SHA256 Credential={TENCENT.secret_id}/{day}/{service}/tc3_request, "
                f"SignedHeaders=content-type;host, Signature={signature}"
            )
            message = {
                "Content-Type": "application/json",
                "Host": fake.host,
                "X-TC-Action": "SendCodeVoice",
                "X-TC-Version": "2020-09-02",
                "X-TC-Timestamp": timestamp,
                "Authorization": authorization,
            }
            parsed = Message()
            for name, value in message.items():
                parsed[name] = value
            reply = fake._handle("POST", "/", parsed, body)
            verdicts[service] = json.loads(reply.body)["Response"]
        assert verdicts["sms"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
        assert "SendStatus" in verdicts["vms"]


def test_tcclis_published_send_code_voice_example_through_the_real_sdk(fake):
    """tccli's example 1 (tccli/examples/vms/v20200902/SendCodeVoice.md): its input reaches the fake as written,
    and its published output is what the SDK gives back in that shape."""
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.vms.v20200902 import models
    from tencentcloud.vms.v20200902.vms_client import VmsClient

    client = VmsClient(
        Credential(TENCENT.secret_id, TENCENT.secret_key),
        "ap-guangzhou",
        ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=fake.host, reqTimeout=5)),
    )
    request = models.SendCodeVoiceRequest()
    request.CodeMessage, request.PlayTimes, request.CalledNumber = "1234", 2, "+8613788888888"
    request.SessionContext, request.VoiceSdkAppid = "test", "1400006666"
    reply = client.SendCodeVoice(request)
    (received,) = fake.received("tencent_voice")
    assert {k: v for k, v in received.raw.items() if not k.startswith("_")} == {
        "CodeMessage": "1234",
        "PlayTimes": 2,
        "CalledNumber": "+8613788888888",
        "SessionContext": "test",
        "VoiceSdkAppid": "1400006666",
    }
    assert reply.SendStatus.SessionContext == "test" and reply.SendStatus.CallId and reply.RequestId
    published = {
        "Response": {
            "SendStatus": {"CallId": "12582bce-403c-11eb-96b8-525400476c37", "SessionContext": "test"},
            "RequestId": "91260bb8-cf91-4f3e-a81f-9198114a2279",
        }
    }
    model = models.SendCodeVoiceResponse()
    model._deserialize(published["Response"])
    from flask_sms.providers.tencent import TencentVoiceProvider

    parsed = TencentVoiceProvider.parse(object.__new__(TencentVoiceProvider), model, ["+8613788888888"])
    assert parsed.accepted == {"+8613788888888": "12582bce-403c-11eb-96b8-525400476c37"}
    assert parsed.request_id == "91260bb8-cf91-4f3e-a81f-9198114a2279"


def test_the_published_single_call_by_tts_reply_is_read():
    """The reply example of help.aliyun.com/document_detail/393519 (SingleCallByTts)."""
    from flask_sms.providers.aliyun import AliyunVoiceProvider

    published = b'{"RequestId":"D9CB3933-9FE3-4870-BA8E-2BEE91B69D23","Code":"OK","Message":"OK","CallId":"116012354148^10281378****"}'
    # the transport reads the JSON (as for SendSms); parse reads the body
    parsed = AliyunVoiceProvider.parse(object.__new__(AliyunVoiceProvider), json.loads(published), ["13800138000"])
    assert parsed.accepted == {"13800138000": "116012354148^10281378****"}
    assert parsed.request_id == "D9CB3933-9FE3-4870-BA8E-2BEE91B69D23"


def test_the_published_ronglian_voice_code_push_is_read():
    """The VoiceCode example of doc.yuntongxun.com/p/5a533e563b8496dd00dce0a7, as published."""
    from flask_sms.providers.ronglian import RonglianVoiceProvider

    published = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Request>\n<action>VoiceCode</action>\n<number>13800000000</number>\n'
        b"<callSid>1307241452320369000100030000002f</callSid>\n<state>0</state>\n<duration>30</duration>\n</Request>"
    )
    (report,) = RonglianVoiceProvider.parse_receipts(published, "text/plain").reports
    assert (report.phone, report.message_id, report.status, report.channel) == (
        "+8613800000000",
        "1307241452320369000100030000002f",
        "delivered",
        "voice",
    )


@pytest.mark.parametrize(
    ("vendor", "code", "refusal"),
    [
        ("aliyun", "12", None),  # Aliyun reads any digits the TTS template takes
        ("ronglian", "123", "160031"),  # verifyCode: 4 to 8 characters
    ],
)
def test_the_fakes_hold_the_vendors_code_rules(make_app, fake, vendor, code, refusal):
    app = make_app(["console"], SMS_VOICE_PROVIDERS=[vendor])
    if refusal is None:
        assert call(app, code).ok
        return
    with pytest.raises(SendError) as caught:
        call(app, code)
    assert caught.value.attempts[0].code == refusal
    (received,) = fake.received(f"{vendor}_voice")  # recorded, and answered with the vendor's business error
    assert received.reply == f"limit:{refusal}"
