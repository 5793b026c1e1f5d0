"""Ronglian 容联云 ``POST /2013-12-26/Accounts/{sid}/Calls/VoiceVerify`` (语音验证码) for the fake vendor.

Signed as TemplateSMS is (doc.yuntongxun.com/p/5a533de53b8496dd00dce080): the ``sig`` query
parameter (upper-case MD5 of account SID + AUTH TOKEN + timestamp) and ``Authorization``
(base64 of ``SID:timestamp``), checked with the fake's own ``ronglian_sig`` and
``ronglian_authorization``, in Ronglian's order. The JSON body: ``appId`` (required),
``verifyCode`` (digits and letters, 4-8), ``playTimes`` (1-3), ``to``, ``displayNum``,
``respUrl``, ``lang``, ``userData``. Success is ``{"statusCode": "000000", "VoiceVerify":
{"callSid", "dateCreated"}}``.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from email.message import Message
from typing import Any

from fake_vendor import Received, Refusal, Reply, VendorFake, register_fake

from fakes.ronglian import AuthRefusal, ronglian_authorization, ronglian_sig

_PATH = re.compile(r"/2013-12-26/Accounts/(?P<sid>[^/]+)/Calls/VoiceVerify")


@register_fake
class RonglianVoiceFake(VendorFake):
    name = "ronglian_voice"
    business_error = ("160014", "余额不足")  # the REST table's balance code, as for TemplateSMS

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return _PATH.fullmatch(path) is not None

    @staticmethod
    def _reply(payload: dict[str, Any], label: str) -> Reply:
        return Reply(200, json.dumps(payload, ensure_ascii=False).encode(), "application/json;charset=utf-8", label)

    def _refuse(self, code: str, message: str) -> Refusal:
        return Refusal(f"{code}: {message}", self._reply({"statusCode": code, "statusMsg": message}, f"refused:{code}"))

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        match = _PATH.fullmatch(path)
        assert match is not None
        self._authenticate(match["sid"], query, headers)
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise self._refuse("160031", "参数解析失败") from None
        if not isinstance(data, dict) or not data.get("appId"):
            raise self._refuse("111169", "应用ID为空")
        if data["appId"] != self.fake.plugin("ronglian").credentials.app_id:
            raise self._refuse("111181", "应用不存在")
        to, code = str(data.get("to") or ""), str(data.get("verifyCode") or "")
        pending: tuple[str, str] | None = None
        if not re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", to):
            pending = ("160042", "号码格式有误")
        elif not re.fullmatch(r"[0-9A-Za-z]{4,8}", code) or str(data.get("playTimes", "1")) not in ("1", "2", "3"):
            pending = ("160031", "参数解析失败")
        return Received("ronglian_voice", [to], "", code, "", data), pending, {}

    def _authenticate(self, path_sid: str, query: str, headers: Message) -> None:
        from urllib.parse import parse_qsl

        read = ronglian_authorization(headers.get("Authorization") or "")
        if isinstance(read, AuthRefusal):
            raise self._refuse(*read.pair)
        header_sid, timestamp = read
        if header_sid != path_sid:
            raise self._refuse("111107", "请求包头Authorization参数中账户ID跟请求地址中的账户ID不一致")
        sig = dict(parse_qsl(query)).get("sig", "")
        if not sig:
            raise self._refuse("111108", "请求地址Sig参数为空")
        creds = self.fake.plugin("ronglian").credentials  # the SMS account's, as the voice API uses
        if path_sid != creds.sid:
            raise self._refuse("111141", "主账户不存在")
        if not hmac.compare_digest(sig.encode(), ronglian_sig(path_sid, creds.token, timestamp).encode()):
            raise self._refuse("111109", "请求地址Sig校验失败")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self._reply({"statusCode": code, "statusMsg": message}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("ronglian_voice", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self._reply({"statusCode": code, "statusMsg": message}, f"rejected_number:{code}")
        call = {"callSid": secrets.token_hex(16), "dateCreated": time.strftime("%Y%m%d%H%M%S")}
        return self._reply({"statusCode": "000000", "VoiceVerify": call}, "ok")
