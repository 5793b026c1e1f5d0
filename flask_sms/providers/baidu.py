"""Baidu AI Cloud SMS (百度智能云短信, SMS v3) through ``bce-python-sdk``.

``POST /api/v3/sendSms``: up to 200 comma-separated numbers (mainland 11
digits, elsewhere E.164 with ``+``), a signature id (``sms-sign-…``), a
template id, a JSON object of template values and ``custom``, echoed in the
status push (our correlation id). One ``code`` per request (``"1000"`` is
success) and one per number in ``data``.

Every send carries a ``clientToken`` in its query (Baidu: "幂等性参数，避免client在http
响应超时而重试时出现同一条短信多次发送的情况 … 有效时间：3分钟"): when the answer never
comes (a read timeout, a connection dropped after the request was written), the
same request is sent once more with the same token inside those 3 minutes, and
Baidu answers it without texting again. The send then ends ``sent`` or ``failed``,
not ``unknown``.

Auth is BCE auth v1 (HMAC-SHA256 over method, path, query and the
``host``/``content-length``/``content-type``/``x-bce-date`` headers). The
body itself is not signed, only its length: keep the endpoint ``https://``.

Three SDK defaults are unsafe for sending texts and are overridden here:

* it retries three times on any I/O error, a read timeout included (a text
  the vendor already took goes out again): ``NoRetryPolicy``;
* its DEBUG log holds the whole request (numbers, the verification code) and
  the request's signing key, valid for 30 minutes: those records are dropped
  (:class:`_DropDebug`), whatever level the app's logging is at;
* it reads every non-JSON reply as a parse error, losing the HTTP status: the
  reply is read here instead (:meth:`BaiduProvider._read`), so a 502 page from
  a proxy is ``http_502``, not a garbled reply.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import sys
import time
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timezone
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from phonenumbers import PhoneNumber, national_significant_number

from ..errors import ProviderError
from ..options import UNSET, Option, host, scheme
from ..phones import e164, is_mainland
from ..results import DeliveryReport, Outcome
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import http_reply, per_number, short, transport_error
from .reports import (
    ForgedReceipt,
    ParsedReceipts,
    each_item,
    ident,
    identified,
    json_items,
    phone_of,
    status_of,
    text,
    when,
)

_OK = "1000"
# the SDK modules whose DEBUG records carry the request body or the signing key
_NOISY = ("baidubce.http.bce_http_client", "baidubce.auth.bce_v1_signer", "baidubce.services.sms.sms_client")

BaiduRaw = tuple[int, bytes, str]  # HTTP status, body, x-bce-request-id
BaiduRequest = tuple[dict[str, Any], str]  # sendSms body, clientToken

#: how long Baidu keeps a clientToken: a retry with it must arrive within this many seconds
TOKEN_WINDOW = 180.0


class _DropDebug(logging.Filter):
    """Drops the SDK's DEBUG records: they dump the request body and the derived signing key."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_drop_debug = _DropDebug()


class BaiduProvider(Provider[BaiduRequest, BaiduRaw]):
    name = "baidu"
    extra = "baidu"
    sdk_module = "baidubce.services.sms.sms_client"
    # sendSms: "mobile" takes at most 200 comma-separated numbers (4511 beyond that).
    max_per_request = 200
    takes_sign = True  # a template's "sign" is the purpose's own signature id
    options = (
        Option("ACCESS_KEY_ID", secret=True, doc="the Baidu AI Cloud AccessKey ID"),
        Option("SECRET_ACCESS_KEY", secret=True, doc="the Secret Access Key that goes with it"),
        Option(
            "SIGNATURE_ID",
            hint=" (the sign's id, e.g. 'sms-sign-AbCdEf12345')",
            doc='the sign\'s id (签名ID), e.g. `"sms-sign-AbCdEf12345"`',
        ),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → `{"id": "sms-tmpl-wHoJXL09355", "params": ["code"]}` (sent as `contentVar`, a JSON object); a `"sign"` here is a signature id',
        ),
        Option(
            "ENDPOINT",
            "smsv3.bj.baidubce.com",
            host("smsv3.bj.baidubce.com"),
            doc="`host` or `host:port` of the SMS v3 API (Suzhou: `smsv3.su.baidubce.com`)",
        ),
        Option("SCHEME", "https", scheme, doc='`"http"` or `"https"`'),
        # the token of the status callback's signature (md5(token + timestamp + body)); by default
        # Baidu's is the account id (百度智能云ID). Set, a push without the right signature is refused
        Option(
            "CALLBACK_TOKEN",
            UNSET,
            secret=True,
            doc="the token Baidu signs its status pushes with (`md5(token + timestamp + body)`; by default your 百度智能云 account id): set, a push whose `signature` does not match is refused `403`. Secret",
        ),
    )
    sdk_loggers = ("baidubce", *_NOISY)
    # SMS/s/Fkijy9cdv 状态回调: one report per push, JSON, answered HTTP 200 (body free)
    receipt_formats = ("application/json",)
    # SMS/s/zjwvxry6e, the send API's response codes: final for the number, or a refusal of the
    # template's values; every other code fails over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "4503": "rejected",  # 手机号码格式不正确
        "4507": "rejected",  # 无效手机号
        "4641": "rejected",  # 命中全局黑名单
        "4642": "rejected",  # 命中签名黑名单
        "4643": "rejected",  # 命中账号黑名单
        "4651": "rejected",  # 命中工信部投诉号码
        "4652": "rejected",  # 命中运营商投诉号码
        "4653": "rejected",  # 命中供应商投诉号码
        "4508": "content",  # 短信内容过长
        "4606": "content",  # 模板参数内容过长
        "4608": "content",  # 模板参数不合法: a value with brackets or a tab
        "4610": "content",  # 模板参数内容为空
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        import baidubce.protocol
        from baidubce.auth.bce_credentials import BceCredentials
        from baidubce.bce_client_configuration import BceClientConfiguration
        from baidubce.retry.retry_policy import NoRetryPolicy
        from baidubce.services.sms.sms_client import SmsClient

        protocol = baidubce.protocol.HTTPS if settings["SCHEME"] == "https" else baidubce.protocol.HTTP
        config = BceClientConfiguration(
            credentials=BceCredentials(settings["ACCESS_KEY_ID"], settings["SECRET_ACCESS_KEY"]),
            endpoint=settings["ENDPOINT"],
            protocol=protocol,
            # one socket timeout for connect and read (the SDK's default is 50 s)
            connection_timeout_in_mills=int(timeout * 1000),
            retry_policy=NoRetryPolicy(),
        )
        self.client = _routed_client(SmsClient, self._connector(f"{settings['SCHEME']}://{settings['ENDPOINT']}/"))(
            config
        )
        for name in _NOISY:
            logger = logging.getLogger(name)
            if _drop_debug not in logger.filters:
                logger.addFilter(_drop_debug)

    def _connector(self, url: str) -> Callable[..., Any]:
        """The SDK's connection factory, routed by ``SMS_PROXY``/``NO_PROXY``.

        The SDK connects with ``http.client`` and never reads the environment. Its own
        proxy setting sends a relative request line to the proxy for ``http://``
        endpoints (which proxies refuse) and takes no proxy credentials; here an
        ``http://`` endpoint gets an absolute request line and ``https://`` a
        ``CONNECT`` tunnel, both with ``Proxy-Authorization`` from the proxy URL.
        """
        proxy = self.proxy_for(url)
        if proxy is None:
            return _direct_connection
        parts = urlsplit(proxy)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("the Baidu SDK reaches a proxy over plain http:// only (not https:// or socks5://)")
        proxy_host, proxy_port = parts.hostname, parts.port or 80
        auth = {}
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()

        def connect(protocol: Any, host: Any, port: int, timeout_ms: int, *unused: Any) -> http.client.HTTPConnection:
            target = host.decode() if isinstance(host, bytes) else str(host)
            if protocol.name == "https":
                tunnel = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=timeout_ms / 1000)
                tunnel.set_tunnel(target, port, headers=auth)
                return tunnel
            return _ProxiedConnection(proxy_host, proxy_port, f"http://{target}:{port}", auth, timeout_ms / 1000)

        return connect

    def format_phone(self, number: PhoneNumber) -> str:
        return national_significant_number(number) if is_mainland(number) else e164(number)

    def sign_name(self, payload: Payload) -> str:
        return payload.template.sign or str(self.settings["SIGNATURE_ID"])

    def build_request(self, phones: Sequence[str], payload: Payload) -> BaiduRequest:
        body: dict[str, Any] = {
            "signatureId": self.sign_name(payload),
            "template": payload.template.id,
            "mobile": ",".join(phones),
            "contentVar": dict(payload.params),
        }
        if payload.out_id:
            body["custom"] = payload.out_id
        # one token per request (an ASCII string of at most 64 characters, as the SDK's own uuid4)
        return body, uuid.uuid4().hex

    def call(self, request: BaiduRequest) -> BaiduRaw:
        """One sendSms; a second one with the same body and clientToken when no answer came, while Baidu
        still knows the token (the second request must end inside its 3 minutes)."""
        body, token = json.dumps(request[0]), request[1]
        started = time.monotonic()
        try:
            return self._post(body, token)
        except ProviderError as exc:
            if exc.outcome != "unknown" or time.monotonic() - started + self.timeout >= TOKEN_WINDOW:
                raise
        return self._post(body, token)

    def _post(self, body: str, token: str) -> BaiduRaw:
        from baidubce.exception import BceHttpClientError
        from baidubce.http import http_methods

        try:
            # The SDK's own send_message builds this same body; _send_request lets the reply be read here.
            response = self.client._send_request(
                http_methods.POST, "sendSms", body=body, params={"clientToken": token}, body_parser=self._read
            )
        except BceHttpClientError as exc:
            # every failure comes wrapped, with the tracebacks in its text: classify the cause alone
            raise transport_error(exc.last_error or exc) from None
        raw: BaiduRaw = response.__dict__["flask_sms_raw"]
        return raw

    @staticmethod
    def _read(http_response: Any, response: Any) -> bool:
        """The SDK's reply handler: keep status, body and request id as they are."""
        body = http_response.read()
        http_response.close()
        request_id = http_response.getheader("x-bce-request-id") or ""
        response.__dict__["flask_sms_raw"] = (http_response.status, body, request_id)
        return True

    def parse(self, raw: BaiduRaw, phones: Sequence[str]) -> Reply:
        status, content, header_id = raw
        # sendSms errors (HTTP 200) and BCE gateway errors (HTTP 4xx/5xx) alike carry "code"
        body = http_reply(status, content, self.name, _error)
        if not isinstance(body, dict) or body.get("code") != _OK:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        reply = per_number(body.get("data"), phones, _OK, "messageId", lambda item: str(item.get("message") or ""))
        reply.request_id = str(body.get("requestId") or header_id)
        return reply

    # -- delivery receipts: the status callback, signed when CALLBACK_TOKEN is set; no query API ------
    @classmethod
    def verify_receipt(cls, settings: Mapping[str, Any] | None, headers: Mapping[str, str], body: bytes) -> None:
        """``signature`` = hex md5(token + ``timestamp`` + body), when ``SMS_BAIDU_CALLBACK_TOKEN`` is set."""
        token = (settings or {}).get("CALLBACK_TOKEN")
        if not token:
            return
        signature, timestamp = headers.get("signature", ""), headers.get("timestamp", "")
        if not signature or not timestamp:
            raise ForgedReceipt("no signature or timestamp header")
        expected = hashlib.md5(f"{token}{timestamp}".encode() + body).hexdigest()
        if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            raise ForgedReceipt("the signature does not match SMS_BAIDU_CALLBACK_TOKEN")

    @classmethod
    def parse_receipts(cls, body: bytes, content_type: str) -> ParsedReceipts:
        """``{code, requestId, messageId, mobile, carrierCode, custom, deliverTime, requestTime, ...}``
        (an array of them is read too)."""
        return each_item(json_items(body), cls._pushed_report)

    @classmethod
    def _pushed_report(cls, item: dict[str, Any]) -> DeliveryReport:
        """``code`` ``"0"`` is delivered, ``"2"`` failed; the times are UTC."""
        phone = phone_of(item, "mobile")
        message_id = ident(item, "messageId")
        delivered = when(item.get("deliverTime"), timezone.utc)
        identified(message_id, phone, delivered)
        return DeliveryReport(
            provider=cls.name,
            phone=phone,
            message_id=message_id,
            out_id=text(item, "custom"),
            status=status_of(item.get("code"), ("0",), ("2",)),
            code=text(item, "carrierCode", 64),
            description="",
            submitted_at=when(item.get("requestTime"), timezone.utc),
            delivered_at=delivered,
        )


class _ProxiedConnection(http.client.HTTPConnection):
    """A plain-HTTP connection to a proxy: the request line names the whole target URL."""

    def __init__(self, host: str, port: int, target: str, auth: dict[str, str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.target = target
        self.auth = auth

    def putrequest(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        super().putrequest(method, self.target + url, *args, **kwargs)
        for name, value in self.auth.items():
            self.putheader(name, value)


def _direct_connection(
    protocol: Any, host: Any, port: int, timeout_ms: int, *unused: Any
) -> http.client.HTTPConnection:
    target = host.decode() if isinstance(host, bytes) else str(host)
    if protocol.name == "https":
        return http.client.HTTPSConnection(target, port, timeout=timeout_ms / 1000)
    return http.client.HTTPConnection(target, port, timeout=timeout_ms / 1000)


def _routed_client(client_class: type[Any], connect: Callable[..., Any]) -> type[Any]:
    """A subclass of the SDK's ``SmsClient`` whose requests open their connections with ``connect``.

    The SDK's ``send_request`` and ``SmsClient._send_request`` run with private copies of
    their module globals (as for Ronglian): nothing process-wide changes, and other code
    that uses the SDK directly is unaffected.
    """
    from baidubce.http import bce_http_client

    send_globals = dict(vars(bce_http_client))
    original = bce_http_client.send_request
    send_request = types.FunctionType(
        original.__code__, send_globals, original.__name__, original.__defaults__, original.__closure__
    )
    send_globals.update(_get_connection=connect, send_request=send_request)
    client_globals = dict(sys.modules[client_class.__module__].__dict__)
    client_globals["bce_http_client"] = types.SimpleNamespace(send_request=send_request)
    method = client_class._send_request
    routed = types.FunctionType(
        method.__code__, client_globals, method.__name__, method.__defaults__, method.__closure__
    )
    return type("RoutedSmsClient", (client_class,), {"_send_request": routed})


def _error(body: Any) -> tuple[str, str] | None:
    if isinstance(body, dict) and body.get("code") not in (None, _OK):
        return str(body["code"]), str(body.get("message") or "")
    return None
