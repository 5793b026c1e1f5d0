"""Ihuyi / 互亿无线 ``/webservice/sms.php?method=Submit`` for the fake vendor.

The password is the APIKEY, or the dynamic one: MD5(account + APIKEY + mobile + content + time). One mainland
number per request; the reply is JSON with ``format=json``, else XML (its historical default). Codes from the
public 互亿无线 return-code table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from email.message import Message
from typing import Any

from fake_vendor import Received, Refusal, Reply, SendFacts, VendorFake, json_bytes, parse_form, register_fake

# 405's wording differs
# between doc versions: older "用户名或密码不正确", newer "API ID或API KEY不正确".
_IH_NO_ACCOUNT = (401, "帐号不能为空")
_IH_NO_PASSWORD = (402, "密码不能为空")
_IH_NO_MOBILE = (403, "手机号码不能为空")
_IH_NO_CONTENT = (404, "短信内容不能为空")
_IH_BAD_AUTH = (405, "用户名或密码不正确")
# 406 is the documented "bad number format" code. 4085 is NOT a format code:
# it means "同一手机号验证码短信发送超出5条" (the daily cap on codes per number).
_IH_BAD_MOBILE = (406, "手机号码格式不正确")


def _md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass
class IhuyiCredentials:
    """The one account the fake knows."""

    account: str = "C12345678"  # APIID
    api_key: str = "ihuyi-test-apikey-XYZ"


@register_fake
class IhuyiFake(VendorFake):
    name = "ihuyi"
    business_error = ("4051", "剩余条数不足")
    send_facts = SendFacts(
        params_on_wire="您的验证码是:483920。请不要把验证码泄露给其他人。",
        max_numbers=1,
        auth_errors=("405",),
        rejected_code="4085",  # "同一手机号验证码短信发送超出5条"
        secret_key="SMS_IHUYI_API_KEY",
        international=None,  # mainland numbers only
    )

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = IhuyiCredentials()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return path.startswith("/webservice/sms.php")

    @staticmethod
    def reply(as_json: bool, code: int | str, msg: str, smsid: str, label: str) -> Reply:
        if as_json:
            return Reply(
                200, json_bytes({"code": code, "msg": msg, "smsid": smsid}), "application/json;charset=utf-8", label
            )
        # Without format=json Ihuyi answers XML (its historical default).
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<SubmitResult xmlns="http://106.ihuyi.com/">\n'
            f"<code>{code}</code>\n<msg>{msg}</msg>\n<smsid>{smsid}</smsid>\n</SubmitResult>"
        )
        return Reply(200, xml.encode("utf-8"), "text/xml; charset=utf-8", label)

    @staticmethod
    def _code(code: str) -> int | str:
        try:
            return int(code)
        except ValueError:
            return code

    def parse(self, method: str, path: str, query: str, headers: Message, body: bytes):
        fields = parse_form(query)
        if body:
            fields.update(parse_form(body.decode("utf-8", "replace")))
        as_json = fields.get("format", "").lower() == "json"

        def refuse(pair: tuple[int, str]) -> Refusal:
            code, message = pair
            return Refusal(f"{code}: {message}", self.reply(as_json, code, message, "0", f"refused:{code}"))

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
        authed = account == creds.account and (
            hmac.compare_digest(password.encode("utf-8"), creds.api_key.encode("utf-8"))
            or (
                bool(fields.get("time"))
                and hmac.compare_digest(
                    password.lower().encode("utf-8"),
                    _md5_hex(account + creds.api_key + mobile + content + fields["time"]).encode("ascii"),
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

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self.reply(ctx.get("json", True), self._code(code), message, "0", label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("ihuyi", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self.reply(ctx.get("json", True), self._code(code), message, "0", f"rejected_number:{code}")
        smsid = str(10**10 + secrets.randbelow(9 * 10**10))
        return self.reply(ctx.get("json", True), 2, "提交成功", smsid, "ok")
