"""Tencent Cloud SMS 2021-01-11 (``SendSms``) for the fake vendor: the TC3-HMAC-SHA256 signature and the replies.

The kit claims every request that carries an ``X-TC-Action`` header and that no other kit claims (the
voice API's ``SendTtsVoice`` is ``tencent_voice.py``'s). A plug-in action (``fake.actions["tencent:<Action>"]``,
e.g. the receipts' ``PullSmsSendStatus``) is answered after the signature check.

Error codes: tencentcloud/sms/v20210111/errorcodes.py (SDK 3.1.153), which mirrors the SendSms API doc,
plus the documented common (public) error codes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from typing import Any, Callable, ClassVar
from urllib.parse import urlsplit

from fake_captcha import CaptchaCheck, register_check
from fake_vendor import Answered, Received, Refusal, Reply, SendFacts, VendorFake, json_bytes, parse_form, register_fake

#: SendSms: PhoneNumberSet "单次请求最多支持200个手机号"
MAX_NUMBERS = 200

_TC_SIG_FAILURE = (
    "AuthFailure.SignatureFailure",
    "The provided credentials could not be validated. Please check your signature is correct.",
)
_TC_SECRET_ID = (
    "AuthFailure.SecretIdNotFound",
    "The SecretId is not found, please ensure that your SecretId is correct.",
)
_TC_BAD_AUTHZ = (
    "AuthFailure.InvalidAuthorization",
    "The Authorization header is invalid; it does not conform to the TC3-HMAC-SHA256 standard.",
)
_TC_APPID = (
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
    "SmsSdkAppId 校验失败，请检查 SmsSdkAppId 是否属于云API密钥的关联账户。",
)
_TC_TOO_MANY = (
    "LimitExceeded.PhoneNumberCountLimit",
    "调用接口单次提交的手机号个数超过200个，请遵守 API 接口输入参数描述。",
)
_TC_BAD_NUMBER = ("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误。")
_TC_EMPTY_SET = ("MissingParameter.EmptyPhoneNumberSet", "传入的号码列表为空，请确认您的参数中是否传入号码。")
_TC_JSON = ("FailedOperation.JsonParseFail", "解析请求包体时候失败。")

# Aliyun codes. They come from the Dysmsapi error-code page and the common POP
# gateway errors. The SDK's own handling of "server string to sign is:" shows the
# SignatureDoesNotMatch wording.
_AL_TOO_MANY = ("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
_AL_BAD_NUMBER = ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
_AL_BAD_JSON = ("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
# "isv.PARAM_NOT_SUPPORT_URL 不支持URL ... 域名和ip请固化到模板申请中" (API错误码)
_AL_URL = ("isv.PARAM_NOT_SUPPORT_URL", "不支持URL")
_URL = re.compile(r"(?i)(?:https?://|www\.)|\b[a-z0-9-]+\.(?:com|cn|net|org|top|xyz|io)\b")

_TC_ISO = {
    "+86": "CN",
    "+852": "HK",
    "+853": "MO",
    "+886": "TW",
    "+1": "US",
    "+44": "GB",
    "+81": "JP",
    "+65": "SG",
    "+82": "KR",
    "+61": "AU",
}


def _hmac_sha256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_signature(secret_key: str, timestamp: str, date: str, service: str, canonical_request: str) -> str:
    """Tencent Cloud TC3-HMAC-SHA256 over a canonical request (method, path, query, headers, signed
    header names, payload hash, joined by newlines)."""
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            timestamp,
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    k_date = _hmac_sha256(("TC3" + secret_key).encode("utf-8"), date)
    k_service = _hmac_sha256(k_date, service)
    k_signing = _hmac_sha256(k_service, "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def tc3_authorization_fields(header: str) -> dict[str, str] | None:
    """The fields of a TC3 ``Authorization`` header (plus its scope's SecretId, Date, Service), or ``None``."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != "TC3-HMAC-SHA256":
        return None
    fields: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            fields[key] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    scope = fields["Credential"].split("/")
    if len(scope) != 4 or scope[3] != "tc3_request":
        return None
    fields["SecretId"], fields["Date"], fields["Service"] = scope[:3]
    return fields


def tc3_canonical_request(
    method: str, path: str, query: str, headers: Message | dict[str, str], signed_headers: str, body: bytes
) -> str:
    """The TC3 canonical request rebuilt from what arrived: the signed headers' names and values lower-cased
    and trimmed (per the TC3 doc), the body's SHA-256 (or that of ``UNSIGNED-PAYLOAD`` when so declared)."""
    canonical_headers = "".join(
        f"{name}:{(headers.get(name) or '').strip().lower()}\n" for name in signed_headers.split(";")
    )
    if (headers.get("X-TC-Content-SHA256") or "") == "UNSIGNED-PAYLOAD":
        payload_hash = hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest()
    else:
        payload_hash = hashlib.sha256(body).hexdigest()
    return f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"


def tc3_signature_matches(
    method: str,
    path: str,
    query: str,
    headers: Message | dict[str, str],
    body: bytes,
    fields: dict[str, str],
    secret_key: str,
    service: str,
) -> bool:
    """The fake's TC3 check of one request whose Authorization header gave ``fields``: the scope's service and
    date (the UTC date of ``X-TC-Timestamp``), content-type and host signed, and the signature itself."""
    timestamp = (headers.get("X-TC-Timestamp") or "").strip()
    if not timestamp.isdigit():
        return False
    ts_date = datetime.fromtimestamp(int(timestamp), tz=timezone.utc).strftime("%Y-%m-%d")
    signed = fields["SignedHeaders"]
    if (
        fields["Service"] != service
        or fields["Date"] != ts_date
        or not {"content-type", "host"} <= set(signed.split(";"))
    ):
        return False
    canonical_request = tc3_canonical_request(method, path, query, headers, signed, body)
    expected = tc3_signature(secret_key, timestamp, fields["Date"], fields["Service"], canonical_request)
    return hmac.compare_digest(fields["Signature"].encode("utf-8"), expected.encode("ascii"))


@dataclass
class TencentCredentials:
    """The one account the fake knows."""

    secret_id: str = "AKID-test-secret-id"
    secret_key: str = "tencent-test-secret-key-XYZ"
    app_id: str = "1400000001"  # SmsSdkAppId


@register_fake
class TencentFake(VendorFake):
    name = "tencent"
    business_error = ("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足，请购买套餐包。")
    send_facts = SendFacts(
        params_on_wire=["483920", "5"],
        max_numbers=MAX_NUMBERS,
        auth_errors=("AuthFailure.SignatureFailure",),
        rejected_code="LimitExceeded.PhoneNumberDailyLimit",
        secret_key="SMS_TENCENT_SECRET_KEY",
        international=[["+16502530000", "+85261234567"]],  # E.164
        mainland_e164=True,
        http_500_code="ServerNetworkError",
    )
    claim_order = 1  # after tencent_voice.py, which claims its own action
    correlation_field = "SessionContext"

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = TencentCredentials()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return "X-TC-Action" in headers

    @staticmethod
    def reply(payload: dict[str, Any], label: str) -> Reply:
        payload = dict(payload)
        payload.setdefault("RequestId", str(uuid.uuid4()))
        # Exactly "application/json": the SDK only looks for Response.Error when
        # Content-Type is "application/json" or "text/plain".
        return Reply(200, json_bytes({"Response": payload}), "application/json", label)

    @classmethod
    def _refuse(cls, code: str, message: str) -> Refusal:
        return Refusal(
            f"{code}: {message}",
            cls.reply({"Error": {"Code": code, "Message": message}}, f"refused:{code}"),
        )

    def parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        self._authenticate(method, path, query, headers, body)
        self._route(headers, body)
        data = self._send_fields(method, query, body)
        phones = data["PhoneNumberSet"]
        template_params = data.get("TemplateParamSet") or []
        pending = _TC_TOO_MANY if len(phones) > MAX_NUMBERS else None
        rec = Received(
            "tencent", list(phones), str(data["TemplateId"]), template_params, str(data.get("SignName") or ""), data
        )
        return rec, pending, {"session_context": str(data.get("SessionContext") or "")}

    def _authenticate(self, method: str, path: str, query: str, headers: Message, body: bytes) -> None:
        """TC3-HMAC-SHA256, in Tencent's order: the header's form, the SecretId, the timestamp, the signature."""
        refuse = self._refuse
        fields = tc3_authorization_fields(headers.get("Authorization") or "")
        if fields is None:
            raise refuse(*_TC_BAD_AUTHZ)
        if fields["SecretId"] != self.credentials.secret_id:
            raise refuse(*_TC_SECRET_ID)
        timestamp = (headers.get("X-TC-Timestamp") or "").strip()
        if not timestamp.isdigit():
            raise refuse("MissingParameter", "The request is missing a required parameter `Timestamp`.")
        if not tc3_signature_matches(
            method, path, query, headers, body, fields, self.credentials.secret_key, service="sms"
        ):
            raise refuse(*_TC_SIG_FAILURE)

    def _route(self, headers: Message, body: bytes) -> None:
        """A plugin's action answers at once (with its JSON body); otherwise only SendSms of 2021-01-11."""
        refuse = self._refuse
        action = headers.get("X-TC-Action") or ""
        plugin = self.fake.actions.get(f"tencent:{action}")
        if plugin is not None:
            try:
                request = json.loads(body.decode("utf-8"))
            except ValueError:
                raise refuse(*_TC_JSON) from None
            raise Answered(plugin(request if isinstance(request, dict) else {}))
        if action != "SendSms":
            raise refuse("InvalidAction", f"The requested action `{action}` does not exist.")
        version = headers.get("X-TC-Version") or ""
        if version != "2021-01-11":
            raise refuse("NoSuchVersion", f"The requested version `{version}` of API `SendSms` does not exist.")

    def _send_fields(self, method: str, query: str, body: bytes) -> dict[str, Any]:
        """SendSms's fields (JSON, or the query of a GET), refused as Tencent does: the app, the numbers, the template."""
        refuse = self._refuse
        try:
            data = json.loads(body.decode("utf-8")) if method != "GET" else parse_form(query)
        except ValueError:
            raise refuse(*_TC_JSON) from None
        if not isinstance(data, dict):
            raise refuse(*_TC_JSON)
        if str(data.get("SmsSdkAppId") or "") != self.credentials.app_id:
            raise refuse(*_TC_APPID)
        phones = data.get("PhoneNumberSet")
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            raise refuse("InvalidParameter", "The parameter `PhoneNumberSet` must be an array of strings.")
        if not phones:
            raise refuse(*_TC_EMPTY_SET)
        if not data.get("TemplateId"):
            raise refuse("MissingParameter", "The request is missing a required parameter `TemplateId`.")
        return data

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self.reply({"Error": {"Code": code, "Message": message}}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("tencent", rec.phones)
        statuses = []
        failed: list[str] = []
        for phone in rec.phones:
            iso = next((v for k, v in sorted(_TC_ISO.items(), key=lambda kv: -len(kv[0])) if phone.startswith(k)), "")
            entry = {
                "SerialNo": "",
                "PhoneNumber": phone,
                "Fee": 0,
                "SessionContext": ctx.get("session_context", ""),
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": iso,
            }
            if phone in hits:
                entry["Code"], entry["Message"] = hits[phone]
            elif not re.fullmatch(r"\+\d{6,16}", phone):
                entry["Code"], entry["Message"] = _TC_BAD_NUMBER
                entry["IsoCode"] = ""
            else:
                entry["SerialNo"] = f"2433:{secrets.token_hex(10)}"
                entry["Fee"] = 1
            if entry["Code"] != "Ok":
                failed.append(str(entry["Code"]))
            statuses.append(entry)
        label = "ok" if not failed else "partial:" + ",".join(sorted(set(failed)))
        return self.reply({"SendStatusSet": statuses}, label)

    # -- delivery receipts (a JSON array pushed, PullSmsSendStatus and PullSmsSendStatusByPhoneNumber) ------
    push_tries = 3  # the first try and 2 retries

    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, SerialNo, SessionContext) of every number the reply took."""
        taken = [status for status in body["Response"]["SendStatusSet"] if status["Code"] == "Ok"]
        return [(s["PhoneNumber"], s["SerialNo"], s.get("SessionContext") or "") for s in taken]

    def receipt_pushes(self, entries: list[Any], batch: int = 100) -> list[tuple[bytes, str, dict[str, str]]]:
        items = [self.report_item(entry) for entry in entries]
        return [
            (json.dumps(items[i : i + batch], ensure_ascii=False).encode(), "application/json", {})
            for i in range(0, len(items), batch)
        ]

    def receipt_queries(self, receipts: Any) -> dict[str, Callable[[dict[str, Any]], Reply]]:
        return {
            "tencent:PullSmsSendStatus": lambda request: self._pull_queue(receipts, request),
            "tencent:PullSmsSendStatusByPhoneNumber": lambda request: self._pull_by_phone(receipts, request),
        }

    @staticmethod
    def report_item(entry: Any) -> dict[str, Any]:
        item = {
            "user_receive_time": entry.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
            "nationcode": "86",
            "mobile": entry.e164.removeprefix("+86"),
            "report_status": "SUCCESS" if entry.delivered else "FAIL",
            "errmsg": entry.code,
            "description": entry.description,
            "sid": entry.message_id,
        }
        if entry.out_id:
            item["ext"] = entry.out_id
        return item

    @staticmethod
    def _pulled_item(entry: Any) -> dict[str, Any]:
        return {
            "UserReceiveTime": int(entry.reported_at.timestamp()),
            "CountryCode": "86",
            "SubscriberNumber": entry.e164.removeprefix("+86"),
            "PhoneNumber": entry.e164,
            "SerialNo": entry.message_id,
            "ReportStatus": "SUCCESS" if entry.delivered else "FAIL",
            "Description": entry.code,
            "SessionContext": entry.out_id,
        }

    def _query_refusal(self, request: dict[str, Any]) -> Reply | None:
        limit = request.get("Limit")
        if str(request.get("SmsSdkAppId") or "") != self.credentials.app_id:
            error = {"Code": "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "Message": "SmsSdkAppId verify failed."}
        elif not isinstance(limit, int) or not 1 <= limit <= 100:
            error = {"Code": "InvalidParameterValue", "Message": "Limit must be 1-100."}
        else:
            return None
        return self.reply({"Error": error}, "query_error")

    def _pull_queue(self, receipts: Any, request: dict[str, Any]) -> Reply:
        receipts.queries.append(("tencent:PullSmsSendStatus", dict(request)))
        refusal = self._query_refusal(request)
        if refusal is not None:
            return refusal
        with receipts.lock:
            waiting = [e for e in receipts.sent if e.vendor == "tencent" and not e.pulled][: request["Limit"]]
            for entry in waiting:
                entry.pulled = True
        items = [self._pulled_item(e) for e in waiting]
        return self.reply({"PullSmsSendStatusSet": items}, "query")

    def _pull_by_phone(self, receipts: Any, request: dict[str, Any]) -> Reply:
        receipts.queries.append(("tencent:PullSmsSendStatusByPhoneNumber", dict(request)))
        refusal = self._query_refusal(request)
        if refusal is not None:
            return refusal
        begin, end = request.get("BeginTime"), request.get("EndTime")
        if not isinstance(begin, int) or not isinstance(end, int) or request.get("Offset") != 0:
            error = {"Code": "InvalidParameterValue", "Message": "BeginTime, EndTime and Offset (0) are required."}
            return self.reply({"Error": error}, "query_error")
        with receipts.lock:
            found = [
                e
                for e in receipts.sent
                if e.vendor == "tencent"
                and e.e164 == request.get("PhoneNumber")
                and begin <= int(e.reported_at.timestamp()) <= end
            ]
        found.sort(key=lambda e: e.reported_at)
        items = [self._pulled_item(e) for e in found[: request["Limit"]]]
        return self.reply({"PullSmsSendStatusSet": items}, "query")


# -- the human check: Tencent Cloud Captcha DescribeCaptchaResult (2019-07-22), for tests/fake_captcha.py --------
@register_check
class TencentCaptchaCheck(CaptchaCheck):
    """A TC3-HMAC-SHA256 request (this kit's check, for service ``captcha``), ``CaptchaType`` 9, the
    ``CaptchaAppId`` and ``AppSecretKey``; ``CaptchaCode`` 1 for a ticket the fake issued (with its
    ``Randstr``), 7 for a wrong randstr, 9 for a ticket used again, 15 for one it never issued."""

    name = "tencent"
    keys: ClassVar[dict[str, str]] = {
        "secret_id": "AKIDfakeCaptchaSecretId",
        "secret_key": "fakeCaptchaSecretKey",
        "captcha_app_id": "199999164",
        "app_secret_key": "E4kwK9AcXQMHkktiItyMEyQPn",
    }

    def claims(self, path: str, headers: Any) -> bool:
        return headers.get("X-TC-Action") == "DescribeCaptchaResult"

    def challenge(self, token: str) -> dict[str, str]:
        return {"ticket": "tr0" + token, "randstr": "@" + secrets.token_hex(2)}

    def check(self, fake: Any, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        keys = self.keys
        fields = tc3_authorization_fields(headers.get("Authorization") or "")
        parts = urlsplit(target)
        if (
            fields is None
            or fields["SecretId"] != keys["secret_id"]
            or not tc3_signature_matches(
                "POST", parts.path or "/", parts.query, headers, body, fields, keys["secret_key"], service="captcha"
            )
        ):
            error = {
                "Code": "AuthFailure.SignatureFailure",
                "Message": "The provided credentials could not be validated.",
            }
            return 200, {"Response": {"Error": error, "RequestId": secrets.token_hex(8)}}
        asked = json.loads(body)
        fake.checked.append(("tencent", asked))
        if asked.get("CaptchaType") != 9 or str(asked.get("CaptchaAppId")) != keys["captcha_app_id"]:
            return 200, _captcha_result(16, "appid-ticket mismatch")
        if asked.get("AppSecretKey") != keys["app_secret_key"]:
            return 200, _captcha_result(16, "appid-ticket mismatch")
        token = str(asked.get("Ticket", ""))[3:]
        issued = fake.issued(token)
        if issued is None:
            return 200, _captcha_result(15, "decrypt fail")
        if asked.get("Randstr") != issued["randstr"]:
            return 200, _captcha_result(7, "captcha no match")
        if fake.take(token) != "ok":
            return 200, _captcha_result(9, "ticket reused")
        return 200, _captcha_result(1, "OK")


def _captcha_result(code: int, message: str) -> dict[str, Any]:
    return {
        "Response": {
            "CaptchaCode": code,
            "CaptchaMsg": message,
            "EvilLevel": 0,
            "GetCaptchaTime": 0,
            "RequestId": secrets.token_hex(8),
        }
    }
