"""Tencent Cloud SMS (腾讯云短信) through ``tencentcloud-sdk-python-sms``.

SendSms, API version 2021-01-11: up to 200 E.164 numbers, positional
``TemplateParamSet``, a ``Code`` per number in ``SendStatusSet``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from phonenumbers import PhoneNumber

from ..errors import ProviderError
from ..options import Option, host, scheme
from ..phones import e164
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import short, transport_error

_TRANSPORT_CODES = {"ClientNetworkError"}
_SDK_PARSE_CODES = {"JSONDecodeError", "ValueError", "KeyError", "TypeError", "AttributeError"}


class TencentProvider(Provider[Any, Any]):
    name = "tencent"
    extra = "tencent"
    sdk_module = "tencentcloud.sms.v20210111.sms_client"
    max_per_request = 200
    takes_sign = True
    options = (
        Option("SECRET_ID", secret=True),
        Option("SECRET_KEY", secret=True),
        Option("SDK_APP_ID"),
        Option("SIGN_NAME"),
        Option("TEMPLATES", parse=templates),
        Option("REGION", "ap-guangzhou"),
        Option("ENDPOINT", "sms.tencentcloudapi.com", host("sms.tencentcloudapi.com")),
        Option("SCHEME", "https", scheme),
    )
    sdk_loggers = ("tencentcloud_sdk_common", "urllib3.connectionpool")

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111.sms_client import SmsClient

        # The SDK's default is a 60 s timeout and a new connection per call.
        http_profile = HttpProfile(
            protocol=settings["SCHEME"],
            endpoint=settings["ENDPOINT"],
            reqTimeout=timeout,
            keepAlive=True,
        )
        self.client = SmsClient(
            Credential(settings["SECRET_ID"], settings["SECRET_KEY"]),
            settings["REGION"],
            ClientProfile(httpProfile=http_profile),
        )

    def format_phone(self, number: PhoneNumber) -> str:
        return e164(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> Any:
        from tencentcloud.sms.v20210111.models import SendSmsRequest

        request = SendSmsRequest()
        request.PhoneNumberSet = list(phones)
        request.SmsSdkAppId = self.settings["SDK_APP_ID"]
        request.SignName = self.sign_name(payload)
        request.TemplateId = payload.template.id
        request.TemplateParamSet = payload.values()
        return request

    def call(self, request: Any) -> Any:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        try:
            return self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            code, message = str(exc.get_code()), str(exc.get_message())
            if code in _TRANSPORT_CODES:
                raise transport_error(Exception(message)) from None
            if code in _SDK_PARSE_CODES:
                raise ProviderError("bad_reply", short(message)) from None
            raise ProviderError(code, short(message)) from None

    def parse(self, raw: Any, phones: Sequence[str]) -> Reply:
        statuses = getattr(raw, "SendStatusSet", None)
        if not statuses:
            raise ProviderError("bad_reply", "the reply has no SendStatusSet")
        reply = Reply(request_id=str(raw.RequestId or ""))
        for status in statuses:
            phone = str(status.PhoneNumber or "")
            if status.Code == "Ok":
                reply.accepted[phone] = str(status.SerialNo or "")
            else:
                reply.rejected[phone] = (str(status.Code), short(status.Message or ""))
        return reply
