"""Volcengine SMS 短信验码 ``SendSmsVerifyCode`` / ``CheckSmsVerifyCode`` (2020-01-01) for the fake vendor.

Behind the same HMAC-SHA256 check as SendSms (``fakes/volcengine.py``), with the action in the
query. From the docs (volcengine.com/docs/6361/171579 and 6361/171580): SendSmsVerifyCode takes
``SmsAccount``, ``Sign``, ``TemplateID`` (a ``CN_OTP``/``I18N_OTP`` template whose one variable is
``code``), ``PhoneNumber`` (one), ``Tag``, ``Scene``, ``CodeType`` ("仅支持4/6/8位验证码,默认为6位,传入
不支持的长度将替换为默认值"), ``ExpireTime`` ("范围是180-1800,默认180秒,超过范围会使用默认时间") and
``TryCount`` ("范围是1-10,默认3次"); it answers ``Result`` with the ``MessageID`` list of SendSms.
CheckSmsVerifyCode takes ``SmsAccount``, ``PhoneNumber``, ``Scene``, ``Code`` and answers ``Result``
"0" (成功), "1" (错误) or "2" (过期: also once the wrong tries pass ``TryCount``); the fake's reply
is the docs' example shape (``ResponseMetadata`` with ``Action``, ``Version``, ``Service`` volcSMS,
``Region`` cn-north-1, and ``Result``).

The fake makes each code, keeps it per (SmsAccount, PhoneNumber, Scene), lets it pass once, and
counts wrong tries. ``codes`` is what it texted; ``checks`` counts the checks.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from fake_vendor import Received, Reply, register_fake

from fakes.volcengine import VERIFY_ACTIONS, VolcengineFake

#: the message group's verification (CN_OTP) templates; tests/vendor_config.py configures the first
OTP_TEMPLATE_IDS = ("ST_otp_5e6f7a8b",)


def _within(value: Any, allowed: range | tuple[int, ...], default: int) -> int:
    """The documented rule: an unsupported value is replaced by the default."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value in allowed else default


@register_fake
class VolcengineVerifyFake(VolcengineFake):
    name = "volcengine_verify"
    # a product of Volcengine's, not an SMS vendor: not in the vendor matrix, no receipts of its own
    send_facts = None
    correlation_field = None
    push_tries = 0
    business_error = ("RE:0010", "账号欠费")

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.reset()

    def reset(self) -> None:
        #: (SmsAccount, number, Scene) -> [code, valid until, TryCount, wrong tries so far]
        self.codes: dict[tuple[str, str, str], list[Any]] = {}
        self.checks = 0

    def code_of(self, phone: str, scene: str = "captcha") -> str:
        """The live code the fake texted ``phone`` for ``scene`` (what the user reads on the phone)."""
        return str(self.codes[(self.credentials.sms_account, phone, scene)][0])

    def expire(self) -> None:
        """As if every live code's ExpireTime had passed (the fake keeps real time)."""
        with self.fake._lock:
            for entry in self.codes.values():
                entry[1] = 0.0

    def claims_request(self, method: str, path: str, query: str, headers: Message, body: bytes) -> bool:
        return self.claims(method, path, headers) and dict(parse_qsl(query)).get("Action") in VERIFY_ACTIONS

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        self._authenticate(method, path, query, {k.lower(): v for k, v in headers.items()}, body)
        action = dict(parse_qsl(query))
        if action.get("Version") != "2020-01-01":
            raise self._refuse(404, "InvalidActionOrVersion", 100008, "Could not find operation.")
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise self._refuse(200, "RE:0009", 0, "请求参数错误")
        if data.get("SmsAccount") != self.credentials.sms_account:
            raise self._refuse(200, "RE:0003", 0, "子账号不存在")
        phone = str(data.get("PhoneNumber") or "")
        national = phone.removeprefix("+86")  # "+86188和188都是合法的手机号码"
        pending = None if national.isdigit() and len(national) == 11 else ("RE:0006", "手机号格式错误")
        if (
            action["Action"] == "SendSmsVerifyCode"
            and pending is None
            and data.get("TemplateID") not in OTP_TEMPLATE_IDS
        ):
            pending = ("RE:0009", "请求参数错误")  # not a verification template of the message group
        rec = Received(
            "volcengine_verify",
            [phone],
            str(data.get("TemplateID") or ""),
            str(data.get("Scene") or ""),
            str(data.get("Sign") or ""),
            data,
        )
        return rec, pending, {"action": action["Action"]}

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("volcengine_verify", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self._reply(200, (code, 0, message), None, f"rejected_number:{code}", ctx["action"])
        data = rec.raw
        key = (str(data["SmsAccount"]), rec.phones[0].removeprefix("+86"), str(data.get("Scene") or ""))
        if ctx["action"] == "CheckSmsVerifyCode":
            return self._check(key, str(data.get("Code") or ""))
        length = _within(data.get("CodeType"), (4, 6, 8), 6)
        ttl = _within(data.get("ExpireTime"), range(180, 1801), 180)
        tries = _within(data.get("TryCount"), range(1, 11), 3)
        code = f"{secrets.randbelow(10**length):0{length}d}"
        with self.fake._lock:
            self.codes[key] = [code, time.monotonic() + ttl, tries, 0]
        return self._reply(200, None, {"MessageID": [uuid.uuid4().hex]}, "ok", "SendSmsVerifyCode")

    def _check(self, key: tuple[str, str, str], typed: str) -> Reply:
        with self.fake._lock:
            self.checks += 1
            live = self.codes.get(key)
            if live is not None and live[0] != typed:
                live[3] += 1  # "验码失败先返回错误,当累计错误次数超过阈值,返回过期"
            if live is None or live[1] <= time.monotonic() or live[3] > live[2]:
                result = "2"  # 过期
            elif live[0] == typed:
                result = "0"
                del self.codes[key]  # a code passes once
            else:
                result = "1"
        return self._reply(200, None, result, f"check:{result}", "CheckSmsVerifyCode")
