"""Aliyun Dysmsapi (短信服务) for the fake vendor: ``SendSms`` 2017-05-25, its signatures and its receipts.

Two signatures, each checked on its own terms: the RPC signature v1 (HMAC-SHA1 keyed with
``secret + "&"``, as ``aliyun-python-sdk-core`` signs) and the V3 signature ACS3-HMAC-SHA256 (as
``alibabacloud_dysmsapi20170525`` signs, the action and version in ``x-acs-*`` headers). Parameters
may be in the query string and/or a form-encoded body; both are merged. This kit answers any request
no other kit claims (the SDK's endpoint has no path of its own).

:class:`AliyunRpcFake` is what the fakes of Aliyun's other RPC products (Dyvmsapi voice calls,
Dypnsapi codes: ``aliyun_voice.py``, ``aliyun_pnvs.py``) share with SendSms: the same parameters,
the same HMAC-SHA1 check and nonce rule, the same JSON reply shape.

Error codes from the Dysmsapi error-code page and the common POP gateway errors; the SDK's own
handling of "server string to sign is:" shows the SignatureDoesNotMatch wording.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message
from typing import Any, Callable, ClassVar
from urllib.parse import quote, urlsplit

from fake_captcha import CaptchaCheck, register_check
from fake_vendor import Answered, Received, Refusal, Reply, SendFacts, VendorFake, json_bytes, parse_form, register_fake

BEIJING = timezone(timedelta(hours=8))
#: SendSms: PhoneNumbers "上限为1000个手机号码"
MAX_NUMBERS = 1000
#: the V3 signature's algorithm name (the one the V2 SDK uses)
ACS3 = "ACS3-HMAC-SHA256"


_AL_TOO_MANY = ("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制")
_AL_BAD_NUMBER = ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
_AL_BAD_JSON = ("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
# "isv.PARAM_NOT_SUPPORT_URL 不支持URL ... 域名和ip请固化到模板申请中" (API错误码)
_AL_URL = ("isv.PARAM_NOT_SUPPORT_URL", "不支持URL")
_URL = re.compile(r"(?i)(?:https?://|www\.)|\b[a-z0-9-]+\.(?:com|cn|net|org|top|xyz|io)\b")


def _template_params(raw: str | None) -> tuple[object, tuple[str, str] | None]:
    """TemplateParam as read, and the error it earns: Aliyun takes a JSON object of strings only."""
    if not raw:
        return {}, None
    try:
        template_params = json.loads(raw)
    except ValueError:
        return raw, _AL_BAD_JSON
    if not isinstance(template_params, dict) or not all(isinstance(v, str) for v in template_params.values()):
        return template_params, _AL_BAD_JSON
    if any(_URL.search(value) for value in template_params.values()):
        return template_params, _AL_URL
    return template_params, None


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as required by Aliyun RPC signatures."""
    return quote(value, safe="-_.~")


def aliyun_string_to_sign(method: str, params: dict[str, str]) -> str:
    """The RPC string to sign: the method, the encoded ``/``, the encoded sorted query (``Signature`` left out)."""
    pe = aliyun_percent_encode
    canonical = "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(params.items()) if k != "Signature")
    return f"{method.upper()}&{pe('/')}&{pe(canonical)}"


def aliyun_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Aliyun RPC signature v1: base64 HMAC-SHA1, keyed with ``secret + "&"``, of the string to sign."""
    string_to_sign = aliyun_string_to_sign(method, params)
    digest = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def aliyun_request_params(query: str, content_type: str, body: bytes) -> dict[str, str]:
    """Every parameter of an Aliyun RPC request: the query string, plus a form-encoded body (both are signed)."""
    params = parse_form(query)
    ctype = content_type.lower()
    if body and (not ctype or "application/x-www-form-urlencoded" in ctype):
        params.update(parse_form(body.decode("utf-8", "replace")))
    return params


def acs3_authorization_fields(header: str) -> dict[str, str] | None:
    """``ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex`` read back, or ``None``."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ACS3:
        return None
    fields = dict(item.strip().split("=", 1) for item in rest.split(",") if "=" in item)
    return fields if {"Credential", "SignedHeaders", "Signature"} <= fields.keys() else None


def acs3_canonical_request(
    method: str, path: str, query: dict[str, str], lowered: dict[str, str], signed: list[str], payload_hash: str
) -> str:
    """The V3 canonical request: method, path, the query (name and value RFC 3986-encoded, sorted), each signed
    header as ``name:trimmed value``, the signed names, the body's hex SHA-256."""
    pe = aliyun_percent_encode
    canonical_query = "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(query.items()))
    canonical_headers = "".join(f"{name}:{lowered[name].strip()}\n" for name in signed)
    return (
        f"{method.upper()}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{';'.join(signed)}\n{payload_hash}"
    )


def acs3_signature(secret: str, canonical_request: str) -> str:
    """Hex HMAC-SHA256 under the AccessKey secret of ``ACS3-HMAC-SHA256\n`` + the canonical request's hex SHA-256."""
    to_sign = f"{ACS3}\n{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class AliyunCredentials:
    """The one account the fake knows."""

    key_id: str = "LTAI-test-key-id"
    secret: str = "aliyun-test-secret-XYZ"


@register_fake
class AliyunFake(VendorFake):
    name = "aliyun"
    business_error = ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
    send_facts = SendFacts(
        params_on_wire={"code": "483920", "minutes": "5"},
        max_numbers=MAX_NUMBERS,
        # the SDK turns SignatureDoesNotMatch into InvalidAccessKeySecret when it can tell
        auth_errors=("SignatureDoesNotMatch", "InvalidAccessKeySecret"),
        rejected_code="isv.BUSINESS_LIMIT_CONTROL",  # the per-number cap (1/min, 5/h, 10/day)
        secret_key="SMS_ALIYUN_ACCESS_KEY_SECRET",
        international=[["16502530000", "85261234567"]],  # country code and number, no "+"
    )
    claim_order = 2  # any request no other kit claims
    correlation_field = "OutId"

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = AliyunCredentials()
        self.nonces: set[str] = set()

    def reset(self) -> None:
        self.nonces.clear()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return "X-TC-Action" not in headers  # any request no other kit claims, but Tencent's

    @staticmethod
    def reply(status: int, payload: dict[str, Any], label: str) -> Reply:
        payload = dict(payload)
        payload.setdefault("RequestId", str(uuid.uuid4()).upper())
        return Reply(status, json_bytes(payload), "application/json;charset=utf-8", label)

    @classmethod
    def _refuse(cls, status: int, code: str, message: str) -> Refusal:
        return Refusal(f"{code}: {message}", cls.reply(status, {"Code": code, "Message": message}, f"refused:{code}"))

    def parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        params = aliyun_request_params(query, headers.get("Content-Type") or "", body)
        if (headers.get("Authorization") or "").startswith(ACS3 + " "):
            self._acs3_authenticate(method, path, query, headers, body)
            params = {
                **params,
                "Action": headers.get("x-acs-action") or "",
                "Version": headers.get("x-acs-version") or "",
            }
        else:
            self.authenticate(method, params)
        self._route(params)
        phones = params["PhoneNumbers"].split(",")
        template_params, pending = _template_params(params.get("TemplateParam"))
        if len(phones) > MAX_NUMBERS:
            pending = _AL_TOO_MANY
        elif pending is None and not all(re.fullmatch(r"\+?\d{5,20}", p) for p in phones):
            pending = _AL_BAD_NUMBER
        rec = Received("aliyun", phones, params["TemplateCode"], template_params, params["SignName"], dict(params))
        return rec, pending, {}

    def authenticate(self, method: str, params: dict[str, str]) -> None:
        """Aliyun's RPC signature checks, in its order: the fields, the key, the method and version, the HMAC, the nonce."""
        refuse = self._refuse
        for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp"):
            if not params.get(name):
                raise refuse(400, f"Missing{name}", f"{name} is mandatory for this action.")
        if params["AccessKeyId"] != self.credentials.key_id:
            raise refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        for name, wanted in (("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0")):
            if params.get(name) != wanted:
                raise refuse(
                    400,
                    "IncompleteSignature",
                    "The request signature does not conform to Aliyun standards. "
                    f"{name} {params.get(name)!r} is not {wanted}.",
                )
        sts = aliyun_string_to_sign(method, params)
        expected = aliyun_signature(method, params, self.credentials.secret)
        if not hmac.compare_digest(params["Signature"].encode("utf-8"), expected.encode("ascii")):
            raise refuse(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:" + sts,
            )
        with self.fake._lock:
            replayed = params["SignatureNonce"] in self.nonces
            self.nonces.add(params["SignatureNonce"])
        if replayed:
            raise refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _acs3_authenticate(self, method: str, path: str, query: str, headers: Message, body: bytes) -> None:
        """The V3 signature's checks (ACS3-HMAC-SHA256, "V3版本请求体&签名机制"): the header's form, the key, the
        signed headers (host and every x-acs-* header present), the body's hash, the time, the HMAC, the nonce."""
        refuse = self._refuse
        fields = acs3_authorization_fields(headers.get("Authorization") or "")
        if fields is None:
            raise refuse(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        if fields["Credential"] != self.credentials.key_id:
            raise refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        lowered = {name.lower(): value for name, value in headers.items()}
        signed = fields["SignedHeaders"].split(";")
        required = {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"}
        required |= {name for name in lowered if name.startswith("x-acs-")} | ({"content-type"} & set(lowered))
        if not required <= set(signed) or any(name not in lowered for name in signed):
            raise refuse(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        if lowered["x-acs-content-sha256"] != hashlib.sha256(body).hexdigest():
            raise refuse(400, "SignatureDoesNotMatch", "The request body does not match its x-acs-content-sha256.")
        try:
            when = datetime.strptime(lowered["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise refuse(
                400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."
            ) from None
        if abs((datetime.now(timezone.utc) - when).total_seconds()) > 15 * 60:
            raise refuse(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        canonical = acs3_canonical_request(
            method, path, parse_form(query), lowered, signed, lowered["x-acs-content-sha256"]
        )
        expected = acs3_signature(self.credentials.secret, canonical)
        if not hmac.compare_digest(fields["Signature"].encode("utf-8"), expected.encode("ascii")):
            raise refuse(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        with self.fake._lock:
            replayed = lowered["x-acs-signature-nonce"] in self.nonces
            self.nonces.add(lowered["x-acs-signature-nonce"])
        if replayed:
            raise refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _route(self, params: dict[str, str]) -> None:
        """A plugin's action answers at once; otherwise only SendSms of 2017-05-25, with its mandatory fields."""
        refuse = self._refuse
        plugin = self.fake.actions.get(f"aliyun:{params.get('Action')}")
        if plugin is not None:
            raise Answered(plugin(params))
        if params.get("Action") != "SendSms":
            raise refuse(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
        if params.get("Version") != "2017-05-25":
            raise refuse(400, "InvalidVersion", "Specified parameter Version is not valid.")
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                raise refuse(400, f"Missing{name}", f"{name} is mandatory for this action.")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self.reply(200, {"Code": code, "Message": message}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("aliyun", rec.phones)
        if hits:  # no per-number status on Aliyun: the whole request fails
            code, message = next(iter(hits.values()))
            return self.reply(200, {"Code": code, "Message": message}, f"rejected_number:{code}")
        biz_id = f"{secrets.randbelow(10**18):018d}^0"
        return self.reply(200, {"Code": "OK", "Message": "OK", "BizId": biz_id}, "ok")

    # -- delivery receipts (SmsReport over HTTP: a JSON array, up to 100 reports; QuerySendDetails) ---------
    push_tries = 4  # the first try and 3 retries

    @staticmethod
    def receipt_wire(e164: str) -> str:
        """The number as SendSms wrote it: mainland bare, abroad the country code without ``+``."""
        return e164.removeprefix("+86") if e164.startswith("+86") else e164.removeprefix("+")

    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, BizId, OutId): one BizId for the whole request."""
        out_id = str(rec.raw.get("OutId") or "")
        return [(to_e164(phone), str(body["BizId"]), out_id) for phone in rec.phones]

    def receipt_pushes(self, entries: list[Any], batch: int = 100) -> list[tuple[bytes, str, dict[str, str]]]:
        items = [self.report_item(entry) for entry in entries]
        return [
            (json.dumps(items[i : i + batch], ensure_ascii=False).encode(), "application/json", {})
            for i in range(0, len(items), batch)
        ]

    def receipt_queries(self, receipts: Any) -> dict[str, Callable[[dict[str, Any]], Reply]]:
        return {"aliyun:QuerySendDetails": lambda params: self._query_send_details(receipts, params)}

    @staticmethod
    def report_item(entry: Any) -> dict[str, Any]:
        return {
            "phone_number": entry.wire,
            "send_time": entry.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
            "report_time": entry.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
            "success": entry.delivered,
            "err_code": "DELIVERED" if entry.delivered else entry.code,
            "err_msg": "用户接收成功" if entry.delivered else entry.description,
            "sms_size": "1",
            "biz_id": entry.message_id,
            "out_id": entry.out_id,
        }

    def _query_send_details(self, receipts: Any, params: dict[str, Any]) -> Reply:
        receipts.queries.append(("aliyun:QuerySendDetails", dict(params)))

        def error(code: str, message: str) -> Reply:
            return self.reply(200, {"Code": code, "Message": message}, f"query_error:{code}")

        phone, day = params.get("PhoneNumber") or "", params.get("SendDate") or ""
        if not phone:
            return error("MissingPhoneNumber", "PhoneNumber is mandatory for this action.")
        try:
            sent_day = datetime.strptime(day, "%Y%m%d").date()
            size, page = int(params.get("PageSize") or 0), int(params.get("CurrentPage") or 0)
        except ValueError:
            return error("isv.InvalidParameter", "SendDate, PageSize or CurrentPage is not valid.")
        today = datetime.now(BEIJING).date()
        if not 1 <= size <= 50 or page < 1 or not today - timedelta(days=29) <= sent_day <= today:
            return error("isv.InvalidParameter", "SendDate, PageSize or CurrentPage is out of range.")
        biz_id = params.get("BizId") or ""
        with receipts.lock:
            found = [
                e
                for e in receipts.sent
                if e.vendor == "aliyun"
                and e.wire == phone
                and e.sent_at.date() == sent_day
                and (not biz_id or e.message_id == biz_id)
            ]
        window = found[(page - 1) * size : page * size]
        dtos = [
            {
                "PhoneNum": e.wire,
                "SendStatus": 3 if e.delivered else 2,
                "ErrCode": "DELIVERED" if e.delivered else e.code,
                "TemplateCode": "SMS_1",
                "Content": "【测试】验证码",
                "SendDate": e.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
                "ReceiveDate": e.reported_at.strftime("%Y-%m-%d %H:%M:%S"),
                "OutId": e.out_id,
            }
            for e in window
        ]
        payload = {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
        }
        return self.reply(200, payload, "query")


class AliyunRpcFake(VendorFake):
    """A fake of another Aliyun RPC product: the actions it answers and the API version they belong to.

    It claims a request by its ``Action`` and runs :meth:`AliyunFake.authenticate` (pinned to the published
    SendSms and RPC examples in the signature-example tests), so every Aliyun product is checked alike.
    """

    actions: ClassVar[frozenset[str]]
    version: ClassVar[str] = "2017-05-25"

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return False  # decided on the Action, which is in the query or the body

    def claims_request(self, method: str, path: str, query: str, headers: Message, body: bytes) -> bool:
        if (headers.get("Authorization") or "").startswith("HMAC-SHA256 "):
            return False  # Volcengine's: its SendSmsVerifyCode has the name of Dypnsapi's
        return aliyun_request_params(query, headers.get("Content-Type") or "", body).get("Action") in self.actions

    @staticmethod
    def reply(payload: dict[str, Any], label: str, status: int = 200) -> Reply:
        return AliyunFake.reply(status, payload, label)

    def refuse(self, status: int, code: str, message: str) -> Refusal:
        return Refusal(f"{code}: {message}", self.reply({"Code": code, "Message": message}, f"refused:{code}", status))

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        params = aliyun_request_params(query, headers.get("Content-Type") or "", body)
        self.fake.plugin("aliyun").authenticate(method, params)  # the SendSms check: fields, key, HMAC-SHA1, nonce
        if params.get("Version") != self.version:
            raise self.refuse(400, "InvalidVersion", "Specified parameter Version is not valid.")
        return self.read(params)

    def read(self, params: dict[str, str]) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        raise NotImplementedError

    def mandatory(self, params: dict[str, str], *names: str) -> None:
        for name in names:
            if not params.get(name):
                raise self.refuse(400, f"Missing{name}", f"{name} is mandatory for this action.")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self.reply({"Code": code, "Message": message}, label)


def to_e164(wire: str) -> str:
    """A number as Aliyun or Ronglian wrote it (bare mainland, ``00``/no prefix abroad), in E.164."""
    if wire.startswith("+"):
        return wire
    if wire.startswith("00"):
        return "+" + wire[2:]
    return "+86" + wire if len(wire) == 11 else "+" + wire


# -- the human check: Aliyun Captcha 2.0 VerifyIntelligentCaptcha (2023-03-05), for tests/fake_captcha.py -------
@register_check
class AliyunCaptchaCheck(CaptchaCheck):
    """An RPC request signed as this kit's HMAC-SHA1 signature v1; ``Result.VerifyResult`` true with
    ``VerifyCode`` T001 for a ``CaptchaVerifyParam`` the fake issued, false with F008 (submitted again) or
    F001 otherwise."""

    name = "aliyun"
    keys: ClassVar[dict[str, str]] = {
        "access_key_id": "LTAIfakeCaptchaKeyId",
        "access_key_secret": "fakeCaptchaKeySecret",
    }

    def claims(self, path: str, headers: Any) -> bool:
        return "X-TC-Action" not in headers and path in ("", "/")

    def challenge(self, token: str) -> dict[str, str]:
        return {"captcha_verify_param": json.dumps({"certifyId": token, "sceneId": "1ab2c3d"})}

    def check(self, fake: Any, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        params = aliyun_request_params(urlsplit(target).query, headers.get("Content-Type") or "", body)
        fake.checked.append(("aliyun", params))
        signed = aliyun_signature("POST", params, self.keys["access_key_secret"])
        if params.get("AccessKeyId") != self.keys["access_key_id"] or not hmac.compare_digest(
            params.get("Signature", "").encode(), signed.encode()
        ):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        if params.get("Action") != "VerifyIntelligentCaptcha" or params.get("Version") != "2023-03-05":
            return 404, {"Code": "InvalidAction.NotFound", "Message": "Specified api is not found."}
        try:
            token = json.loads(params.get("CaptchaVerifyParam", "")).get("certifyId", "")
        except (ValueError, AttributeError):
            token = ""
        outcome = fake.take(token)
        code = {"ok": "T001", "used": "F008"}.get(outcome, "F001")
        result = {"VerifyResult": outcome == "ok", "VerifyCode": code}
        return 200, {
            "RequestId": secrets.token_hex(8),
            "Success": True,
            "Code": "Success",
            "Message": "success",
            "Result": result,
        }
