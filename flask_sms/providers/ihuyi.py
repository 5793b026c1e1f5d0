"""Ihuyi 互亿无线 through its documented HTTP form API (there is no SDK).

One mainland number per request. The full message text is sent, built from a
content template with ``str.format`` fields. We use the dynamic password
(``MD5(account + apikey + mobile + content + time)``) so the APIKEY itself
never travels.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from phonenumbers import PhoneNumber, national_significant_number

from ..errors import ProviderError
from ..options import Option, url_with_scheme
from ..phones import is_mainland
from ..results import Outcome
from .base import Provider
from .payload import Payload, Reply, Template, templates, text_payload
from .replies import load_json, short

_SUCCESS = 2


class IhuyiProvider(Provider[dict[str, str], bytes]):
    name = "ihuyi"
    max_per_request = 1
    options = (
        Option("ACCOUNT", secret=True, doc="the APIID of the Ihuyi account"),
        Option(
            "API_KEY",
            secret=True,
            doc="the APIKEY; it never travels: requests carry `MD5(account + apikey + mobile + content + time)`",
        ),
        Option(
            "TEMPLATES",
            parse=templates,
            doc='purpose → content with named fields, e.g. `"您的验证码是:{code}。请不要把验证码泄露给其他人。"`',
        ),
        Option(
            "URL",
            "https://106.ihuyi.com/webservice/sms.php?method=Submit",
            url_with_scheme("http://", "https://", describe="be an http(s) URL"),
            doc="the Submit URL of Ihuyi's form API (`http(s)://host[:port]/path?method=Submit`)",
        ),
    )
    sdk_loggers = ("urllib3.connectionpool",)
    # Submit's return codes (no official page reachable; several consistent copies of the
    # 互亿无线 table): final for the number, or a refusal of the text's values; every other
    # code fails over.
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "406": "rejected",  # 手机号码格式不正确
        "4030": "rejected",  # 手机号码已被列入黑名单
        "40864": "rejected",  # 发送失败，手机号已被列入黑名单
        "4080": "rejected",  # 同一手机号码同一秒钟之内发送频率不能超过1条
        "4081": "rejected",  # 同一手机号码一分钟之内发送频率不能超过1条
        "4082": "rejected",  # 超出同一手机号一天之内【5】条短信限制
        "4083": "rejected",  # 同内容每分钟限制
        "4084": "rejected",  # 同内容每日限制
        "4085": "rejected",  # 同一手机号验证码短信发送超出【5】条
        "4086": "rejected",  # 同一个手机号码发送频率太频繁
        "4010": "rejected",  # 通道限制：每个号码1分钟内只能发1条
        "407": "content",  # 短信内容含有敏感字符
        "40722": "content",  # 变量内容超过指定的长度
        "4073": "content",  # 短信内容超出长度限制
        "4074": "content",  # 短信内容包含emoji符号
        "4051": "failed",  # 剩余条数不足
        "405": "failed",  # API ID或API KEY不正确
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        self.session = self.http_session(settings["URL"])

    def format_phone(self, number: PhoneNumber) -> str | None:
        return national_significant_number(number) if is_mainland(number) else None

    def render(self, purpose: str, template: Template, params: Mapping[str, Any]) -> Payload:
        """Ihuyi takes the whole text: fill the content template's ``str.format`` fields."""
        return text_payload(template, params, self.name, purpose)

    def build_request(self, phones: Sequence[str], payload: Payload) -> dict[str, str]:
        (mobile,) = phones
        rendered = payload.text
        account, api_key = self.settings["ACCOUNT"], self.settings["API_KEY"]
        now = str(int(time.time()))
        digest = hashlib.md5(f"{account}{api_key}{mobile}{rendered}{now}".encode()).hexdigest()
        return {
            "account": account,
            "password": digest,
            "mobile": mobile,
            "content": rendered,
            "time": now,
            "format": "json",
        }

    def call(self, request: dict[str, str]) -> bytes:
        response = self.session.post(self.settings["URL"], data=request, timeout=self.timeout)
        if response.status_code != 200:
            raise ProviderError(f"http_{response.status_code}", short(response.text))
        return response.content

    def parse(self, raw: bytes, phones: Sequence[str]) -> Reply:
        body = load_json(raw, self.name)
        if not isinstance(body, dict) or "code" not in body:
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        if str(body["code"]) != str(_SUCCESS):
            raise ProviderError(str(body["code"]), short(body.get("msg", "")))
        return Reply(accepted={phone: str(body.get("smsid", "")) for phone in phones})
