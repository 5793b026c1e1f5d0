"""Volcengine SMS (火山引擎短信服务) 短信验码: ``SendSmsVerifyCode`` and ``CheckSmsVerifyCode`` (API 2020-01-01).

Volcengine makes the code, fills it into a verification template of the message group
(template type ``CN_OTP``, its one variable ``code``), texts it and checks it. A code is
identified by the message group (``SmsAccount``), the number and the ``Scene``: flask_sms
sends the purpose as the ``Scene``, so each purpose keeps a code of its own there as here.
Signed and posted exactly as SendSms (the provider's HMAC-SHA256 signature and pooled
session), with the action in the query. The code never reaches our storage.

Unlike Aliyun's PNVS, the sign and the template are the message group's own (a
qualification is needed): choose it to let Volcengine make and check the codes, not to
avoid a sign of your own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from .._redact import sending
from ..codes import CODE_EXPIRED, INVALID_CODE
from ..errors import ProviderError
from ..options import Option
from ..providers.payload import Payload, Reply
from ..providers.replies import load_json, short
from ..providers.voice import shared
from ..providers.volcengine import (
    VolcengineProvider,
    VolcengineRaw,
    VolcengineRequest,
    _metadata,
    _raise_for_error,
    sign,
)
from ..results import Outcome
from ..storage import OK
from .base import CheckUnavailable, CodeBackend

_VERSION = "2020-01-01"
#: CheckSmsVerifyCode's ``Result``: "0" 成功, "1" 错误, "2" 过期 (or too many wrong tries)
_RESULTS = {"0": OK, "1": INVALID_CODE, "2": CODE_EXPIRED}
#: TryCount: "范围是1-10"
_MOST_TRIES = 10


class VolcengineVerify(CodeBackend[VolcengineRequest, VolcengineRaw]):
    """``SMS_CODE_BACKEND = "volcengine"``; keys ``SMS_VOLCENGINE_VERIFY_*``, the rest falling back to ``SMS_VOLCENGINE_*``."""

    # its own name for results, breakers and logs: the SMS provider "volcengine" is another account user
    name = "volcengine_verify"
    backend = "volcengine"
    vendor = "volcengine"
    label = "VERIFY"
    options = (
        # a template of type CN_OTP in the message group, whose one variable is ${code}
        Option(
            "TEMPLATE_ID",
            hint=" (a CN_OTP template of the message group, e.g. 'ST_6f8c1234')",
            doc="`TemplateID`: a `CN_OTP` template of the message group, its one variable `code`",
        ),
    )
    shared_options = shared(
        VolcengineProvider.options,
        "ACCESS_KEY_ID",
        "SECRET_ACCESS_KEY",
        "SMS_ACCOUNT",
        "SIGN_NAME",
        "REGION",
        "ENDPOINT",
        "SCHEME",
    )
    sdk_loggers = VolcengineProvider.sdk_loggers
    codes_per_purpose = True  # the Scene is the purpose
    code_lengths = (4, 6, 8)  # CodeType: "仅支持4/6/8位验证码"
    code_ttls = range(180, 1801)  # ExpireTime: "范围是180-1800"
    most_attempts = _MOST_TRIES
    # docs 6361/173288, as for SendSms: a malformed number is final for it, the rest fails (no failover anyway)
    error_classes: ClassVar[Mapping[str, Outcome]] = {"RE:0006": "rejected"}

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        # the signature, session and error reading of SendSms
        self.rpc = VolcengineProvider(settings, timeout)

    def _signed(self, action: str, fields: Mapping[str, Any]) -> VolcengineRequest:
        query = f"Action={action}&Version={_VERSION}"  # canonical already: sorted, nothing to encode
        body = json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        settings = self.settings
        x_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        headers = sign(
            settings["ACCESS_KEY_ID"],
            settings["SECRET_ACCESS_KEY"],
            settings["REGION"],
            settings["ENDPOINT"],
            body,
            x_date,
            query,
        )
        return f"{settings['SCHEME']}://{settings['ENDPOINT']}/?{query}", headers, body

    def build_request(self, phones: Sequence[str], payload: Payload) -> VolcengineRequest:
        fields: dict[str, Any] = {
            "SmsAccount": self.settings["SMS_ACCOUNT"],
            "Sign": self.settings["SIGN_NAME"],
            "TemplateID": self.settings["TEMPLATE_ID"],
            "PhoneNumber": phones[0],
            "Scene": payload.template.id,  # the purpose
            "CodeType": self.code_length,
            "ExpireTime": self.ttl,
            # at most SMS_MAX_ATTEMPTS wrong tries reach Volcengine (the flow counts first): its own count
            # must not end the code sooner
            "TryCount": min(_MOST_TRIES, self.max_attempts),
        }
        if payload.out_id:
            fields["Tag"] = payload.out_id  # echoed as ext in the receipt, as for SendSms
        return self._signed("SendSmsVerifyCode", fields)

    def call(self, request: VolcengineRequest) -> VolcengineRaw:
        return self.rpc.call(request)

    def parse(self, raw: VolcengineRaw, phones: Sequence[str]) -> Reply:
        return self.rpc.parse(raw, phones)  # Result.MessageID, one per number, as SendSms

    def check(self, number: PhoneNumber, purpose: str, code: str) -> str:
        """``CheckSmsVerifyCode``: ``Result`` "0" passes, "1" is ``invalid_code``, "2" ``code_expired``."""
        phone = self.format_phone(number)
        if phone is None:
            return INVALID_CODE  # never sent: mainland numbers only
        fields = {"SmsAccount": self.settings["SMS_ACCOUNT"], "PhoneNumber": phone, "Scene": purpose, "Code": code}
        with sending([code]):  # the typed code is masked in every log line and vendor text meanwhile
            try:
                status, content = self.call(self._signed("CheckSmsVerifyCode", fields))
                _raise_for_error(_metadata(content), status, content)
                body = load_json(content, self.name)
            except ProviderError as exc:
                raise CheckUnavailable(f"volcengine CheckSmsVerifyCode: {exc}") from None
            except Exception as exc:  # noqa: BLE001 -- requests' transport faults
                raise CheckUnavailable(f"volcengine CheckSmsVerifyCode: {short(str(exc))}") from None
        result = body.get("Result") if isinstance(body, dict) else None
        if str(result) not in _RESULTS:
            raise CheckUnavailable(f"volcengine CheckSmsVerifyCode: unexpected reply: {short(body)}")
        return _RESULTS[str(result)]
