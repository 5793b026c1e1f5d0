"""The fake vendor's own signature checks against the vendors' published worked examples.

The fake and an SDK could share a mistake and still agree with each other; a
vendor's published example (inputs and the expected signature, from its docs)
cannot. Each check below is the function the fake vendor verifies requests with: first the
signature primitives, then whole published requests through the fake's own request reading
(the Aliyun signed URL, the Tencent curl request with its Authorization header, the Ronglian
header), then Huawei, Volcengine, Baidu and Qiniu's published examples and NetEase's formula.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from email.message import Message

import pytest
from fake_vendor import FakeVendor
from fakes import baidu as baidu_fake
from fakes import huawei as huawei_fake
from fakes import netease as netease_fake
from fakes import qiniu as qiniu_fake
from fakes import volcengine as volcengine_fake
from fakes.aliyun import (
    AliyunCredentials,
    acs3_authorization_fields,
    acs3_canonical_request,
    acs3_signature,
    aliyun_request_params,
    aliyun_signature,
    aliyun_string_to_sign,
)
from fakes.ronglian import AuthRefusal, ronglian_authorization, ronglian_sig
from fakes.tencent import (
    tc3_authorization_fields,
    tc3_canonical_request,
    tc3_signature,
    tc3_signature_matches,
)


def test_aliyun_sendsms_example():
    """Aliyun SendSms doc, 签名示例: AccessKeyId testId, secret testSecret, GET, OutId 123."""
    params = {
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "AccessKeyId": "testId",
        "SignatureVersion": "1.0",
        "Timestamp": "2017-07-12T02:42:19Z",
        "Format": "XML",
        "Action": "SendSms",
        "Version": "2017-05-25",
        "RegionId": "cn-hangzhou",
        "PhoneNumbers": "15300000001",
        "SignName": "阿里云短信测试专用",
        "TemplateParam": '{"customer":"test"}',
        "TemplateCode": "SMS_71390007",
        "OutId": "123",
    }
    assert aliyun_signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_v3_signature_example():
    """Aliyun's V3 request signature (ACS3-HMAC-SHA256), which the V2.0 SDK sends: the published example of
    "ROA风格请求体&签名机制" (help.aliyun.com/zh/model-studio/roa-style-request-body-signature-mechanism), its request
    headers and its Authorization, checked with the fake's own canonical request and HMAC; the secret is the
    docs' placeholder YourAccessKeySecret."""
    empty = hashlib.sha256(b"").hexdigest()
    assert empty == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # x-acs-content-sha256
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-content-sha256": empty,
        "x-acs-date": "2023-10-26T09:01:01Z",
        "x-acs-signature-nonce": "d410180a5abf7fe235dd9b74aca91fc0",
        "x-acs-version": "2014-05-26",
    }
    authorization = (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;"
        "x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
    )
    fields = acs3_authorization_fields(authorization)
    assert fields is not None and fields["Credential"] == "YourAccessKeyId"
    query = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
    canonical = acs3_canonical_request("POST", "/", query, headers, fields["SignedHeaders"].split(";"), empty)
    assert acs3_signature("YourAccessKeySecret", canonical) == fields["Signature"]
    # any part changed changes it
    assert (
        acs3_signature("YourAccessKeySecret", canonical.replace("RunInstances", "StopInstances")) != fields["Signature"]
    )


def test_aliyun_rpc_signature_examples():
    """Aliyun's RPC signature doc (DescribeRegions, current and older revisions) and an IMS example."""
    regions = {
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    current = {**regions, "Timestamp": "2016-02-23T12:46:24Z"}
    older = {**regions, "TimeStamp": "2016-02-23T12:46:24Z"}
    assert aliyun_signature("GET", current, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert aliyun_signature("GET", older, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    create_user = {
        "Action": "CreateUser",
        "UserPrincipalName": "test@example.onaliyun.com",  # an "@" to percent-encode
        "DisplayName": "test",
        "SignatureVersion": "1.0",
        "Format": "JSON",
        "Timestamp": "2021-01-15T06:02:28Z",
        "AccessKeyId": "testid",
        "SignatureMethod": "HMAC-SHA1",
        "Version": "2019-08-15",
        "SignatureNonce": "3f6b4e80-56f7-11eb-a256-a9f756ea7e85",
    }
    assert aliyun_signature("GET", create_user, "testsecret") == "02heLegtw4+BFamznl1Ltj+vJ4A="


def test_tencent_tc3_example():
    """Tencent Cloud 签名方法 v3 (document/api/362/4208): CVM DescribeInstances, 2019-02-25."""
    body = json.dumps({"Limit": 1, "Filters": [{"Values": ["未命名"], "Name": "instance-name"}]})
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            "content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n",
            "content-type;host",
            hashlib.sha256(body.encode()).hexdigest(),
        ]
    )
    signature = tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "1551113065", "2019-02-25", "cvm", canonical_request)
    assert signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_ronglian_authorization_example():
    """Ronglian's REST doc: Authorization = base64(account SID + ":" + timestamp); the fake reads it back."""
    header = "MmM5NDgxMWM4N2ZiN2VjNjAxODgxZTUwYThlZDBiMzk6MjAyMzA1MjQxNDAwNTk="
    assert base64.b64decode(header).decode() == "2c94811c87fb7ec601881e50a8ed0b39:20230524140059"
    # sig is upper-case MD5(SID + token + timestamp); the published token is masked, so check the form
    sig = ronglian_sig("2c94811c87fb7ec601881e50a8ed0b39", "token", "20230524140059")
    assert sig == hashlib.md5(b"2c94811c87fb7ec601881e50a8ed0b39token20230524140059").hexdigest().upper()


# -- whole published requests through the fake's own request checks --------------------------------------

#: the signed URL of the SendSms doc's 签名示例 (its query string), and the StringToSign the doc prints
ALIYUN_SENDSMS_QUERY = (
    "Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123"
    "&PhoneNumbers=15300000001&RegionId=cn-hangzhou"
    "&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8"
    "&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0"
    "&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
    "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
)
ALIYUN_SENDSMS_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4"
    "%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode"
    "%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp"
    "%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
)


def test_aliyun_published_signed_url_reads_back_to_the_docs_string_to_sign():
    """The fake's own reading of a request (query parameters decoded) and its string to sign, against the doc's."""
    params = aliyun_request_params(ALIYUN_SENDSMS_QUERY, "", b"")
    assert params["SignName"] == "阿里云短信测试专用" and params["TemplateParam"] == '{"customer":"test"}'
    assert aliyun_string_to_sign("GET", params) == ALIYUN_SENDSMS_STRING_TO_SIGN
    assert aliyun_signature("GET", params, "testSecret") == params["Signature"] == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_published_request_passes_the_fake_and_a_changed_one_does_not():
    """The whole check the fake runs on every request (key, method, version, signature, nonce), fed the doc's
    request: accepted as the doc's account; one changed parameter is SignatureDoesNotMatch."""
    fake = FakeVendor({"aliyun": AliyunCredentials(key_id="testId", secret="testSecret")})
    reply = fake._handle("GET", "/?" + ALIYUN_SENDSMS_QUERY, Message(), b"")
    assert reply is not None and json.loads(reply.body)["Code"] == "OK", reply
    (received,) = fake.received("aliyun")
    assert received.phones == ["15300000001"] and received.params == {"customer": "test"}
    tampered = ALIYUN_SENDSMS_QUERY.replace("OutId=123", "OutId=124").replace("45e25e9b", "55e25e9b")
    reply = fake._handle("GET", "/?" + tampered, Message(), b"")
    assert reply is not None and json.loads(reply.body)["Code"] == "SignatureDoesNotMatch"


TENCENT_BODY = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'


def _headers(items: dict[str, str]) -> Message:
    """Headers as the fake's HTTP handler hands them over (looked up case-insensitively)."""
    message = Message()
    for name, value in items.items():
        message[name] = value
    return message


# (SignedHeaders, Signature, SecretKey, hash of the canonical request): the TC3 doc's example as first
# published (api/362/4208: content-type;host) and as published now (api/213/30654: x-tc-action signed too,
# its value lower-cased in the canonical request; the doc's SecretKey is 32 asterisks there)
TENCENT_EXAMPLES = [
    (
        "content-type;host",
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
    ),
    (
        "content-type;host;x-tc-action",
        "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f",
        "*" * 32,
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
    ),
]


@pytest.mark.parametrize(("signed", "signature", "secret_key", "canonical_hash"), TENCENT_EXAMPLES, ids=["v1", "v2"])
def test_tencent_published_request_passes_the_fakes_tc3_check(signed, signature, secret_key, canonical_hash):
    """The doc's whole curl request (headers, body, Authorization) through the fake's own header parsing,
    canonical request and check; the fake pins the service to ``sms``, the example is ``cvm``."""
    headers = _headers(
        {
            "Authorization": "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
            f"tc3_request, SignedHeaders={signed}, Signature={signature}",
            "Content-Type": "application/json; charset=utf-8",
            "Host": "cvm.tencentcloudapi.com",
            "X-TC-Action": "DescribeInstances",
            "X-TC-Timestamp": "1551113065",
            "X-TC-Version": "2017-03-12",
            "X-TC-Region": "ap-guangzhou",
        }
    )
    fields = tc3_authorization_fields(headers["Authorization"])
    assert fields is not None
    assert (fields["SecretId"], fields["Date"], fields["Service"]) == (
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "2019-02-25",
        "cvm",
    )
    canonical = tc3_canonical_request("POST", "/", "", headers, signed, TENCENT_BODY)
    # HashedRequestPayload and HashedCanonicalRequest as the doc prints them
    assert canonical.endswith("\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    assert hashlib.sha256(canonical.encode()).hexdigest() == canonical_hash
    assert tc3_signature_matches("POST", "/", "", headers, TENCENT_BODY, fields, secret_key, service="cvm")
    # the same request is refused by the fake as an SMS request, with another body, or another key
    assert not tc3_signature_matches("POST", "/", "", headers, TENCENT_BODY, fields, secret_key, service="sms")
    assert not tc3_signature_matches("POST", "/", "", headers, TENCENT_BODY[:-1] + b" }", fields, secret_key, "cvm")
    assert not tc3_signature_matches("POST", "/", "", headers, TENCENT_BODY, fields, secret_key + "x", "cvm")


def test_ronglian_published_authorization_reads_back_through_the_fake():
    """The seed's Authorization header, read by the fake's own parser: account SID and timestamp."""
    header = "MmM5NDgxMWM4N2ZiN2VjNjAxODgxZTUwYThlZDBiMzk6MjAyMzA1MjQxNDAwNTk="
    assert ronglian_authorization(header) == ("2c94811c87fb7ec601881e50a8ed0b39", "20230524140059")
    assert ronglian_authorization("not base64!") == AuthRefusal(("111102", "请求包头Authorization参数Base64解码失败"))
    short_stamp = base64.b64encode(b"2c94811c87fb7ec601881e50a8ed0b39:202305241400").decode()
    assert isinstance(ronglian_authorization(short_stamp), AuthRefusal)


# -- Huawei, Volcengine, Baidu, Qiniu, NetEase -----------------------------------------------------------------
def test_huawei_fake_reproduces_the_api_signing_guides_worked_example():
    # devg-apisign, "AK/SK签名认证算法详解": a GET with an empty body, signed content-type;host;x-sdk-date
    headers = {
        "Content-Type": "application/json",
        "Host": "service.region.example.com",
        "X-Sdk-Date": "20191115T033655Z",
    }
    path = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
    query = "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0"
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical = huawei_fake.canonical_request("GET", path, query, lowered, b"", sorted(lowered))
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    )
    assert huawei_fake.authorization(
        "GET", path, query, headers, b"", "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
    ) == (
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


VOLC_SK = "WkRZeE1EQmxPVGhsWWpWak5HVmtNbUUxTXpZeU9UVXlOMlE1TmpZeVlqTQ=="


@pytest.mark.parametrize(
    ("method", "host", "query", "body", "x_date", "region", "service", "expected"),
    [
        # docs 6369/67270 (签名过程Demo)
        (
            "GET",
            "iam.volcengineapi.com",
            "Action=ListUsers&Version=2018-01-01&Limit=10&Offset=0",
            b"",
            "20240619T071306Z",
            "cn-beijing",
            "iam",
            "e31c4558bcfe08a286001f59cedbf0791ffd0b2362f10e55ee2627467bcdde93",
        ),
        # docs 6369/67269 (签名方法), GET and POST
        (
            "GET",
            "billing.volcengineapi.com",
            "Action=QueryBalanceAcct&Version=2022-01-01",
            b"",
            "20250329T180937Z",
            "cn-beijing",
            "billing",
            "1eda9e7e6b1728151a8e8791fdaf67cfbd28bd5c80d0fce2eb208746cf483105",
        ),
        (
            "POST",
            "billing.volcengineapi.com",
            "Action=ListBill&Version=2022-01-01",
            b'{"Limit":10,"BillPeriod":"2023-08"}',
            "20250329T180937Z",
            "cn-beijing",
            "billing",
            "5e8480ceea12d0000a23c054151c50dd02c1a7dec835004057d19f13d53a7658",
        ),
    ],
)
def test_volcengine_fake_reproduces_the_published_signature_examples(
    method, host, query, body, x_date, region, service, expected
):
    headers = {"host": host, "x-date": x_date}
    canonical = volcengine_fake.canonical_request(method, "/", query, headers, body, ["host", "x-date"])
    assert volcengine_fake.signature(VOLC_SK, x_date, region, service, canonical) == expected


def test_volcengine_provider_signature_matches_the_fakes_independent_check():
    """The provider's signer (a different code path) against the published scheme, field by field."""
    from flask_sms.providers.volcengine import sign

    body = b'{"SmsAccount":"1"}'
    headers = sign("AK", "SK", "cn-north-1", "sms.volcengineapi.com", body, "20260102T030405Z")
    lowered = {k.lower(): v for k, v in headers.items()}
    signed = ["content-type", "host", "x-content-sha256", "x-date"]
    canonical = volcengine_fake.canonical_request(
        "POST", "/", "Version=2020-01-01&Action=SendSms", lowered, body, signed
    )
    expected = volcengine_fake.signature("SK", "20260102T030405Z", "cn-north-1", "volcSMS", canonical)
    assert headers["Authorization"] == (
        "HMAC-SHA256 Credential=AK/20260102/cn-north-1/volcSMS/request, "
        f"SignedHeaders={';'.join(signed)}, Signature={expected}"
    )


# Baidu, "生成认证字符串": BOS UploadPart, AK 32 x "a", SK 32 x "b"
BAIDU_HEADERS = {
    "Host": "bj.bcebos.com",
    "Date": "Mon, 27 Apr 2015 16:23:49 +0800",
    "Content-Type": "text/plain",
    "Content-Length": "8",
    "Content-Md5": "NFzcPqhviddjRNnSOGo4rw==",
    "x-bce-date": "2015-04-27T08:23:49Z",
}


@pytest.mark.parametrize(
    ("signed", "expected"),
    [
        (None, "/1800//d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e"),
        (
            ["host", "x-bce-date"],
            "/1800/host;x-bce-date/1b8de5a23a56eef657c69f94c621e7acd227d049a4ba577f537d5e5cebf0cf32",
        ),
    ],
)
def test_baidu_fake_reproduces_the_published_auth_string_example(signed, expected):
    auth = baidu_fake.authorization(
        "a" * 32,
        "b" * 32,
        "PUT",
        "/v1/test/myfolder/readme.txt",
        "partNumber=9&uploadId=a44cc9bab11cbd156984767aad637851",
        BAIDU_HEADERS,
        "2015-04-27T08:23:49Z",
        signed=signed,
    )
    assert auth == f"bce-auth-v1/{'a' * 32}/2015-04-27T08:23:49Z{expected}"
    # the doc's canonical query: encoded, then sorted as strings ("text10" before "text1")
    canonical = baidu_fake.canonical_request("GET", "/", "text=&text1=%E6%B5%8B%E8%AF%95&text10=test", {}, None)
    assert canonical.split("\n")[2] == "text10=test&text1=%E6%B5%8B%E8%AF%95&text="


def test_qiniu_fake_reproduces_the_access_token_docs_example():
    # 管理凭证 (kodo/1201): POST /move/<src>/<dst> on rs.qiniu.com, no Content-Type, no body
    path = "/move/bmV3ZG9jczpmaW5kX21hbi50eHQ=/bmV3ZG9jczpmaW5kLm1hbi50eHQ="
    signing = qiniu_fake.signing_string("POST", path, "", "rs.qiniu.com", {}, b"")
    assert signing == f"POST {path}\nHost: rs.qiniu.com\n\n".encode()
    assert qiniu_fake.token("MY_ACCESS_KEY", "MY_SECRET_KEY", signing) == "MY_ACCESS_KEY:1uLvuZM6l6oCzZFqkJ6oI4oFMVQ="
    # a JSON body is signed; an octet-stream body is not
    json_body = qiniu_fake.signing_string("POST", "/v1/message", "", "h", {"Content-Type": "application/json"}, b"{}")
    octets = qiniu_fake.signing_string(
        "POST", "/v1/message", "", "h", {"Content-Type": "application/octet-stream"}, b"{}"
    )
    assert json_body.endswith(b"\n\n{}") and octets.endswith(b"\n\n")


def test_netease_checksum_matches_openssl_and_the_providers_helper():
    """NetEase publishes the formula but no worked value: openssl is the independent reference."""
    from flask_sms.providers.netease import checksum

    secret, nonce, cur_time = "368d4609c9d9", "baoluo", "1478151200"
    out = (
        subprocess.run(
            ["openssl", "dgst", "-sha1"], input=f"{secret}{nonce}{cur_time}".encode(), capture_output=True, check=True
        )
        .stdout.decode()
        .split()[-1]
    )
    assert netease_fake.checksum(secret, nonce, cur_time) == out == checksum(secret, nonce, cur_time)
    assert out == hashlib.sha1(f"{secret}{nonce}{cur_time}".encode()).hexdigest()
