"""NetEase Yunxin SMS (网易云信短信) through its documented HTTP API (there is no maintained SDK).

``sendtemplate.action``: a form with ``templateid``, ``mobiles`` (a JSON
array of up to 100 numbers: mainland 11 digits, elsewhere ``+cc-number``)
and ``params`` (a JSON array of the template's values, in order). The reply
is ``{"code": 200, "msg": ..., "obj": <sendid>}``; errors keep HTTP 200 with
another ``code``.

Not ``sendcode.action``: it texts one number a code of its own (or ours in
``authCode``) and echoes that code in its reply; the template send fits the
template-and-values model every other vendor here uses and carries no code
back.

Auth: the ``AppKey``, ``Nonce``, ``CurTime`` headers and ``CheckSum =
sha1(AppSecret + Nonce + CurTime)`` in lower-case hex, valid five minutes.
The body is not signed: keep the endpoint ``https://``. There is no
correlation field: receipts are matched on the ``sendid``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from phonenumbers import PhoneNumber, national_significant_number

from ..errors import ProviderError
from ..options import Option, host, scheme
from ..phones import is_mainland
from ..results import Outcome
from .base import Provider
from .payload import Payload, Reply, templates
from .replies import http_reply, short

NeteaseRequest = tuple[dict[str, str], dict[str, str]]  # headers, form
NeteaseRaw = tuple[int, bytes]  # HTTP status, body
_OK = "200"


def checksum(app_secret: str, nonce: str, cur_time: str) -> str:
    """NetEase's ``CheckSum`` header: lower-case hex SHA-1 of secret, nonce and time."""
    return hashlib.sha1(f"{app_secret}{nonce}{cur_time}".encode()).hexdigest()


class NeteaseProvider(Provider[NeteaseRequest, NeteaseRaw]):
    name = "netease"
    # sendtemplate: "mobiles" takes at most 100 numbers.
    max_per_request = 100
    options = (
        Option("APP_KEY", secret=True),
        Option("APP_SECRET", secret=True),
        Option("TEMPLATES", parse=templates),
        Option("ENDPOINT", "api.netease.im", host("api.netease.im")),
        Option("SCHEME", "https", scheme),
    )
    sdk_loggers = ("urllib3.connectionpool",)
    # the server API's code table; every other code fails over
    error_classes: ClassVar[Mapping[str, Outcome]] = {
        "416": "rejected",  # 频率控制: too many texts to this number
        "417": "rejected",  # 重复操作
    }

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        self.session = self.http_session(f"{settings['SCHEME']}://{settings['ENDPOINT']}/")
        self.url = f"{settings['SCHEME']}://{settings['ENDPOINT']}/sms/sendtemplate.action"

    def format_phone(self, number: PhoneNumber) -> str:
        national = national_significant_number(number)
        return national if is_mainland(number) else f"+{number.country_code}-{national}"

    def build_request(self, phones: Sequence[str], payload: Payload) -> NeteaseRequest:
        nonce, now = secrets.token_hex(16), str(int(time.time()))
        headers = {
            "AppKey": self.settings["APP_KEY"],
            "Nonce": nonce,
            "CurTime": now,
            "CheckSum": checksum(self.settings["APP_SECRET"], nonce, now),
        }
        form = {
            "templateid": payload.template.id,
            "mobiles": json.dumps(list(phones), separators=(",", ":")),
            "params": json.dumps(payload.values(), ensure_ascii=False, separators=(",", ":")),
        }
        return headers, form

    def call(self, request: NeteaseRequest) -> NeteaseRaw:
        headers, form = request
        response = self.session.post(self.url, data=form, headers=headers, timeout=self.timeout)
        return response.status_code, response.content

    def parse(self, raw: NeteaseRaw, phones: Sequence[str]) -> Reply:
        body = http_reply(*raw, self.name, _error)
        if not isinstance(body, dict) or str(body.get("code")) != _OK or body.get("obj") in (None, ""):
            raise ProviderError("bad_reply", f"unexpected reply: {short(body)}")
        # one sendid for the request: every number's message id
        return Reply(accepted=dict.fromkeys(phones, str(body["obj"])))


def _error(body: Any) -> tuple[str, str] | None:
    if isinstance(body, dict) and "code" in body and str(body["code"]) != _OK:
        return str(body["code"]), str(body.get("msg") or body.get("desc") or "")
    return None
