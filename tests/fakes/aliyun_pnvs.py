"""Aliyun 号码认证服务 (Dypnsapi 2017-05-25) ``SendSmsVerifyCode`` / ``CheckSmsVerifyCode`` for the fake vendor.

Behind the same RPC signature check as SendSms (``fakes.aliyun.AliyunRpcFake``). The parameters are those of
Aliyun's OpenAPI metadata for Dypnsapi 2017-05-25 and the SDK models
(``alibabacloud_dypnsapi20170525``): SendSmsVerifyCode takes ``PhoneNumber``, ``SignName``,
``TemplateCode``, ``TemplateParam`` (required; ``##code##`` where the code goes), ``SchemeName``
(at most 20 characters), ``CountryCode``, ``CodeLength`` (4-8, default 4), ``CodeType``,
``ValidTime`` (default 300 s), ``Interval`` (default 60 s), ``DuplicatePolicy`` (1: a new code
replaces the live one), ``OutId``, ``ReturnVerifyCode``; it answers ``{"Code": "OK", "Success":
true, "Model": {"BizId", "OutId", "RequestId", "VerifyCode"}}``. CheckSmsVerifyCode takes
``PhoneNumber``, ``VerifyCode`` (required), ``SchemeName``, ``CountryCode``, ``OutId``,
``CaseAuthPolicy`` and answers ``Model.VerifyResult``: ``PASS``, or ``UNKNOWN`` for anything else.

The fake makes each code itself, as Aliyun does, keeps it per (scheme, phone) for
``ValidTime``, refuses a second send within ``Interval`` (``biz.FREQUENCY``), and lets a code
pass once. ``codes`` is what it texted (the tests read the code there, as a user reads a text);
``checks`` counts the checks it was asked.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from fake_vendor import Received, Reply, register_fake

from fakes.aliyun import AliyunRpcFake

_BAD_NUMBER = ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
_FREQUENCY = ("biz.FREQUENCY", "频率超限")
_BAD_PARAMS = ("isv.INVALID_PARAMETERS", "参数异常")


def _ints(params: dict[str, str], name: str, default: int, low: int, high: int) -> int | None:
    raw = params.get(name, str(default))
    return int(raw) if raw.isdigit() and low <= int(raw) <= high else None


@register_fake
class AliyunPnvsFake(AliyunRpcFake):
    name = "aliyun_pnvs"
    business_error = ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
    actions = frozenset({"SendSmsVerifyCode", "CheckSmsVerifyCode"})

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.reset()

    def reset(self) -> None:
        #: (scheme, phone) -> (code, valid until, sent at); what a phone received
        self.codes: dict[tuple[str, str], tuple[str, float, float]] = {}
        self.checks = 0

    def let_interval_pass(self) -> None:
        """As if ``Interval`` seconds had passed since every send (the fake keeps real time; tests keep their own)."""
        with self.fake._lock:
            self.codes = {key: (code, until, sent - 3600) for key, (code, until, sent) in self.codes.items()}

    def code_of(self, phone: str, scheme: str = "") -> str:
        """The live code the fake texted ``phone`` (what the user reads on the phone)."""
        return self.codes[(scheme, phone)][0]

    def read(self, params: dict[str, str]) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        action = params["Action"]
        if action == "SendSmsVerifyCode":
            self.mandatory(params, "PhoneNumber", "SignName", "TemplateCode", "TemplateParam")
        else:
            self.mandatory(params, "PhoneNumber", "VerifyCode")
        phone = params["PhoneNumber"]
        pending = None if re.fullmatch(r"1[3-9]\d{9}", phone) else _BAD_NUMBER
        if len(params.get("SchemeName", "")) > 20:
            pending = pending or _BAD_PARAMS
        if action == "SendSmsVerifyCode" and pending is None:
            pending = self._send_problem(params)
        rec = Received(
            "aliyun_pnvs",
            [phone],
            params.get("TemplateCode", ""),
            params.get("TemplateParam", ""),
            params.get("SignName", ""),
            dict(params),
        )
        return rec, pending, {"action": action}

    def _send_problem(self, params: dict[str, str]) -> tuple[str, str] | None:
        if "##code##" not in params["TemplateParam"]:
            return _BAD_PARAMS
        try:
            json.loads(params["TemplateParam"])
        except ValueError:
            return _BAD_PARAMS
        lengths = [_ints(params, "CodeLength", 4, 4, 8), _ints(params, "ValidTime", 300, 1, 86400)]
        if None in lengths or _ints(params, "Interval", 60, 1, 86400) is None:
            return _BAD_PARAMS
        live = self.codes.get((params.get("SchemeName", ""), params["PhoneNumber"]))
        interval = _ints(params, "Interval", 60, 1, 86400) or 60
        if live is not None and time.monotonic() - live[2] < interval:
            return _FREQUENCY
        return None

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("aliyun_pnvs", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self.reply({"Code": code, "Message": message, "Success": False}, f"rejected_number:{code}")
        params = rec.raw
        key = (params.get("SchemeName", ""), rec.phones[0])
        if ctx["action"] == "CheckSmsVerifyCode":
            return self._check(key, params)
        length = int(params.get("CodeLength", "4"))
        code = f"{secrets.randbelow(10**length):0{length}d}"
        now = time.monotonic()
        with self.fake._lock:
            self.codes[key] = (code, now + int(params.get("ValidTime", "300")), now)
        model = {"BizId": f"{secrets.randbelow(10**18):018d}^0", "OutId": params.get("OutId", ""), "RequestId": "r"}
        if params.get("ReturnVerifyCode") == "true":
            model["VerifyCode"] = code
        return self.reply({"Code": "OK", "Message": "成功", "Success": True, "Model": model}, "ok")

    def _check(self, key: tuple[str, str], params: dict[str, str]) -> Reply:
        with self.fake._lock:
            self.checks += 1
            live = self.codes.get(key)
            passed = live is not None and live[1] > time.monotonic() and live[0] == params["VerifyCode"]
            if passed:
                del self.codes[key]  # a code passes once
        result = "PASS" if passed else "UNKNOWN"
        model = {"OutId": params.get("OutId", ""), "VerifyResult": result}
        return self.reply({"Code": "OK", "Message": "成功", "Success": True, "Model": model}, f"check:{result}")
