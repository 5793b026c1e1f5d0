"""The fake vendor's own signature checks against the vendors' published worked examples.

The fake and an SDK could share a mistake and still agree with each other; a
vendor's published example (inputs and the expected signature, from its docs)
cannot. Each check below is the function the fake vendor verifies requests with.
"""

from __future__ import annotations

import base64
import hashlib
import json

from fake_vendor import aliyun_signature, ronglian_sig, tc3_signature


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
