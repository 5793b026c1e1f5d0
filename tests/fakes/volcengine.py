"""Volcengine SMS ``POST /?Action=SendSms&Version=2020-01-01`` for the fake vendor.

The signature is Volcengine's OpenAPI HMAC-SHA256 (docs 6369/67269), checked
here from the published scheme: canonical request = method, ``/``, the query
RFC 3986-encoded and sorted, the signed headers ``name:trimmed value``,
their names, hex SHA-256 of the body; string to sign = ``HMAC-SHA256``,
X-Date, ``YYYYMMDD/region/service/request``, hex SHA-256 of the canonical
request; key = HMAC chain of the secret over date, region, service,
``request`` (no prefix). :func:`signature` is pinned to the published worked
examples in tests/sending/test_vendor_matrix.py. Region and service must be
``cn-north-1`` / ``volcSMS``.

Gateway codes from the OpenAPI common error table (InvalidAccessKey 100009,
SignatureDoesNotMatch 100010, HTTP 401); SMS codes from docs 6361/173288. A
request with a number abroad and a template that is not one of
:data:`INTL_TEMPLATE_IDS` (the message group's I18N_* templates) answers RE:0011
"不支持对应地区下发". Numbers: mainland ``+86`` or 11 digits, abroad country code +
number (RE:0006's "国际区号+号码，例如8520000****").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, quote

from fake_vendor import Received, Refusal, Reply, SendFacts, VendorFake, register_fake

MAX_NUMBERS = 200  # SendSms: PhoneNumbers "最多200个"
#: the message group's international (I18N_*) templates (tests/vendor_config.py configures them)
INTL_TEMPLATE_IDS = ("ST_i18n_7d2a1b3e", "ST_i18n_7d2a1b3f")
REGION = "cn-north-1"
SERVICE = "volcSMS"
#: the actions of 短信验码, answered by fakes/volcengine_verify.py
VERIFY_ACTIONS = frozenset({"SendSmsVerifyCode", "CheckSmsVerifyCode"})


@dataclass
class VolcengineCredentials:
    access_key_id: str = "AKLTvolc-test-access-key"
    secret_access_key: str = "volc-test-secret-XYZ=="
    sms_account: str = "7a2b1c3d"


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_request(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, signed: list[str]
) -> str:
    """``headers`` keyed by lower-case name."""
    pairs = sorted(
        ((_encode(k), _encode(v)) for k, v in parse_qsl(query, keep_blank_values=True)), key=lambda kv: kv[0]
    )
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    names = sorted(signed)
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in names)
    uri = quote(path or "/", safe="/-_.~") or "/"
    return "\n".join(
        [method.upper(), uri, canonical_query, canonical_headers, ";".join(names), hashlib.sha256(body).hexdigest()]
    )


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = secret.encode("utf-8")
    for part in (day, region, service, "request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(secret: str, x_date: str, region: str, service: str, canonical: str) -> str:
    scope = f"{x_date[:8]}/{region}/{service}/request"
    to_sign = "\n".join(["HMAC-SHA256", x_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    return hmac.new(
        signing_key(secret, x_date[:8], region, service), to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()


# OpenAPI common codes: HTTP status and CodeN
_GATEWAY = {
    "InvalidAccessKey": (401, 100009),
    "SignatureDoesNotMatch": (401, 100010),
    "AccessDenied": (403, 100013),
    "InternalError": (500, 100014),
    "InternalServiceTimeout": (500, 100016),
}

_AUTH = re.compile(
    r"HMAC-SHA256 Credential=(?P<ak>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<sig>[0-9a-f]{64})"
)


@register_fake
class VolcengineFake(VendorFake):
    name = "volcengine"
    business_error = ("RE:0010", "账号欠费")
    send_facts = SendFacts(
        params_on_wire={"code": "483920", "minutes": "5"},
        max_numbers=MAX_NUMBERS,
        auth_errors=("SignatureDoesNotMatch",),
        rejected_code="RE:0006",
        secret_key="SMS_VOLCENGINE_SECRET_ACCESS_KEY",
        international=[["16502530000", "85261234567"]],  # "国际区号+号码，例如8520000****": no "+"
        mainland_e164=True,
    )
    correlation_field = "Tag"
    push_tries = 3  # receipt pushes tried in all: unpublished

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = VolcengineCredentials()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return (headers.get("Authorization") or "").startswith("HMAC-SHA256 Credential=") and path in ("", "/")

    def claims_request(self, method: str, path: str, query: str, headers: Message, body: bytes) -> bool:
        # 短信验码 (SendSmsVerifyCode, CheckSmsVerifyCode) is fakes/volcengine_verify.py's
        return self.claims(method, path, headers) and dict(parse_qsl(query)).get("Action") not in VERIFY_ACTIONS

    @staticmethod
    def _reply(
        status: int, error: tuple[str, int, str] | None, result: Any, label: str, action: str = "SendSms"
    ) -> Reply:
        metadata: dict[str, Any] = {
            "RequestId": uuid.uuid4().hex,
            "Action": action,
            "Version": "2020-01-01",
            "Service": SERVICE,
            "Region": REGION,
        }
        payload: dict[str, Any] = {"ResponseMetadata": metadata}
        if error is not None:
            code, code_n, message = error
            metadata["Error"] = {"CodeN": code_n, "Code": code, "Message": message}
        else:
            payload["Result"] = result
        return Reply(
            status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8", label
        )

    def _refuse(self, status: int, code: str, code_n: int, message: str) -> Refusal:
        return Refusal(f"{code}: {message}", self._reply(status, (code, code_n, message), None, f"refused:{code}"))

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        self._authenticate(method, path, query, {k.lower(): v for k, v in headers.items()}, body)
        action = dict(parse_qsl(query))
        if (action.get("Action"), action.get("Version")) != ("SendSms", "2020-01-01"):
            raise self._refuse(404, "InvalidActionOrVersion", 100008, "Could not find operation.")
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise self._refuse(200, "RE:0009", 0, "请求参数错误")
        if data.get("SmsAccount") != self.credentials.sms_account:
            raise self._refuse(200, "RE:0003", 0, "子账号不存在")
        phones = str(data.get("PhoneNumbers") or "").split(",") if data.get("PhoneNumbers") else []
        params, pending = _template_param(data)
        pending = _send_problem(phones, data) or pending
        rec = Received(
            "volcengine", phones, str(data.get("TemplateID") or ""), params, str(data.get("Sign") or ""), data
        )
        return rec, pending, {}

    def _authenticate(self, method: str, path: str, query: str, lowered: dict[str, str], body: bytes) -> None:
        """HMAC-SHA256 (Volcengine's SigV4-like scheme): the header, the key, the signed headers, the date and
        scope, the body hash, the signature."""
        match = _AUTH.fullmatch(lowered.get("authorization", "").strip())
        if match is None:
            raise self._refuse(400, "InvalidAuthorization", 100001, "Invalid 'Authorization' header")
        if match["ak"] != self.credentials.access_key_id:
            raise self._refuse(401, "InvalidAccessKey", 100009, f"The accesskey [{match['ak']}] is invalid.")
        signed = match["signed"].split(";")
        x_date = lowered.get("x-date", "")
        if "x-date" not in signed or "host" not in signed or any(name not in lowered for name in signed):
            raise self._refuse(401, "SignatureDoesNotMatch", 100010, "The request signature does not match.")
        self._check_time_and_scope(match, x_date)
        if "x-content-sha256" in lowered and lowered["x-content-sha256"] != hashlib.sha256(body).hexdigest():
            raise self._refuse(401, "SignatureDoesNotMatch", 100010, "The request signature does not match.")
        canonical = canonical_request(method, path, query, lowered, body, signed)
        expected = signature(self.credentials.secret_access_key, x_date, match["region"], match["service"], canonical)
        if not hmac.compare_digest(match["sig"].encode(), expected.encode()):
            raise self._refuse(401, "SignatureDoesNotMatch", 100010, "The request signature does not match.")

    def _check_time_and_scope(self, match: re.Match[str], x_date: str) -> None:
        """X-Date within 15 minutes and the credential's day, and a scope of this region's SMS service."""
        try:
            when = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise self._refuse(
                400, "MissingRequestInfo", 100004, "The request is missing X-Date information."
            ) from None
        if abs((datetime.now(timezone.utc) - when).total_seconds()) > 15 * 60 or match["day"] != x_date[:8]:
            raise self._refuse(400, "InvalidTimestamp", 100006, "The Signature of the request is expired.")
        if (match["region"], match["service"]) != (REGION, SERVICE):
            raise self._refuse(404, "ServiceNotFound", 100007, f"This service[{match['service']}] not found.")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        status, code_n = _GATEWAY.get(code, (200, 0))  # SMS codes (RE:xxxx) come in HTTP 200
        return self._reply(status, (code, code_n, message), None, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("volcengine", rec.phones)
        if hits:  # one code for the whole request
            code, message = next(iter(hits.values()))
            return self._reply(200, (code, 0, message), None, f"rejected_number:{code}")
        return self._reply(200, None, {"MessageID": [uuid.uuid4().hex for _ in rec.phones]}, "ok")

    # -- delivery receipts (6361/171584: a JSON array to the 状态报告地址) --------------------------------
    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, MessageID, Tag): one MessageID per number, in the order sent."""
        tag = str(rec.raw.get("Tag") or "")
        return [(phone, message_id, tag) for phone, message_id in zip(rec.phones, body["Result"]["MessageID"])]

    @staticmethod
    def report_item(entry: Any) -> dict[str, Any]:
        return {
            "account": "2000000001",
            "sub_account": "7a2b1c3d",
            "signature": "短信服务",
            "mobile": entry.e164.removeprefix("+86"),
            "channel_type": "CN_OTP",
            "service_id": "1069669400001",
            "send_time": int(entry.sent_at.timestamp() * 1000),
            "recv_time": int(entry.reported_at.timestamp() * 1000),
            "template_id": "SPT_0fa71234",
            "ext": entry.out_id,
            "message_id": entry.message_id,
            "status_code": "0" if entry.delivered else entry.code,
            "description": "成功" if entry.delivered else entry.description,
            "msg_count": 1,
            "mccmnc": "46000",
            "iso_code": "CN",
        }

    def receipt_pushes(self, entries: list[Any]) -> list[tuple[bytes, str, dict[str, str]]]:
        items = [self.report_item(entry) for entry in entries]
        return [
            (json.dumps(items[i : i + 100], ensure_ascii=False).encode(), "application/json;charset=utf-8", {})
            for i in range(0, len(items), 100)
        ]


def _template_param(data: dict[str, Any]) -> tuple[object, tuple[str, str] | None]:
    """TemplateParam as read (a JSON string holding an object), and the error a value that is not JSON earns."""
    if "TemplateParam" not in data:
        return {}, None
    try:
        return json.loads(data["TemplateParam"]), None
    except (TypeError, ValueError):
        return data["TemplateParam"], ("RE:0009", "请求参数错误")


def _send_problem(phones: list[str], data: dict[str, Any]) -> tuple[str, str] | None:
    """The error a send earns for its fields: a missing one, too many numbers, a bad number."""
    if not phones or not data.get("TemplateID") or not data.get("Sign"):
        return ("RE:0009", "请求参数错误")
    if len(phones) > MAX_NUMBERS:
        return ("RE:0009", "请求参数错误: 手机号数量超过200")
    if not all(re.fullmatch(r"\+?\d{6,20}", phone) for phone in phones):
        return ("RE:0006", "手机号格式错误")
    if data["TemplateID"] not in INTL_TEMPLATE_IDS and any(_abroad(phone) for phone in phones):
        return ("RE:0011", "不支持对应地区下发")
    return None


def _abroad(phone: str) -> bool:
    return not (phone.startswith("+86") or re.fullmatch(r"1\d{10}", phone))
