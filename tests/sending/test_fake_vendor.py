"""Tests for the loopback fake vendor, driving the REAL vendor SDKs at it.

These prove that the fake really checks signatures: a correctly configured SDK
call is accepted and recorded, and the same call with a wrong secret is
refused with the vendor's real auth error.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from fakes import netease as netease_fake
from fakes.aliyun import AliyunCredentials
from fakes.ihuyi import IhuyiCredentials
from fakes.ronglian import RonglianCredentials
from fakes.tencent import TencentCredentials
from ronglian_sms_sdk import SmsSDK
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as tc_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

try:  # tests/ is not a package: pytest puts tests/ itself on sys.path (as conftest.py relies on)
    from fake_vendor import FakeVendor, unused_port
except ImportError:  # pragma: no cover - e.g. run with another rootdir / import mode
    from tests.fake_vendor import FakeVendor, unused_port  # type: ignore[no-redef]

ALIYUN, TENCENT = AliyunCredentials(), TencentCredentials()
RONGLIAN, IHUYI = RonglianCredentials(), IhuyiCredentials()


@pytest.fixture
def fake():
    with FakeVendor() as server:
        yield server
        assert server.errors == [], server.errors


# --------------------------------------------------------------------------- helpers


def aliyun_call(
    fake: FakeVendor,
    phones: str = "13800138000",
    *,
    secret: str = ALIYUN.secret,
    key_id: str = ALIYUN.key_id,
    template_param: Any = None,
    body_params: bool = False,
    keep: list[CommonRequest] | None = None,
) -> bytes:
    client = AcsClient(key_id, secret, "cn-hangzhou", auto_retry=False, timeout=5, connect_timeout=5)
    req = CommonRequest()
    req.set_domain(fake.host)
    req.set_protocol_type("http")
    req.set_version("2017-05-25")
    req.set_action_name("SendSms")
    req.set_method("POST")
    req.set_accept_format("json")
    params = {
        "PhoneNumbers": phones,
        "SignName": "测试签名",
        "TemplateCode": "SMS_123456",
        "TemplateParam": json.dumps(
            template_param if template_param is not None else {"code": "1234", "note": "a b+c&d=é~*"},
            ensure_ascii=False,
        ),
    }
    for k, v in params.items():
        if body_params:
            req.add_body_params(k, v)
        else:
            req.add_query_param(k, v)
    if keep is not None:
        keep.append(req)
    return client.do_action_with_exception(req)


def tencent_client(
    fake: FakeVendor, *, secret_id: str = TENCENT.secret_id, secret_key: str = TENCENT.secret_key
) -> SmsClient:
    http_profile = HttpProfile(endpoint=fake.host, protocol="http", reqTimeout=5)
    return SmsClient(Credential(secret_id, secret_key), "ap-guangzhou", ClientProfile(httpProfile=http_profile))


def tencent_request(phones: list[str], app_id: str = TENCENT.app_id) -> tc_models.SendSmsRequest:
    req = tc_models.SendSmsRequest()
    req.PhoneNumberSet = phones
    req.SmsSdkAppId = app_id
    req.SignName = "腾讯测试"
    req.TemplateId = "1110"
    req.TemplateParamSet = ["1234", "5"]
    return req


def ronglian_send(
    fake: FakeVendor, to: str = "13800138000", *, token: str = RONGLIAN.token, app_id: str = RONGLIAN.app_id
) -> dict[str, Any]:
    sdk = SmsSDK(RONGLIAN.sid, token, app_id)
    sdk.url = fake.url
    return json.loads(sdk.sendMessage("1", to, ("1234", "5")))


def ihuyi_post(fake: FakeVendor, fields: dict[str, str], timeout: float = 5) -> tuple[int, str, str]:
    data = urllib.parse.urlencode(fields).encode("utf-8")
    req = urllib.request.Request(
        fake.url + "/webservice/sms.php?method=Submit",
        data=data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode("utf-8")


def ihuyi_fields(mobile: str = "13800138000", *, api_key: str = IHUYI.api_key, dynamic: bool = False) -> dict[str, str]:
    content = "您的验证码是：1234。请不要把验证码泄露给其他人。"
    fields = {"account": IHUYI.account, "mobile": mobile, "content": content, "format": "json"}
    if dynamic:
        ts = str(int(time.time()))
        fields["time"] = ts
        fields["password"] = hashlib.md5((IHUYI.account + api_key + mobile + content + ts).encode("utf-8")).hexdigest()
    else:
        fields["password"] = api_key
    return fields


# --------------------------------------------------------------------------- aliyun


def test_aliyun_sdk_call_is_accepted_and_recorded(fake: FakeVendor) -> None:
    body = json.loads(aliyun_call(fake, "13800138000,+8613900139000"))
    assert body["Code"] == "OK" and body["Message"] == "OK"
    assert body["BizId"] and body["RequestId"]
    [rec] = fake.received("aliyun")
    assert rec.phones == ["13800138000", "+8613900139000"]
    assert rec.template == "SMS_123456"
    assert rec.params == {"code": "1234", "note": "a b+c&d=é~*"}
    assert rec.sign_name == "测试签名"
    assert rec.raw["Action"] == "SendSms" and rec.reply == "ok"
    assert fake.rejected == []


def test_aliyun_params_in_form_body_are_merged(fake: FakeVendor) -> None:
    assert json.loads(aliyun_call(fake, body_params=True))["Code"] == "OK"
    [rec] = fake.received("aliyun")
    assert rec.phones == ["13800138000"] and rec.template == "SMS_123456"


def test_aliyun_wrong_secret_is_rejected(fake: FakeVendor) -> None:
    sent: list[CommonRequest] = []
    with pytest.raises(ServerException) as info:
        aliyun_call(fake, secret="wrong-secret", keep=sent)
    assert info.value.get_http_status() == 400
    # For CommonRequest the SDK never rewrites this to InvalidAccessKeySecret:
    # it compares against the outer request's empty string_to_sign.
    assert info.value.get_error_code() == "SignatureDoesNotMatch"
    # The server's string to sign is byte-identical to what the SDK signed.
    server_sts = info.value.get_error_msg().split("server string to sign is:", 1)[1]
    assert server_sts == sent[0].request.string_to_sign
    assert fake.accepted == []
    [(vendor, reason)] = fake.rejected
    assert vendor == "aliyun" and reason.startswith("SignatureDoesNotMatch")


def test_aliyun_wrong_key_id_and_tampered_signature(fake: FakeVendor) -> None:
    with pytest.raises(ServerException) as info:
        aliyun_call(fake, key_id="LTAI-unknown")
    assert info.value.get_http_status() == 404
    assert info.value.get_error_code() == "InvalidAccessKeyId.NotFound"

    query = urllib.parse.urlencode(
        {
            "AccessKeyId": ALIYUN.key_id,
            "Action": "SendSms",
            "Version": "2017-05-25",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": "n1",
            "Timestamp": "2024-01-01T00:00:00Z",
            "PhoneNumbers": "13800138000",
            "Signature": "bogus=",
        }
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(fake.url + "/?" + query, method="POST", data=b""), timeout=5)
    assert err.value.code == 400
    payload = json.loads(err.value.read())
    assert payload["Code"] == "SignatureDoesNotMatch"
    assert "server string to sign is:POST&%2F&AccessKeyId%3D" in payload["Message"]
    assert [v for v, _ in fake.rejected] == ["aliyun", "aliyun"] and fake.accepted == []


def test_aliyun_number_limit_and_reject_number(fake: FakeVendor) -> None:
    too_many = ",".join(f"138{i:08d}" for i in range(1001))
    assert json.loads(aliyun_call(fake, too_many))["Code"] == "isv.MOBILE_COUNT_OVER_LIMIT"
    assert json.loads(aliyun_call(fake, too_many.rsplit(",", 1)[0]))["Code"] == "OK"
    fake.reject_number("aliyun", "13800000001", "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    body = json.loads(aliyun_call(fake, "13800000000,13800000001"))
    assert body == {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": body["RequestId"]}
    assert [len(r.phones) for r in fake.received("aliyun")] == [1001, 1000, 2]
    assert json.loads(aliyun_call(fake, template_param={"code": 1234}))["Code"] == "isv.INVALID_JSON_PARAM"


# --------------------------------------------------------------------------- tencent


def test_tencent_sdk_call_is_accepted_and_recorded(fake: FakeVendor) -> None:
    resp = tencent_client(fake).SendSms(tencent_request(["+8613800138000", "+8613900139000"]))
    assert [s.Code for s in resp.SendStatusSet] == ["Ok", "Ok"]
    assert resp.SendStatusSet[0].IsoCode == "CN" and resp.SendStatusSet[0].Fee == 1
    assert resp.RequestId
    [rec] = fake.received("tencent")
    assert rec.phones == ["+8613800138000", "+8613900139000"]
    assert rec.template == "1110" and rec.params == ["1234", "5"] and rec.sign_name == "腾讯测试"
    assert rec.headers["Host"] == fake.host  # the SDK signs host *with* the port


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"secret_key": "wrong-key"}, "AuthFailure.SignatureFailure"),
        ({"secret_id": "AKID-unknown"}, "AuthFailure.SecretIdNotFound"),
    ],
)
def test_tencent_wrong_credentials_are_rejected(fake: FakeVendor, kw: dict[str, str], code: str) -> None:
    with pytest.raises(TencentCloudSDKException) as info:
        tencent_client(fake, **kw).SendSms(tencent_request(["+8613800138000"]))
    assert info.value.get_code() == code
    assert fake.accepted == []
    [(vendor, reason)] = fake.rejected
    assert vendor == "tencent" and reason.startswith(code)


def test_tencent_app_id_limits_and_per_number_failures(fake: FakeVendor) -> None:
    client = tencent_client(fake)
    with pytest.raises(TencentCloudSDKException) as info:
        client.SendSms(tencent_request(["+8613800138000"], app_id="1400999999"))
    assert info.value.get_code() == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"

    with pytest.raises(TencentCloudSDKException) as info:
        client.SendSms(tencent_request([f"+86138{i:08d}" for i in range(201)]))
    assert info.value.get_code() == "LimitExceeded.PhoneNumberCountLimit"

    fake.reject_number("tencent", "+8613800000002", "LimitExceeded.PhoneNumberDailyLimit", "日下发超限")
    resp = client.SendSms(tencent_request(["+8613800000001", "+8613800000002", "13800000003"]))
    assert [s.Code for s in resp.SendStatusSet] == [
        "Ok",
        "LimitExceeded.PhoneNumberDailyLimit",
        "InvalidParameterValue.IncorrectPhoneNumber",
    ]
    assert [s.Fee for s in resp.SendStatusSet] == [1, 0, 0]
    assert [r.reply for r in fake.received("tencent")] == [
        "limit:LimitExceeded.PhoneNumberCountLimit",
        "partial:InvalidParameterValue.IncorrectPhoneNumber,LimitExceeded.PhoneNumberDailyLimit",
    ]


# --------------------------------------------------------------------------- ronglian


def test_ronglian_sdk_call_is_accepted_and_recorded(fake: FakeVendor) -> None:
    result = ronglian_send(fake, "13800138000,13900139000")
    assert result["statusCode"] == "000000"
    assert len(result["templateSMS"]["smsMessageSid"]) == 32
    assert len(result["templateSMS"]["dateCreated"]) == 14
    [rec] = fake.received("ronglian")
    assert rec.phones == ["13800138000", "13900139000"]
    assert rec.template == "1" and rec.params == ["1234", "5"] and rec.sign_name == ""


def test_ronglian_wrong_token_is_rejected(fake: FakeVendor) -> None:
    assert ronglian_send(fake, token="wrong-token")["statusCode"] == "111109"
    assert ronglian_send(fake, app_id="8a216da8otherapp")["statusCode"] == "111181"
    assert fake.accepted == []
    assert [(v, r[:6]) for v, r in fake.rejected] == [("ronglian", "111109"), ("ronglian", "111181")]


def test_ronglian_number_limit(fake: FakeVendor) -> None:
    assert ronglian_send(fake, ",".join(f"138{i:08d}" for i in range(201)))["statusCode"] == "160048"
    assert ronglian_send(fake, ",".join(f"138{i:08d}" for i in range(200)))["statusCode"] == "000000"


# --------------------------------------------------------------------------- ihuyi


@pytest.mark.parametrize("dynamic", [False, True], ids=["apikey", "dynamic-md5"])
def test_ihuyi_accepts_apikey_and_dynamic_password(fake: FakeVendor, dynamic: bool) -> None:
    status, ctype, text = ihuyi_post(fake, ihuyi_fields(dynamic=dynamic))
    body = json.loads(text)
    assert status == 200 and ctype.startswith("application/json")
    assert body["code"] == 2 and body["msg"] == "提交成功" and body["smsid"].isdigit()
    [rec] = fake.received("ihuyi")
    assert rec.phones == ["13800138000"] and rec.template == "" and rec.sign_name == ""
    assert rec.params == "您的验证码是：1234。请不要把验证码泄露给其他人。"


@pytest.mark.parametrize("dynamic", [False, True], ids=["apikey", "dynamic-md5"])
def test_ihuyi_wrong_key_is_rejected(fake: FakeVendor, dynamic: bool) -> None:
    _, _, text = ihuyi_post(fake, ihuyi_fields(api_key="wrong-key", dynamic=dynamic))
    assert json.loads(text)["code"] == 405
    assert fake.accepted == [] and [v for v, _ in fake.rejected] == ["ihuyi"]


def test_ihuyi_number_checks_and_xml_default(fake: FakeVendor) -> None:
    for bad in ("1380013800", "13800138000,13900139000", "+8613800138000"):
        assert json.loads(ihuyi_post(fake, ihuyi_fields(bad))[2])["code"] == 406
    fields = ihuyi_fields()
    del fields["format"]
    _, ctype, text = ihuyi_post(fake, fields)
    assert ctype.startswith("text/xml") and "<code>2</code>" in text


# --------------------------------------------------------------------------- modes


def test_mode_business_error_and_times(fake: FakeVendor) -> None:
    fake.set_mode("aliyun", "business_error")
    body = json.loads(aliyun_call(fake))
    assert body["Code"] == "isv.AMOUNT_NOT_ENOUGH" and body["RequestId"]
    fake.set_mode("aliyun", "business_error", code="isv.BUSINESS_LIMIT_CONTROL", message="触发分钟级流控", times=1)
    assert json.loads(aliyun_call(fake))["Code"] == "isv.BUSINESS_LIMIT_CONTROL"
    assert json.loads(aliyun_call(fake))["Code"] == "OK"  # times=1 used up
    assert [r.reply for r in fake.received("aliyun")] == [
        "business_error:isv.AMOUNT_NOT_ENOUGH",
        "business_error:isv.BUSINESS_LIMIT_CONTROL",
        "ok",
    ]


def test_mode_http_500(fake: FakeVendor) -> None:
    fake.set_mode("aliyun", "http_500")
    with pytest.raises(ServerException) as info:
        aliyun_call(fake)
    assert info.value.get_http_status() == 500
    assert len(fake.received("aliyun")) == 1  # the signature was valid


def test_mode_garbage(fake: FakeVendor) -> None:
    fake.set_mode("tencent", "garbage")
    with pytest.raises(TencentCloudSDKException):
        tencent_client(fake).SendSms(tencent_request(["+8613800138000"]))
    fake.set_mode("ihuyi", "garbage")
    status, ctype, text = ihuyi_post(fake, ihuyi_fields())
    assert (status, ctype, text) == (200, "text/html", "<html>not json")


def test_mode_hang_then_ok(fake: FakeVendor) -> None:
    fake.set_mode("ihuyi", "hang", seconds=0.3)
    started = time.monotonic()
    _, _, text = ihuyi_post(fake, ihuyi_fields())
    assert time.monotonic() - started >= 0.3
    assert json.loads(text)["code"] == 2


def test_stop_returns_promptly_during_hang() -> None:
    fake = FakeVendor().start()
    fake.set_mode("ihuyi", "hang", seconds=30)
    outcome: list[BaseException | str] = []

    def client() -> None:
        try:
            outcome.append(ihuyi_post(fake, ihuyi_fields(), timeout=10)[2])
        except BaseException as exc:  # the failure is the point
            outcome.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not fake.received("ihuyi") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.received("ihuyi"), "request never reached the fake"
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    thread.join(timeout=5)
    assert outcome and isinstance(outcome[0], Exception)  # connection dropped, no reply
    assert fake.received("ihuyi")[0].reply == "stopped"


def test_delay_and_reset(fake: FakeVendor) -> None:
    fake.delay = 0.2
    fake.set_mode("ihuyi", "http_500")
    fake.reject_number("ihuyi", "13800138000", "4030", "手机号码已被列入黑名单")
    started = time.monotonic()
    with pytest.raises(urllib.error.HTTPError):
        ihuyi_post(fake, ihuyi_fields())
    assert time.monotonic() - started >= 0.2
    fake.reset()
    assert (fake.accepted, fake.rejected, fake.delay) == ([], [], 0.0)
    assert json.loads(ihuyi_post(fake, ihuyi_fields())[2])["code"] == 2
    fake.reject_number("ihuyi", "13800138000", "4030", "手机号码已被列入黑名单")
    assert json.loads(ihuyi_post(fake, ihuyi_fields())[2]) == {
        "code": 4030,
        "msg": "手机号码已被列入黑名单",
        "smsid": "0",
    }


def test_set_mode_validates_arguments(fake: FakeVendor) -> None:
    with pytest.raises(ValueError):
        fake.set_mode("twilio", "ok")
    with pytest.raises(ValueError):
        fake.set_mode("aliyun", "explode")


# --------------------------------------------------------------------------- server robustness


def test_keep_alive_and_content_length(fake: FakeVendor) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    try:
        for _ in range(2):
            body = urllib.parse.urlencode(ihuyi_fields())
            conn.request(
                "POST",
                "/webservice/sms.php?method=Submit",
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            resp = conn.getresponse()
            data = resp.read()
            assert resp.version == 11 and int(resp.headers["Content-Length"]) == len(data)
            assert json.loads(data)["code"] == 2
        first, second = fake.received("ihuyi")
        assert first.client_port == second.client_port == first.raw["_client_port"] != 0
    finally:
        conn.close()


def test_garbage_input_does_not_kill_server(fake: FakeVendor) -> None:
    for junk in (
        b"\x00\xff garbage\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: zz\r\n\r\n",
        b"POST /webservice/sms.php HTTP/1.1\r\nContent-Length: 5\r\n\r\n\xff\xfe\x00ab",
    ):
        with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
    ronglian_headers = {"Authorization": "!!!not base64", "Content-Type": "application/json"}
    req = urllib.request.Request(
        fake.url + "/2013-12-26/Accounts/x/SMS/TemplateSMS?sig=1", data=b"{", headers=ronglian_headers
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read())["statusCode"] == "111102"
    assert json.loads(ihuyi_post(fake, ihuyi_fields())[2])["code"] == 2


def test_custom_credentials_and_unused_port() -> None:
    with FakeVendor({"ihuyi": replace(IHUYI, api_key="other-key")}) as fake:
        assert json.loads(ihuyi_post(fake, ihuyi_fields())[2])["code"] == 405
        assert json.loads(ihuyi_post(fake, ihuyi_fields(api_key="other-key"))[2])["code"] == 2
    port = unused_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_netease_fake_refuses_a_replayed_nonce(fake):
    import requests

    creds = fake.plugin("netease").credentials
    now = str(int(time.time()))
    headers = {
        "AppKey": creds.app_key,
        "Nonce": "n-1",
        "CurTime": now,
        "CheckSum": netease_fake.checksum(creds.app_secret, "n-1", now),
    }
    form = {"templateid": "19000001", "mobiles": '["13800138000"]', "params": '["1"]'}
    url = f"{fake.url}/sms/sendtemplate.action"
    assert requests.post(url, data=form, headers=headers, timeout=5).json()["code"] == 200
    assert requests.post(url, data=form, headers=headers, timeout=5).json() == {"code": 414, "desc": "nonce used"}
