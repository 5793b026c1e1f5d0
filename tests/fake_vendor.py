"""Loopback fake of four Chinese SMS vendors in one HTTP server (stdlib only).

Point the real vendor SDKs (or flask_sms) at ``FakeVendor.url`` / ``.host``
and the fake answers in each vendor's real wire format after checking the
request's signature, written from each vendor's *published* scheme:

* **Aliyun Dysmsapi** (RPC signature v1, HMAC-SHA1, as ``aliyun-python-sdk-core``
  signs; or the V3 signature ACS3-HMAC-SHA256, as ``alibabacloud_dysmsapi20170525``
  signs, the action and version then in ``x-acs-*`` headers). This is any request not
  claimed by the vendors below. Parameters may be in the query string and/or
  a form-encoded body; both are merged.
* **Tencent Cloud SMS 2021-01-11** (TC3-HMAC-SHA256). These are requests
  that carry an ``X-TC-Action`` header.
* **Ronglian / 容联云** (``sig`` = upper MD5(sid + token + timestamp)). These
  are requests whose path starts with ``/2013-12-26/Accounts/``.
* **Ihuyi / 互亿无线** (APIKEY as password, or the dynamic MD5 password).
  These are requests whose path starts with ``/webservice/sms.php``.
* **More vendors**, each in its own module under ``tests/fakes/``: a
  :class:`VendorFake` subclass decorated with :func:`register_fake`. Every
  module there is loaded when this one is; each fake says which requests it
  claims (checked before the four above) and keeps its own credentials
  (``fake.plugin("huawei").credentials``).

Every request lands in exactly one of two lists:

* ``accepted``: the request passed the auth/signature and protocol checks.
  It is recorded even when the reply is a business error from a mode, a
  limit or ``reject_number``. ``Received.reply`` says what was answered.
* ``rejected``: ``(vendor, reason)`` for a request refused before that
  point. ``reason`` starts with the vendor's error code, e.g.
  ``"SignatureDoesNotMatch: ..."`` or ``"111109: ..."``.

The error codes are the vendors' real ones. The sources are noted next to
each table below.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import pkgutil
import re
import secrets
import socket
import socketserver
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar
from urllib.parse import parse_qsl, quote, urlsplit

if TYPE_CHECKING:  # annotations are lazy (PEP 563): no runtime dependency
    from typing_extensions import Self

__all__ = [
    "ACS3",
    "ALIYUN_MAX_NUMBERS",
    "MODES",
    "RONGLIAN_MAX_NUMBERS",
    "TENCENT_MAX_NUMBERS",
    "VENDORS",
    "Answered",
    "AuthRefusal",
    "Credentials",
    "FakeVendor",
    "Received",
    "Refusal",
    "Reply",
    "VendorFake",
    "acs3_authorization_fields",
    "acs3_canonical_request",
    "acs3_signature",
    "aliyun_percent_encode",
    "aliyun_request_params",
    "aliyun_signature",
    "register_fake",
    "ronglian_authorization",
    "ronglian_sig",
    "tc3_authorization_fields",
    "tc3_canonical_request",
    "tc3_signature",
    "tc3_signature_matches",
    "unused_port",
]

BUILTIN_VENDORS: tuple[str, ...] = ("aliyun", "tencent", "ronglian", "ihuyi")
#: the four above plus every fake registered from ``tests/fakes/`` (filled in at the end of this module)
VENDORS: tuple[str, ...] = BUILTIN_VENDORS
MODES: tuple[str, ...] = ("ok", "business_error", "http_500", "hang", "garbage")

# Per-request number limits from the vendors' docs.
ALIYUN_MAX_NUMBERS = 1000  # Dysmsapi SendSms: PhoneNumbers "上限为1000个手机号码"
TENCENT_MAX_NUMBERS = 200  # SendSms: PhoneNumberSet "单次请求最多支持200个手机号"
# The Ronglian error-code table has 160048 "号码数超200限制" (number count over
# the 200 limit). So TemplateSMS takes at most 200 comma-separated numbers.
RONGLIAN_MAX_NUMBERS = 200

_MAX_BODY = 8 * 1024 * 1024
_BEIJING = timezone(timedelta(hours=8))

# Default business error per vendor, used for mode "business_error" without kw.
# Each is an account's error (the balance ran out), which fails over; a number's own errors
# (blacklist, per-number caps) are chosen with ``code=``.
_DEFAULT_BUSINESS_ERROR: dict[str, tuple[str, str]] = {
    "aliyun": ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足"),
    "tencent": ("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足，请购买套餐包。"),
    "ronglian": ("160014", "短信通道余额不足"),
    "ihuyi": ("4051", "剩余条数不足"),
}

# Ronglian (cloopen) REST status codes used here, from the public cloopen error-code
# table (the 1111xx account/auth codes and the 1600xx SMS codes):
_RL_AUTH_EMPTY = ("111101", "请求包头Authorization参数为空")
_RL_AUTH_B64 = ("111102", "请求包头Authorization参数Base64解码失败")
_RL_AUTH_FORMAT = ("111103", "请求包头Authorization参数解码后格式有误")
_RL_AUTH_NO_SID = ("111104", "请求包头Authorization参数解码后账户ID为空")
_RL_AUTH_NO_TS = ("111105", "请求包头Authorization参数解码后时间戳为空")
_RL_SID_MISMATCH = ("111107", "请求包头Authorization参数中账户ID跟请求地址中的账户ID不一致")
_RL_SIG_EMPTY = ("111108", "请求地址Sig参数为空")
_RL_SIG_BAD = ("111109", "请求地址Sig校验失败")
_RL_TS_FORMAT = ("111113", "请求包头Authorization参数中时间戳格式有误，请参考yyyyMMddHHmmss")
_RL_NO_ACCOUNT = ("111141", "主账户不存在")
_RL_NO_APPID = ("111169", "应用ID为空")
_RL_APP_UNKNOWN = ("111181", "应用不存在")
_RL_EMPTY_BODY = ("160030", "请求包体为空")
_RL_BAD_BODY = ("160031", "参数解析失败")
_RL_BAD_NUMBER = ("160042", "号码格式有误")
_RL_NO_NUMBER = ("160044", "发送号码为空")
_RL_TOO_MANY = ("160048", "号码数超200限制")
_RL_TEMPLATE_NOT_DIGITS = ("160057", "短信模板ID要求为数字")
_RL_NO_TEMPLATE = ("112307", "模板短信模板ID为空")
# reqId: "第三方自定义消息id，最大支持32位英文数字，同账号下同一自然天内不允许重复" (TemplateSMS);
# the table's 160054 "请求重复" answers a repeat
_RL_REQ_ID_USED = ("160054", "请求重复")

# Ihuyi codes from the public 互亿无线 return-code table. 405's wording differs
# between doc versions: older "用户名或密码不正确", newer "API ID或API KEY不正确".
_IH_NO_ACCOUNT = (401, "帐号不能为空")
_IH_NO_PASSWORD = (402, "密码不能为空")
_IH_NO_MOBILE = (403, "手机号码不能为空")
_IH_NO_CONTENT = (404, "短信内容不能为空")
_IH_BAD_AUTH = (405, "用户名或密码不正确")
# 406 is the documented "bad number format" code. 4085 is NOT a format code:
# it means "同一手机号验证码短信发送超出5条" (the daily cap on codes per number).
_IH_BAD_MOBILE = (406, "手机号码格式不正确")

# Tencent codes: tencentcloud/sms/v20210111/errorcodes.py (SDK 3.1.153), which
# mirrors the SendSms API doc, plus the documented common (public) error codes.
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


@dataclass
class Credentials:
    """The one account the fake knows for each vendor."""

    aliyun_key_id: str = "LTAI-test-key-id"
    aliyun_secret: str = "aliyun-test-secret-XYZ"
    tencent_secret_id: str = "AKID-test-secret-id"
    tencent_secret_key: str = "tencent-test-secret-key-XYZ"
    tencent_app_id: str = "1400000001"
    ronglian_sid: str = "8a216da8test0000sid"
    ronglian_token: str = "ronglian-test-token-XYZ"
    ronglian_app_id: str = "8a216da8test0000app"
    ihuyi_account: str = "C12345678"
    ihuyi_api_key: str = "ihuyi-test-apikey-XYZ"


@dataclass
class Received:
    """One accepted request: its signature and protocol checks passed."""

    vendor: str  # "aliyun" | "tencent" | "ronglian" | "ihuyi"
    phones: list[str]  # numbers exactly as sent on the wire
    template: str  # TemplateCode / TemplateId / templateId / "" for ihuyi
    params: object  # aliyun: dict; tencent/ronglian: list; ihuyi: content str
    sign_name: str  # SignName (aliyun/tencent), "" otherwise
    raw: dict  # all parsed fields / JSON body
    headers: dict[str, str] = field(default_factory=dict)  # request headers as received
    client_port: int = 0  # client's source port (same port = same kept-alive connection)

    @property
    def correlation(self) -> str:
        """The caller's correlation id as the vendor received it: Aliyun ``OutId``, Tencent
        ``SessionContext``, Ronglian ``reqId`` (``""`` when absent; the newer vendors' fakes
        record theirs in ``raw`` under their own field)."""
        field = {"aliyun": "OutId", "tencent": "SessionContext", "ronglian": "reqId"}.get(self.vendor)
        return str(self.raw.get(field) or "") if field and isinstance(self.raw, dict) else ""

    # What the fake answered: "ok", "business_error:<code>", "http_500",
    # "garbage", "limit:<code>", "rejected_number:<code>", "partial:<codes>",
    # "stopped" (hang ended by stop()). The value is set once the reply is decided.
    reply: str = ""


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str
    label: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)  # more response headers (Qiniu's X-Reqid)


def _aliyun_template_params(raw: str | None) -> tuple[object, tuple[str, str] | None]:
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


def _ronglian_pending(phones: list[str], template: str) -> tuple[str, str] | None:
    """The error a well-signed Ronglian send still earns: no number, too many, a bad number, a bad template id."""
    if not phones:
        return _RL_NO_NUMBER
    if len(phones) > RONGLIAN_MAX_NUMBERS:
        return _RL_TOO_MANY
    if not all(re.fullmatch(r"(\+|00)?\d{5,20}", p) for p in phones):
        return _RL_BAD_NUMBER
    if not template:
        return _RL_NO_TEMPLATE
    if not template.isdigit():
        return _RL_TEMPLATE_NOT_DIGITS
    return None


class _Refuse(Exception):
    """Raised by a vendor parser: goes to ``rejected`` and answers ``reply``."""

    def __init__(self, reason: str, reply: _Reply) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


#: public names for the vendor fakes in ``tests/fakes/``
Reply = _Reply
Refusal = _Refuse


class _Answered(Exception):
    """Raised by a vendor parser for an action served by a plug-in (``FakeVendor.actions``), or for a
    request the vendor answers without taking it as a new send (an idempotent replay): the reply is
    sent as it is and the request is not recorded in ``accepted``."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.label)
        self.reply = reply


#: raised by a fake in ``tests/fakes/`` for a query a plug-in answers (``fake.actions["<vendor>:<name>"]``)
Answered = _Answered


def unused_port() -> int:
    """Return a loopback port that nothing listens on (for connection-refused tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as required by Aliyun RPC signatures."""
    return quote(value, safe="-_.~")


def aliyun_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Aliyun RPC signature v1: base64 HMAC-SHA1, keyed with ``secret + "&"``, of the string to sign."""
    string_to_sign = FakeVendor.aliyun_string_to_sign(method, params)
    digest = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


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


def ronglian_sig(account_sid: str, auth_token: str, timestamp: str) -> str:
    """Ronglian's ``sig`` query parameter: upper-case MD5 of account SID + AUTH TOKEN + timestamp."""
    return _md5_hex(account_sid + auth_token + timestamp).upper()


def aliyun_request_params(query: str, content_type: str, body: bytes) -> dict[str, str]:
    """Every parameter of an Aliyun RPC request: the query string, plus a form-encoded body (both are signed)."""
    params = _parse_form(query)
    ctype = content_type.lower()
    if body and (not ctype or "application/x-www-form-urlencoded" in ctype):
        params.update(_parse_form(body.decode("utf-8", "replace")))
    return params


#: the V3 signature's algorithm name (the one the V2 SDK uses)
ACS3 = "ACS3-HMAC-SHA256"


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


@dataclass(frozen=True)
class AuthRefusal:
    """Why a Ronglian Authorization header was refused: the vendor's (code, message)."""

    pair: tuple[str, str]


def ronglian_authorization(header: str) -> tuple[str, str] | AuthRefusal:
    """Ronglian's ``Authorization`` header read back: base64 of ``account SID:yyyyMMddHHmmss``."""
    auth = header.strip()
    if not auth:
        return AuthRefusal(_RL_AUTH_EMPTY)
    try:
        decoded = base64.b64decode(auth, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return AuthRefusal(_RL_AUTH_B64)
    if ":" not in decoded:
        return AuthRefusal(_RL_AUTH_FORMAT)
    sid, _, timestamp = decoded.partition(":")
    if not sid:
        return AuthRefusal(_RL_AUTH_NO_SID)
    if not timestamp:
        return AuthRefusal(_RL_AUTH_NO_TS)
    if not re.fullmatch(r"\d{14}", timestamp):
        return AuthRefusal(_RL_TS_FORMAT)
    return sid, timestamp


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _hmac_sha256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _parse_form(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"))


# --------------------------------------------------------------------------- plugged-in vendors


class VendorFake:
    """One more vendor for :class:`FakeVendor`, written in its own module under ``tests/fakes/``.

    A subclass sets ``name`` and ``business_error`` (the vendor's code and
    message for mode "business_error") and fills in four methods. ``parse``
    checks auth and protocol (raise :class:`_Refuse` to refuse) and returns
    ``(Received, pending, ctx)``: ``pending`` is a ``(code, message)`` business
    error to answer instead of success (e.g. too many numbers), ``ctx`` is
    passed on to ``error``/``ok``. ``fake`` gives access to modes, rejections
    (``fake._rejection_for``) and the lock.
    """

    name: ClassVar[str]
    business_error: ClassVar[tuple[str, str]]

    def __init__(self, fake: FakeVendor) -> None:
        self.fake = fake

    def claims(self, method: str, path: str, headers: Message) -> bool:
        """Whether this request is for this vendor (looked at before the built-in four)."""
        raise NotImplementedError

    def claims_request(self, method: str, path: str, query: str, headers: Message, body: bytes) -> bool:
        """:meth:`claims`, for a fake that needs the query or the body to tell (an Aliyun RPC ``Action``)."""
        return self.claims(method, path, headers)

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        raise NotImplementedError

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> _Reply:
        raise NotImplementedError

    def ok(self, rec: Received, ctx: dict[str, Any]) -> _Reply:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget per-run state (nonces and the like); called by ``FakeVendor.reset``."""


_PLUGINS: dict[str, type[VendorFake]] = {}


def register_fake(cls: type[VendorFake]) -> type[VendorFake]:
    """Class decorator for a :class:`VendorFake` in ``tests/fakes/``."""
    _PLUGINS[cls.name] = cls
    return cls


def _load_plugins() -> None:
    """Import every module in ``tests/fakes/`` (each registers its vendor)."""
    global VENDORS
    folder = Path(__file__).resolve().parent / "fakes"
    for module in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"fakes.{module.name}")
    VENDORS = BUILTIN_VENDORS + tuple(name for name in _PLUGINS if name not in BUILTIN_VENDORS)


# --------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close() must not wait for hanging handlers
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, fake: FakeVendor) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls socket.getfqdn(), which can stall when
        # the network is closed. Bind like a plain TCPServer instead.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Quiet: client resets etc. are normal in failure-injection tests.
        self.fake._note_error(f"connection error from {client_address!r}:\n{traceback.format_exc()}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeVendor/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK stalls every keep-alive reply by ~40 ms.
    disable_nagle_algorithm = True

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._untrack(self.connection)

    def do_POST(self) -> None:
        self._dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(_Reply(400, b"bad request body", "text/plain; charset=utf-8", "bad_body"))
            return
        try:
            reply = fake._handle(self.command, self.path, self.headers, body, int(self.client_address[1]))
        except Exception:  # never let a bug in the fake kill the connection silently
            tb = traceback.format_exc()
            fake._note_error(tb)
            reply = _Reply(
                500, ("fake_vendor internal error:\n" + tb).encode(), "text/plain; charset=utf-8", "internal_error"
            )
        if reply is None:  # stopped while hanging/delaying: drop the connection
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True


# --------------------------------------------------------------------------- fake


class FakeVendor:
    """Loopback fake of Aliyun, Tencent, Ronglian and Ihuyi SMS APIs.

    Use ``with FakeVendor() as fake:`` or ``fake = FakeVendor().start()`` and
    ``fake.stop()``.
    """

    def __init__(self, credentials: Credentials | None = None) -> None:
        self.credentials: Credentials = credentials or Credentials()
        self.port: int = 0
        self.host: str = ""
        self.url: str = ""
        self.delay: float = 0.0
        self.accepted: list[Received] = []
        self.rejected: list[tuple[str, str]] = []
        self.errors: list[str] = []  # internal errors of the fake itself (should stay empty)
        self._lock = threading.Lock()
        self._modes: dict[str, tuple[str, dict[str, Any], int | None]] = {}
        self._rejections: dict[str, dict[str, tuple[str, str]]] = {}
        self._nonces: set[str] = set()
        self._ronglian_req_ids: set[tuple[str, str, str]] = set()  # (account, Beijing day, reqId)
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: bumped by reset(): a request still in flight from before (a hang outliving its test) records nothing
        self._generation = 0
        # Plug-ins (tests/fake_receipts.py): "<vendor>:<Action>" -> handler of a signature-checked request
        # (Aliyun: the parameters; Tencent: the JSON body), and hooks that see every accepted send and its reply.
        self.actions: dict[str, Callable[[dict[str, Any]], _Reply]] = {}
        self.reply_hooks: list[Callable[[Received, _Reply], None]] = []
        self.plugins: dict[str, VendorFake] = {name: cls(self) for name, cls in _PLUGINS.items()}

    def plugin(self, vendor: str) -> Any:
        """The plugged-in fake for ``vendor`` (its ``credentials``, helpers)."""
        return self.plugins[vendor]

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping = threading.Event()
        server = _Server(self)
        self._server = server
        self.port = int(server.server_address[1])
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeVendor:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes up hanging / delayed handlers
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:  # end idle keep-alive connections too
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ controls

    def received(self, vendor: str) -> list[Received]:
        self._check_vendor(vendor)
        with self._lock:
            return [r for r in self.accepted if r.vendor == vendor]

    def set_mode(self, vendor: str, mode: str, **kw: Any) -> None:
        """Set how ``vendor`` answers signature-valid requests.

        Modes: "ok"; "business_error" (kw ``code``, ``message``); "http_500"
        (kw ``body``); "hang" (kw ``seconds``, default 30, then replies as "ok"
        would); "garbage" (kw ``body``: what the unreadable 200 says). The extra kw ``times=N`` applies the mode to the next N
        requests only, then the vendor goes back to "ok".
        """
        self._check_vendor(vendor)
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        times = kw.pop("times", None)
        if times is not None and int(times) < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            if mode == "ok":
                self._modes.pop(vendor, None)
            else:
                self._modes[vendor] = (mode, dict(kw), None if times is None else int(times))

    def reject_number(self, vendor: str, phone: str, code: str, message: str) -> None:
        """Make ``phone`` fail with ``code``/``message`` inside an accepted request.

        Tencent gets a SendStatusSet entry with that Code. Aliyun, Ronglian and
        Ihuyi have no per-number status, so the whole request gets the error.
        """
        self._check_vendor(vendor)
        with self._lock:
            self._rejections.setdefault(vendor, {})[phone] = (str(code), message)

    def reset(self) -> None:
        """Clear records, modes, rejections, delay (the server keeps running).

        A request that arrived before the reset and is still being answered (a hang that outlived the
        client's timeout) is left out of every record from now on, so it cannot turn up in the next test.
        """
        with self._lock:
            self._generation += 1
            self.accepted.clear()
            self.rejected.clear()
            self.errors.clear()
            self._modes.clear()
            self._rejections.clear()
            self._nonces.clear()
            self._ronglian_req_ids.clear()
        for plugin in self.plugins.values():
            plugin.reset()
        self.delay = 0.0

    @staticmethod
    def _check_vendor(vendor: str) -> None:
        if vendor not in VENDORS:
            raise ValueError(f"unknown vendor {vendor!r}; expected one of {VENDORS}")

    # ------------------------------------------------------------ internals

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    def _note_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stop() is called; False if interrupted by stop()."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)

    def _take_mode(self, vendor: str) -> tuple[str, dict[str, Any]]:
        with self._lock:
            entry = self._modes.get(vendor)
            if entry is None:
                return "ok", {}
            mode, kw, remaining = entry
            if remaining is not None:
                if remaining <= 1:
                    del self._modes[vendor]
                else:
                    self._modes[vendor] = (mode, kw, remaining - 1)
            return mode, kw

    def _rejection_for(self, vendor: str, phones: list[str]) -> dict[str, tuple[str, str]]:
        with self._lock:
            table = dict(self._rejections.get(vendor, {}))
        return {p: table[p] for p in phones if p in table}

    def _handle(self, method: str, target: str, headers: Message, body: bytes, client_port: int = 0) -> _Reply | None:
        generation = self._generation
        if self.delay > 0 and not self._sleep(self.delay):
            return None
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
        claimed = next((p for p in self.plugins.values() if p.claims_request(method, path, query, headers, body)), None)
        parse: Callable[..., Any]
        if claimed is not None:
            vendor, parse = claimed.name, claimed.parse
        elif path.startswith("/2013-12-26/Accounts/"):
            vendor, parse = "ronglian", self._ronglian_parse
        elif path.startswith("/webservice/sms.php"):
            vendor, parse = "ihuyi", self._ihuyi_parse
        elif "X-TC-Action" in headers:
            vendor, parse = "tencent", self._tencent_parse
        else:
            vendor, parse = "aliyun", self._aliyun_parse
        try:
            rec, pending, ctx = parse(method, path, query, headers, body)
        except _Refuse as refusal:
            with self._lock:
                self.rejected.append((vendor, refusal.reason))
            return refusal.reply
        except _Answered as answered:
            return answered.reply
        rec.headers = {k: v for k, v in headers.items()}
        rec.client_port = client_port
        rec.raw["_client_port"] = client_port
        with self._lock:
            if generation == self._generation:
                self.accepted.append(rec)
        reply = self._respond(vendor, rec, pending, ctx)
        rec.reply = "stopped" if reply is None else reply.label
        current = generation == self._generation  # read once: a reset may come while the hooks run
        for hook in list(self.reply_hooks) if reply is not None and current else ():
            hook(rec, reply)
        return reply

    def _respond(
        self, vendor: str, rec: Received, pending: tuple[str, str] | None, ctx: dict[str, Any]
    ) -> _Reply | None:
        plugin = self.plugins.get(vendor)
        error: Callable[..., _Reply] = plugin.error if plugin else getattr(self, f"_{vendor}_error")
        ok: Callable[[Received, dict[str, Any]], _Reply] = plugin.ok if plugin else getattr(self, f"_{vendor}_ok")
        mode, kw = self._take_mode(vendor)
        if mode == "http_500":
            body = str(kw.get("body", "500 Internal Server Error")).encode("utf-8")
            return _Reply(500, body, "text/plain; charset=utf-8", "http_500")
        if mode == "garbage":
            return _Reply(200, str(kw.get("body", "<html>not json")).encode("utf-8"), "text/html", "garbage")
        if mode == "business_error":
            dcode, dmsg = plugin.business_error if plugin else _DEFAULT_BUSINESS_ERROR[vendor]
            code = str(kw.get("code") or dcode)
            message = str(kw.get("message") or (dmsg if code == dcode else "business error"))
            return error(code, message, ctx, label=f"business_error:{code}")
        if mode == "hang" and not self._sleep(float(kw.get("seconds", 30))):
            return None
        if pending is not None:
            return error(pending[0], pending[1], ctx, label=f"limit:{pending[0]}")
        return ok(rec, ctx)

    # ------------------------------------------------------------ aliyun

    @staticmethod
    def _aliyun_reply(status: int, payload: dict[str, Any], label: str) -> _Reply:
        payload = dict(payload)
        payload.setdefault("RequestId", str(uuid.uuid4()).upper())
        return _Reply(status, _json_bytes(payload), "application/json;charset=utf-8", label)

    @staticmethod
    def aliyun_string_to_sign(method: str, params: dict[str, str]) -> str:
        pe = aliyun_percent_encode
        canonical = "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(params.items()) if k != "Signature")
        return f"{method.upper()}&{pe('/')}&{pe(canonical)}"

    @classmethod
    def _aliyun_refuse(cls, status: int, code: str, message: str) -> _Refuse:
        return _Refuse(
            f"{code}: {message}", cls._aliyun_reply(status, {"Code": code, "Message": message}, f"refused:{code}")
        )

    def _aliyun_parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        params = aliyun_request_params(query, headers.get("Content-Type") or "", body)
        if (headers.get("Authorization") or "").startswith(ACS3 + " "):
            self._aliyun_acs3_authenticate(method, path, query, headers, body)
            params = {
                **params,
                "Action": headers.get("x-acs-action") or "",
                "Version": headers.get("x-acs-version") or "",
            }
        else:
            self._aliyun_authenticate(method, params)
        self._aliyun_route(params)
        phones = params["PhoneNumbers"].split(",")
        template_params, pending = _aliyun_template_params(params.get("TemplateParam"))
        if len(phones) > ALIYUN_MAX_NUMBERS:
            pending = _AL_TOO_MANY
        elif pending is None and not all(re.fullmatch(r"\+?\d{5,20}", p) for p in phones):
            pending = _AL_BAD_NUMBER
        rec = Received("aliyun", phones, params["TemplateCode"], template_params, params["SignName"], dict(params))
        return rec, pending, {}

    def _aliyun_authenticate(self, method: str, params: dict[str, str]) -> None:
        """Aliyun's RPC signature checks, in its order: the fields, the key, the method and version, the HMAC, the nonce."""
        refuse = self._aliyun_refuse
        for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp"):
            if not params.get(name):
                raise refuse(400, f"Missing{name}", f"{name} is mandatory for this action.")
        if params["AccessKeyId"] != self.credentials.aliyun_key_id:
            raise refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        for name, wanted in (("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0")):
            if params.get(name) != wanted:
                raise refuse(
                    400,
                    "IncompleteSignature",
                    "The request signature does not conform to Aliyun standards. "
                    f"{name} {params.get(name)!r} is not {wanted}.",
                )
        sts = self.aliyun_string_to_sign(method, params)
        expected = aliyun_signature(method, params, self.credentials.aliyun_secret)
        if not hmac.compare_digest(params["Signature"].encode("utf-8"), expected.encode("ascii")):
            raise refuse(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:" + sts,
            )
        with self._lock:
            replayed = params["SignatureNonce"] in self._nonces
            self._nonces.add(params["SignatureNonce"])
        if replayed:
            raise refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _aliyun_acs3_authenticate(self, method: str, path: str, query: str, headers: Message, body: bytes) -> None:
        """The V3 signature's checks (ACS3-HMAC-SHA256, "V3版本请求体&签名机制"): the header's form, the key, the
        signed headers (host and every x-acs-* header present), the body's hash, the time, the HMAC, the nonce."""
        refuse = self._aliyun_refuse
        fields = acs3_authorization_fields(headers.get("Authorization") or "")
        if fields is None:
            raise refuse(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        if fields["Credential"] != self.credentials.aliyun_key_id:
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
            method, path, _parse_form(query), lowered, signed, lowered["x-acs-content-sha256"]
        )
        expected = acs3_signature(self.credentials.aliyun_secret, canonical)
        if not hmac.compare_digest(fields["Signature"].encode("utf-8"), expected.encode("ascii")):
            raise refuse(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        with self._lock:
            replayed = lowered["x-acs-signature-nonce"] in self._nonces
            self._nonces.add(lowered["x-acs-signature-nonce"])
        if replayed:
            raise refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _aliyun_route(self, params: dict[str, str]) -> None:
        """A plugin's action answers at once; otherwise only SendSms of 2017-05-25, with its mandatory fields."""
        refuse = self._aliyun_refuse
        plugin = self.actions.get(f"aliyun:{params.get('Action')}")
        if plugin is not None:
            raise _Answered(plugin(params))
        if params.get("Action") != "SendSms":
            raise refuse(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
        if params.get("Version") != "2017-05-25":
            raise refuse(400, "InvalidVersion", "Specified parameter Version is not valid.")
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                raise refuse(400, f"Missing{name}", f"{name} is mandatory for this action.")

    def _aliyun_error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> _Reply:
        return self._aliyun_reply(200, {"Code": code, "Message": message}, label)

    def _aliyun_ok(self, rec: Received, ctx: dict[str, Any]) -> _Reply:
        hits = self._rejection_for("aliyun", rec.phones)
        if hits:  # no per-number status on Aliyun: the whole request fails
            code, message = next(iter(hits.values()))
            return self._aliyun_reply(200, {"Code": code, "Message": message}, f"rejected_number:{code}")
        biz_id = f"{secrets.randbelow(10**18):018d}^0"
        return self._aliyun_reply(200, {"Code": "OK", "Message": "OK", "BizId": biz_id}, "ok")

    # ------------------------------------------------------------ tencent

    @staticmethod
    def _tencent_reply(payload: dict[str, Any], label: str) -> _Reply:
        payload = dict(payload)
        payload.setdefault("RequestId", str(uuid.uuid4()))
        # Exactly "application/json": the SDK only looks for Response.Error when
        # Content-Type is "application/json" or "text/plain".
        return _Reply(200, _json_bytes({"Response": payload}), "application/json", label)

    @classmethod
    def _tencent_refuse(cls, code: str, message: str) -> _Refuse:
        return _Refuse(
            f"{code}: {message}",
            cls._tencent_reply({"Error": {"Code": code, "Message": message}}, f"refused:{code}"),
        )

    def _tencent_parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        self._tencent_authenticate(method, path, query, headers, body)
        self._tencent_route(headers, body)
        data = self._tencent_send_fields(method, query, body)
        phones = data["PhoneNumberSet"]
        template_params = data.get("TemplateParamSet") or []
        pending = _TC_TOO_MANY if len(phones) > TENCENT_MAX_NUMBERS else None
        rec = Received(
            "tencent", list(phones), str(data["TemplateId"]), template_params, str(data.get("SignName") or ""), data
        )
        return rec, pending, {"session_context": str(data.get("SessionContext") or "")}

    def _tencent_authenticate(self, method: str, path: str, query: str, headers: Message, body: bytes) -> None:
        """TC3-HMAC-SHA256, in Tencent's order: the header's form, the SecretId, the timestamp, the signature."""
        refuse = self._tencent_refuse
        fields = tc3_authorization_fields(headers.get("Authorization") or "")
        if fields is None:
            raise refuse(*_TC_BAD_AUTHZ)
        if fields["SecretId"] != self.credentials.tencent_secret_id:
            raise refuse(*_TC_SECRET_ID)
        timestamp = (headers.get("X-TC-Timestamp") or "").strip()
        if not timestamp.isdigit():
            raise refuse("MissingParameter", "The request is missing a required parameter `Timestamp`.")
        if not tc3_signature_matches(
            method, path, query, headers, body, fields, self.credentials.tencent_secret_key, service="sms"
        ):
            raise refuse(*_TC_SIG_FAILURE)

    def _tencent_route(self, headers: Message, body: bytes) -> None:
        """A plugin's action answers at once (with its JSON body); otherwise only SendSms of 2021-01-11."""
        refuse = self._tencent_refuse
        action = headers.get("X-TC-Action") or ""
        plugin = self.actions.get(f"tencent:{action}")
        if plugin is not None:
            try:
                request = json.loads(body.decode("utf-8"))
            except ValueError:
                raise refuse(*_TC_JSON) from None
            raise _Answered(plugin(request if isinstance(request, dict) else {}))
        if action != "SendSms":
            raise refuse("InvalidAction", f"The requested action `{action}` does not exist.")
        version = headers.get("X-TC-Version") or ""
        if version != "2021-01-11":
            raise refuse("NoSuchVersion", f"The requested version `{version}` of API `SendSms` does not exist.")

    def _tencent_send_fields(self, method: str, query: str, body: bytes) -> dict[str, Any]:
        """SendSms's fields (JSON, or the query of a GET), refused as Tencent does: the app, the numbers, the template."""
        refuse = self._tencent_refuse
        try:
            data = json.loads(body.decode("utf-8")) if method != "GET" else _parse_form(query)
        except ValueError:
            raise refuse(*_TC_JSON) from None
        if not isinstance(data, dict):
            raise refuse(*_TC_JSON)
        if str(data.get("SmsSdkAppId") or "") != self.credentials.tencent_app_id:
            raise refuse(*_TC_APPID)
        phones = data.get("PhoneNumberSet")
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            raise refuse("InvalidParameter", "The parameter `PhoneNumberSet` must be an array of strings.")
        if not phones:
            raise refuse(*_TC_EMPTY_SET)
        if not data.get("TemplateId"):
            raise refuse("MissingParameter", "The request is missing a required parameter `TemplateId`.")
        return data

    def _tencent_error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> _Reply:
        return self._tencent_reply({"Error": {"Code": code, "Message": message}}, label)

    def _tencent_ok(self, rec: Received, ctx: dict[str, Any]) -> _Reply:
        hits = self._rejection_for("tencent", rec.phones)
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
        return self._tencent_reply({"SendStatusSet": statuses}, label)

    # ------------------------------------------------------------ ronglian

    @staticmethod
    def _ronglian_reply(payload: dict[str, Any], label: str, status: int = 200) -> _Reply:
        return _Reply(status, _json_bytes(payload), "application/json;charset=utf-8", label)

    @classmethod
    def _ronglian_refuse(cls, pair: tuple[str, str]) -> _Refuse:
        code, message = pair
        return _Refuse(
            f"{code}: {message}",
            cls._ronglian_reply({"statusCode": code, "statusMsg": message}, f"refused:{code}"),
        )

    def _ronglian_parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        self._ronglian_authenticate(method, path, query, headers)
        data = self._ronglian_body(body)
        to = str(data.get("to") or "")
        phones = to.split(",") if to else []
        template = "" if data.get("templateId") is None else str(data.get("templateId"))
        rec = Received("ronglian", phones, template, list(data.get("datas") or []), "", data)
        return rec, _ronglian_pending(phones, template) or self._ronglian_req_id_used(path, data), {}

    def _ronglian_req_id_used(self, path: str, data: dict[str, Any]) -> tuple[str, str] | None:
        """160054 for a ``reqId`` this account used before on the same (Beijing) day; the first use takes it."""
        req_id = str(data.get("reqId") or "")
        if not req_id:
            return None
        day = datetime.now(timezone.utc).astimezone(_BEIJING).strftime("%Y%m%d")
        key = (path.split("/")[3], day, req_id)
        with self._lock:
            used = key in self._ronglian_req_ids
            self._ronglian_req_ids.add(key)
        return _RL_REQ_ID_USED if used else None

    def _ronglian_authenticate(self, method: str, path: str, query: str, headers: Message) -> None:
        """The endpoint, then Ronglian's checks in its order: the Authorization header, its account, the sig."""
        refuse = self._ronglian_refuse
        segments = path.split("/")  # ['', '2013-12-26', 'Accounts', sid, 'SMS', 'TemplateSMS']
        if len(segments) != 6 or segments[4:] != ["SMS", "TemplateSMS"] or method != "POST":
            raise _Refuse(
                "404: unknown Ronglian endpoint " + path,
                self._ronglian_reply({"statusCode": "404", "statusMsg": "not found"}, "refused:404", status=404),
            )
        path_sid = segments[3]
        read = ronglian_authorization(headers.get("Authorization") or "")
        if isinstance(read, AuthRefusal):
            raise refuse(read.pair)
        header_sid, timestamp = read
        if header_sid != path_sid:
            raise refuse(_RL_SID_MISMATCH)
        sig = _parse_form(query).get("sig", "")
        if not sig:
            raise refuse(_RL_SIG_EMPTY)
        if path_sid != self.credentials.ronglian_sid:
            raise refuse(_RL_NO_ACCOUNT)
        expected = ronglian_sig(path_sid, self.credentials.ronglian_token, timestamp)
        if not hmac.compare_digest(sig.encode("utf-8"), expected.encode("ascii")):
            raise refuse(_RL_SIG_BAD)

    def _ronglian_body(self, body: bytes) -> dict[str, Any]:
        """The JSON body, refused as Ronglian does: empty, not an object, no or an unknown appId, bad ``datas``."""
        refuse = self._ronglian_refuse
        if not body.strip():
            raise refuse(_RL_EMPTY_BODY)
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise refuse(_RL_BAD_BODY) from None
        if not isinstance(data, dict):
            raise refuse(_RL_BAD_BODY)
        app_id = str(data.get("appId") or "")
        if not app_id:
            raise refuse(_RL_NO_APPID)
        if app_id != self.credentials.ronglian_app_id:
            raise refuse(_RL_APP_UNKNOWN)
        datas = data.get("datas")
        if datas is not None and not isinstance(datas, list):
            raise refuse(_RL_BAD_BODY)
        return data

    def _ronglian_error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> _Reply:
        return self._ronglian_reply({"statusCode": code, "statusMsg": message}, label)

    def _ronglian_ok(self, rec: Received, ctx: dict[str, Any]) -> _Reply:
        hits = self._rejection_for("ronglian", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self._ronglian_reply({"statusCode": code, "statusMsg": message}, f"rejected_number:{code}")
        return self._ronglian_reply(
            {
                "statusCode": "000000",
                "templateSMS": {"smsMessageSid": secrets.token_hex(16), "dateCreated": time.strftime("%Y%m%d%H%M%S")},
            },
            "ok",
        )

    # ------------------------------------------------------------ ihuyi

    @staticmethod
    def _ihuyi_reply(as_json: bool, code: int | str, msg: str, smsid: str, label: str) -> _Reply:
        if as_json:
            return _Reply(
                200, _json_bytes({"code": code, "msg": msg, "smsid": smsid}), "application/json;charset=utf-8", label
            )
        # Without format=json Ihuyi answers XML (its historical default).
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<SubmitResult xmlns="http://106.ihuyi.com/">\n'
            f"<code>{code}</code>\n<msg>{msg}</msg>\n<smsid>{smsid}</smsid>\n</SubmitResult>"
        )
        return _Reply(200, xml.encode("utf-8"), "text/xml; charset=utf-8", label)

    @staticmethod
    def _ihuyi_code(code: str) -> int | str:
        try:
            return int(code)
        except ValueError:
            return code

    def _ihuyi_parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        fields = _parse_form(query)
        if body:
            fields.update(_parse_form(body.decode("utf-8", "replace")))
        as_json = fields.get("format", "").lower() == "json"

        def refuse(pair: tuple[int, str]) -> _Refuse:
            code, message = pair
            return _Refuse(f"{code}: {message}", self._ihuyi_reply(as_json, code, message, "0", f"refused:{code}"))

        account, password = fields.get("account", ""), fields.get("password", "")
        mobile, content = fields.get("mobile", ""), fields.get("content", "")
        if not account:
            raise refuse(_IH_NO_ACCOUNT)
        if not password:
            raise refuse(_IH_NO_PASSWORD)
        if not mobile:
            raise refuse(_IH_NO_MOBILE)
        if not content:
            raise refuse(_IH_NO_CONTENT)
        creds = self.credentials
        authed = account == creds.ihuyi_account and (
            hmac.compare_digest(password.encode("utf-8"), creds.ihuyi_api_key.encode("utf-8"))
            or (
                bool(fields.get("time"))
                and hmac.compare_digest(
                    password.lower().encode("utf-8"),
                    _md5_hex(account + creds.ihuyi_api_key + mobile + content + fields["time"]).encode("ascii"),
                )
            )
        )
        if not authed:
            raise refuse(_IH_BAD_AUTH)
        phones = mobile.split(",")
        pending: tuple[str, str] | None = None
        if len(phones) != 1 or not re.fullmatch(r"1\d{10}", phones[0]):
            pending = (str(_IH_BAD_MOBILE[0]), _IH_BAD_MOBILE[1])
        rec = Received("ihuyi", phones, "", content, "", fields)
        return rec, pending, {"json": as_json}

    def _ihuyi_error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> _Reply:
        return self._ihuyi_reply(ctx.get("json", True), self._ihuyi_code(code), message, "0", label)

    def _ihuyi_ok(self, rec: Received, ctx: dict[str, Any]) -> _Reply:
        hits = self._rejection_for("ihuyi", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self._ihuyi_reply(
                ctx.get("json", True), self._ihuyi_code(code), message, "0", f"rejected_number:{code}"
            )
        smsid = str(10**10 + secrets.randbelow(9 * 10**10))
        return self._ihuyi_reply(ctx.get("json", True), 2, "提交成功", smsid, "ok")


_load_plugins()
