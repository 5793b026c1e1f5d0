"""Tencent Cloud 语音消息 (VMS 2020-09-02) ``SendCodeVoice`` for the fake vendor.

TC3-HMAC-SHA256 as for SMS, with the service ``vms`` in the credential scope
(``tc3_signature_matches(..., service="vms")``, the check pinned to Tencent's published
examples). The request, from the API page (cloud.tencent.com/document/product/1128/51559)
and tccli's published example: ``CodeMessage`` (digits only), ``CalledNumber`` (E.164),
``VoiceSdkAppid``, ``PlayTimes`` (at most 3), ``SessionContext``. The reply is that
example's shape: ``{"Response": {"SendStatus": {"CallId", "SessionContext"}, "RequestId"}}``;
errors are ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`` with the codes of
the SDK's ``vms/v20200902/errorcodes.py``.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from typing import Any

from fake_vendor import Received, Refusal, Reply, VendorFake, register_fake

from fakes.tencent import TencentFake, tc3_authorization_fields, tc3_signature_matches

ACTION = "SendCodeVoice"
VERSION = "2020-09-02"


@dataclass
class TencentVoiceCredentials:
    #: the VoiceSdkAppid of tccli's published SendCodeVoice example
    voice_app_id: str = "1400006666"


@register_fake
class TencentVoiceFake(VendorFake):
    name = "tencent_voice"
    business_error = (
        "FailedOperation.InsufficientBalanceInVoicePackage",
        "套餐包余量不足，请及时购买语音套餐包。",
    )

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = TencentVoiceCredentials()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return (headers.get("X-TC-Action") or "") == ACTION

    @staticmethod
    def _reply(payload: dict[str, Any], label: str) -> Reply:
        return TencentFake.reply(payload, label)

    def _refuse(self, code: str, message: str) -> Refusal:
        return Refusal(
            f"{code}: {message}", self._reply({"Error": {"Code": code, "Message": message}}, f"refused:{code}")
        )

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        self._authenticate(method, path, query, headers, body)
        if (headers.get("X-TC-Version") or "") != VERSION:
            raise self._refuse("NoSuchVersion", f"The requested version of API `{ACTION}` does not exist.")
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            raise self._refuse("FailedOperation.InvalidJsonParameters", "无效 JSON。") from None
        if not isinstance(data, dict):
            raise self._refuse("FailedOperation.InvalidJsonParameters", "无效 JSON。")
        if str(data.get("VoiceSdkAppid") or "") != self.credentials.voice_app_id:
            raise self._refuse("UnauthorizedOperation.VoiceSdkAppidVerifyFail", "VoiceSdkAppid 校验失败。")
        called, code = str(data.get("CalledNumber") or ""), str(data.get("CodeMessage") or "")
        pending: tuple[str, str] | None = None
        if not re.fullmatch(r"\+\d{6,16}", called):
            pending = ("InvalidParameterValue.CalledNumberVerifyFail", "被叫手机号码格式校验失败。")
        elif not code.isdigit() or int(data.get("PlayTimes") or 1) not in (1, 2, 3):
            pending = ("FailedOperation.InvalidParameters", "无效参数，请核查发送的请求参数是否为对应 API 所需参数。")
        rec = Received("tencent_voice", [called], "", code, "", data)
        return rec, pending, {"session_context": str(data.get("SessionContext") or "")}

    def _authenticate(self, method: str, path: str, query: str, headers: Message, body: bytes) -> None:
        creds = self.fake.plugin("tencent").credentials  # the SMS account's, as the voice API uses
        fields = tc3_authorization_fields(headers.get("Authorization") or "")
        if fields is None:
            raise self._refuse("AuthFailure.InvalidAuthorization", "The Authorization header is invalid.")
        if fields["SecretId"] != creds.secret_id:
            raise self._refuse("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        if not tc3_signature_matches(method, path, query, headers, body, fields, creds.secret_key, service="vms"):
            raise self._refuse("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self._reply({"Error": {"Code": code, "Message": message}}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("tencent_voice", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self._reply({"Error": {"Code": code, "Message": message}}, f"rejected_number:{code}")
        status = {"CallId": str(uuid.uuid1()), "SessionContext": ctx["session_context"]}
        return self._reply({"SendStatus": status}, "ok")
