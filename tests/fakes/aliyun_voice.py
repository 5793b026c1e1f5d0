"""Aliyun 语音服务 (Dyvmsapi 2017-05-25) ``SingleCallByTts`` for the fake vendor.

Behind the same RPC signature check as SendSms (``fakes.aliyun.AliyunRpcFake``). Parameters, from the
API reference (help.aliyun.com/document_detail/393519 and the SDK's model): ``CalledNumber``
(one mainland number, required), ``TtsCode`` (required), ``TtsParam`` (a JSON object of
strings, under 250 characters; a verification template's variables digits and letters
only), ``PlayTimes`` 1-3, ``Volume`` 0-100, ``Speed`` -500..500, ``OutId`` 1-15 bytes,
``CalledShowNumber`` (dedicated mode only). The reply is the published example's shape:
``{"RequestId", "Code": "OK", "Message": "OK", "CallId": "116012354148^10281378****"}``.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from fake_vendor import Received, Reply, register_fake

from fakes.aliyun import AliyunRpcFake

_BAD_NUMBER = ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
_BAD_PARAM = ("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
_BAD_ARGUMENT = ("isv.INVALID_PARAMETERS", "参数异常")


def _tts_param_problem(raw: str) -> tuple[str, str] | None:
    if not raw:
        return None
    try:
        values = json.loads(raw)
    except ValueError:
        return _BAD_PARAM
    if len(raw) >= 250 or not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        return _BAD_PARAM
    if not all(re.fullmatch(r"[0-9A-Za-z]+", v) for k, v in values.items() if k == "code"):
        return _BAD_PARAM
    return None


def _argument_problem(params: dict[str, str]) -> tuple[str, str] | None:
    """PlayTimes 1-3, OutId 1-15 bytes, Volume 0-100."""
    if params.get("PlayTimes") and params["PlayTimes"] not in ("1", "2", "3"):
        return _BAD_ARGUMENT
    if "OutId" in params and not 0 < len(params["OutId"].encode()) <= 15:
        return _BAD_ARGUMENT
    if params.get("Volume") and not (params["Volume"].isdigit() and int(params["Volume"]) <= 100):
        return _BAD_ARGUMENT
    return None


@register_fake
class AliyunVoiceFake(AliyunRpcFake):
    name = "aliyun_voice"
    business_error = ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
    actions = frozenset({"SingleCallByTts"})

    def read(self, params: dict[str, str]) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        self.mandatory(params, "CalledNumber", "TtsCode")
        called = params["CalledNumber"]
        pending = None if re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", called) else _BAD_NUMBER
        pending = pending or _tts_param_problem(params.get("TtsParam", "")) or _argument_problem(params)
        values = json.loads(params["TtsParam"]) if params.get("TtsParam") and pending is None else {}
        return Received("aliyun_voice", [called], params["TtsCode"], values, "", dict(params)), pending, {}

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("aliyun_voice", rec.phones)
        if hits:
            code, message = next(iter(hits.values()))
            return self.reply({"Code": code, "Message": message}, f"rejected_number:{code}")
        call_id = f"{secrets.randbelow(10**12):012d}^{secrets.randbelow(10**12):012d}"
        return self.reply({"Code": "OK", "Message": "OK", "CallId": call_id}, "ok")
