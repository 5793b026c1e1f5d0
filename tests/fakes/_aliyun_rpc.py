"""What the fakes of Aliyun's other RPC products share with the SendSms fake: the request reading and the signature check.

Dyvmsapi (语音服务) and Dypnsapi (号码认证服务) are RPC APIs like Dysmsapi: the same
parameters merged from the query and a form body, the same HMAC-SHA1 signature,
the same nonce rule, the same JSON reply shape. A fake here claims a request by its
``Action`` and runs ``FakeVendor``'s own Aliyun check (pinned to the published SendSms
and RPC examples in test_signature_examples), so every Aliyun product is checked alike.
"""

from __future__ import annotations

from email.message import Message
from typing import Any, ClassVar

from fake_vendor import FakeVendor, Received, Refusal, Reply, VendorFake, aliyun_request_params


class AliyunRpcFake(VendorFake):
    """A fake of one Aliyun RPC product: the actions it answers and the API version they belong to."""

    actions: ClassVar[frozenset[str]]
    version: ClassVar[str] = "2017-05-25"

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return False  # decided on the Action, which is in the query or the body

    def claims_request(self, method: str, path: str, query: str, headers: Message, body: bytes) -> bool:
        if (headers.get("Authorization") or "").startswith("HMAC-SHA256 "):
            return False  # Volcengine's: its SendSmsVerifyCode has the name of Dypnsapi's
        return aliyun_request_params(query, headers.get("Content-Type") or "", body).get("Action") in self.actions

    @staticmethod
    def reply(payload: dict[str, Any], label: str, status: int = 200) -> Reply:
        return FakeVendor._aliyun_reply(status, payload, label)

    def refuse(self, status: int, code: str, message: str) -> Refusal:
        return Refusal(f"{code}: {message}", self.reply({"Code": code, "Message": message}, f"refused:{code}", status))

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        params = aliyun_request_params(query, headers.get("Content-Type") or "", body)
        self.fake._aliyun_authenticate(method, params)  # the SendSms check: fields, key, HMAC-SHA1, nonce
        if params.get("Version") != self.version:
            raise self.refuse(400, "InvalidVersion", "Specified parameter Version is not valid.")
        return self.read(params)

    def read(self, params: dict[str, str]) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        raise NotImplementedError

    def mandatory(self, params: dict[str, str], *names: str) -> None:
        for name in names:
            if not params.get(name):
                raise self.refuse(400, f"Missing{name}", f"{name} is mandatory for this action.")

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        return self.reply({"Code": code, "Message": message}, label)
