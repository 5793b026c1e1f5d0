"""Aliyun 号码认证服务 (Dypnsapi 2017-05-25): ``SendSmsVerifyCode`` and ``CheckSmsVerifyCode``.

Aliyun makes the code, texts it with a system-provided sign and template (no
qualification needed: the path an individual developer can take), bills only
delivered texts, and checks the code it sent. Through aliyun-python-sdk-core's
``CommonRequest``, on the same RPC client and signature as SendSms, against
``dypnsapi.aliyuncs.com``. The code never reaches our storage: the flow keeps only a
marker for its cool-down, attempt count and single use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from .._redact import sending
from ..codes import INVALID_CODE
from ..errors import ProviderError
from ..options import UNSET, Invalid, Option, host
from ..providers.aliyun import AliyunProvider, AliyunRequest
from ..providers.payload import Payload, Reply
from ..providers.replies import short
from ..providers.voice import shared
from ..results import Outcome
from ..storage import OK
from .base import CheckUnavailable, CodeBackend

#: CheckSmsVerifyCode's answer for the right code (anything else: "UNKNOWN", a wrong or dead code)
PASS = "PASS"


def _scheme_name(value: Any) -> str:
    text = str(value).strip()
    if not text or len(text) > 20:
        raise Invalid("must be the verification service name (方案名称), at most 20 characters")
    return text


class AliyunPnvs(CodeBackend[AliyunRequest, dict[str, Any]]):
    """``SMS_CODE_BACKEND = "aliyun_pnvs"``; keys ``SMS_ALIYUN_PNVS_*``, credentials falling back to ``SMS_ALIYUN_*``."""

    name = "aliyun_pnvs"
    backend = "aliyun_pnvs"
    vendor = "aliyun"
    label = "PNVS"
    extra = "aliyun"
    sdk_module = "aliyunsdkcore.client"
    options = (
        Option(
            "SIGN_NAME", doc="`SignName`: a system-provided sign (赠送签名)"
        ),  # the system-provided sign (赠送签名) of the PNVS console
        Option(
            "TEMPLATE_CODE",
            doc="`TemplateCode`: a system template that goes with the sign, with `${code}` (and `${min}`, sent as the code's minutes)",
        ),  # the system-provided template (赠送模板), with ${code} (and ${min})
        Option(
            "SCHEME_NAME",
            UNSET,
            _scheme_name,
            doc="`SchemeName`, the verification scheme (方案名称, at most 20 characters); sent with both calls",
        ),  # the verification service (方案); unset: the default one
        Option("ENDPOINT", "dypnsapi.aliyuncs.com", host("dypnsapi.aliyuncs.com"), doc="`host` or `host:port`"),
    )
    shared_options = shared(AliyunProvider.options, "ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "REGION", "SCHEME")
    sdk_loggers = AliyunProvider.sdk_loggers
    # Dypnsapi answers with the codes of Aliyun's communication APIs; the per-number caps (Aliyun's own
    # Interval and daily caps) and an invalid number are final for the number; the rest is failed.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "isv.MOBILE_NUMBER_ILLEGAL": "rejected",
        "isv.BUSINESS_LIMIT_CONTROL": "rejected",
        "biz.FREQUENCY": "rejected",  # 频率过快: a code to this number a moment ago
        "isv.AMOUNT_NOT_ENOUGH": "failed",
        "isv.OUT_OF_SERVICE": "failed",
        "isv.PRODUCT_UNSUBSCRIBE": "failed",
        "SignatureDoesNotMatch": "failed",
        "InvalidAccessKeyId.NotFound": "failed",
        "Throttling.User": "failed",
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        # the RPC client, request shape and error reading of SendSms, pointed at Dypnsapi's endpoint
        self.rpc = AliyunProvider(settings, timeout)

    def _params(self, phone: str) -> dict[str, str]:
        params = {"PhoneNumber": phone, "CountryCode": "86"}
        scheme_name = self.settings.get("SCHEME_NAME")
        if scheme_name:
            params["SchemeName"] = scheme_name  # the same on both calls, as CheckSmsVerifyCode asks
        return params

    def build_request(self, phones: Sequence[str], payload: Payload) -> AliyunRequest:
        params = self._params(phones[0])
        params.update(
            SignName=self.settings["SIGN_NAME"],
            TemplateCode=self.settings["TEMPLATE_CODE"],
            # "##code##" is where Aliyun puts the code it makes (the docs' example: {"code":"##code##","min":"5"})
            TemplateParam=json.dumps({"code": "##code##", "min": str(self.minutes)}, separators=(",", ":")),
            CodeLength=str(self.code_length),
            CodeType="1",  # digits only
            ValidTime=str(self.ttl),
            Interval=str(self.interval),
            DuplicatePolicy="1",  # a new code replaces the live one, as ours do
            ReturnVerifyCode="false",  # the code never comes back to us
        )
        if payload.out_id:
            params["OutId"] = payload.out_id
        return "SendSmsVerifyCode", params

    def call(self, request: AliyunRequest) -> dict[str, Any]:
        return self.rpc.call(request)

    def parse(self, raw: dict[str, Any], phones: Sequence[str]) -> Reply:
        body = _answer(raw)
        model: dict[str, Any] = body["Model"] if isinstance(body.get("Model"), dict) else {}
        return Reply(
            accepted={phone: str(model.get("BizId", "")) for phone in phones},
            request_id=str(body.get("RequestId") or model.get("RequestId") or ""),
        )

    def check(self, number: PhoneNumber, purpose: str, code: str) -> str:
        """``CheckSmsVerifyCode``: ``PASS`` is a pass, ``UNKNOWN`` (a wrong, used or dead code) is ``invalid_code``.

        Aliyun keeps one code per number and scheme, whatever the purpose: the flow keeps one per
        number too, and its marker says which purpose the live code is for."""
        phone = self.format_phone(number)
        if phone is None:
            return INVALID_CODE  # never sent: Aliyun texts mainland numbers only
        params = self._params(phone)
        params["VerifyCode"] = code
        with sending([code]):  # the typed code is masked in every SDK log line and vendor text meanwhile
            try:
                body = _answer(self.call(("CheckSmsVerifyCode", params)))
            except ProviderError as exc:
                raise CheckUnavailable(f"aliyun CheckSmsVerifyCode: {exc}") from None
            except Exception as exc:  # noqa: BLE001 -- the SDK's own transport faults
                raise CheckUnavailable(f"aliyun CheckSmsVerifyCode: {short(str(exc))}") from None
        model: dict[str, Any] = body["Model"] if isinstance(body.get("Model"), dict) else {}
        return OK if model.get("VerifyResult") == PASS else INVALID_CODE


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    """A Dypnsapi reply with ``Code: OK``; any other ``Code`` is the vendor's error, kept as it said it."""
    if "Code" not in body:
        raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
    if body["Code"] != "OK":
        raise ProviderError(str(body["Code"]), short(body.get("Message", "")))
    return body
