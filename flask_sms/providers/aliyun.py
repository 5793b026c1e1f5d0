"""Aliyun Dysmsapi (阿里云短信服务) through ``aliyun-python-sdk-core``.

SendSms, API version 2017-05-25: up to 1000 comma-separated numbers, one
``TemplateParam`` JSON object, business errors as ``Code != "OK"`` in HTTP 200.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from phonenumbers import PhoneNumber

from ..errors import ProviderError
from ..options import Option, host, scheme
from ..phones import national_or_international_00
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import load_json, short, transport_error


class AliyunProvider(Provider[Any, bytes]):
    name = "aliyun"
    extra = "aliyun"
    sdk_module = "aliyunsdkcore.client"
    max_per_request = 1000
    takes_sign = True
    options = (
        Option("ACCESS_KEY_ID", secret=True),
        Option("ACCESS_KEY_SECRET", secret=True),
        Option("SIGN_NAME"),
        Option("TEMPLATES", parse=templates),
        Option("REGION", "cn-hangzhou"),
        Option("ENDPOINT", "dysmsapi.aliyuncs.com", host("dysmsapi.aliyuncs.com")),
        Option("SCHEME", "https", scheme),
    )
    sdk_loggers = (
        "aliyunsdkcore.client",
        "aliyunsdkcore.http.http_response",
        "aliyunsdkcore.auth.signers.access_key_signer",
        "aliyunsdkcore.vendored.requests.packages.urllib3.connectionpool",
    )

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        from aliyunsdkcore.client import AcsClient

        # auto_retry off: a retried SendSms texts the user twice.
        self.client = AcsClient(
            settings["ACCESS_KEY_ID"],
            settings["ACCESS_KEY_SECRET"],
            settings["REGION"],
            auto_retry=False,
            max_retry_time=0,
            timeout=timeout,
            connect_timeout=timeout,
        )

    def format_phone(self, number: PhoneNumber) -> str:
        return national_or_international_00(number)

    def build_request(self, phones: Sequence[str], payload: Payload) -> Any:
        from aliyunsdkcore.request import CommonRequest

        request = CommonRequest()
        request.set_domain(self.settings["ENDPOINT"])
        request.set_protocol_type(self.settings["SCHEME"])
        request.set_version("2017-05-25")
        request.set_action_name("SendSms")
        request.set_method("POST")
        request.set_accept_format("json")
        request.add_query_param("PhoneNumbers", ",".join(phones))
        request.add_query_param("SignName", self.sign_name(payload))
        request.add_query_param("TemplateCode", payload.template.id)
        if payload.params:
            param = json.dumps(dict(payload.params), ensure_ascii=False, separators=(",", ":"))
            request.add_query_param("TemplateParam", param)
        return request

    def call(self, request: Any) -> bytes:
        from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException

        try:
            reply: bytes = self.client.do_action_with_exception(request)
            return reply
        except ServerException as exc:
            status = exc.get_http_status() or 0
            if status >= 500:
                raise ProviderError(f"http_{status}", short(exc.get_error_msg())) from None
            raise ProviderError(exc.get_error_code(), short(exc.get_error_msg())) from None
        except ClientException as exc:
            raise transport_error(Exception(exc.get_error_msg())) from None

    def parse(self, raw: bytes, phones: Sequence[str]) -> Reply:
        body = load_json(raw, self.name)
        if not isinstance(body, dict) or "Code" not in body:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        if body["Code"] != "OK":
            raise ProviderError(str(body["Code"]), short(body.get("Message", "")))
        biz_id = str(body.get("BizId", ""))
        return Reply(accepted={phone: biz_id for phone in phones}, request_id=str(body.get("RequestId", "")))
