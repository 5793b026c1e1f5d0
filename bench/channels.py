"""The channel rows of ``python -m bench``: a voice send and a vendor-checked verify, each against the bare SDK call.

Both sides talk to the same fake vendor in a child process; the calls are timed one at a
time in alternation (see :class:`bench.common.Samples`). Our side is the library's whole
path (``send_sms(..., channel="voice")``: the plan, the provider, the breaker, the
signals), the other the official SDK's own call with a client built once.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any

from vendor_config import ALIYUN, TENCENT, TENCENT_VOICE

from bench.common import PHONE, Row, Samples, check_fake, progress, ratio_row, vendor_app
from bench.fake_server import RemoteFake
from flask_sms import SmsExtension, send_sms

CODE = "123456"
#: a voice send may cost this much more than the bare SDK call
VOICE_TARGET = 1.10
#: a vendor-checked verify may cost this much more than the bare CheckSmsVerifyCode call
PNVS_TARGET = 1.10


def _bare_aliyun_call(fake: RemoteFake, timeout: float) -> Callable[[], Any]:
    """SingleCallByTts through aliyun-python-sdk-core: a ``CommonRequest`` per call, one ``AcsClient``."""
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    acs = AcsClient(
        ALIYUN.key_id,
        ALIYUN.secret,
        "cn-hangzhou",
        auto_retry=False,
        max_retry_time=0,
        timeout=timeout,
        connect_timeout=timeout,
    )
    tts_param = json.dumps({"code": CODE}, separators=(",", ":"))

    def call() -> Any:
        req = CommonRequest()
        req.set_domain(fake.host)
        req.set_protocol_type("http")
        req.set_version("2017-05-25")
        req.set_action_name("SingleCallByTts")
        req.set_method("POST")
        req.set_accept_format("json")
        req.add_query_param("CalledNumber", PHONE)
        req.add_query_param("TtsCode", "TTS_171115079")
        req.add_query_param("TtsParam", tts_param)
        body = json.loads(acs.do_action_with_exception(req))
        if body.get("Code") != "OK":
            raise RuntimeError(f"bare aliyun voice: {body}")
        return body

    return call


def _bare_tencent_call(fake: RemoteFake, timeout: float) -> Callable[[], Any]:
    """SendCodeVoice through tencentcloud-sdk-python-vms: one ``VmsClient`` with keep-alive."""
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.vms.v20200902.models import SendCodeVoiceRequest
    from tencentcloud.vms.v20200902.vms_client import VmsClient

    profile = HttpProfile(protocol="http", endpoint=fake.host, reqTimeout=timeout, keepAlive=True)
    client = VmsClient(
        Credential(TENCENT.secret_id, TENCENT.secret_key),
        "ap-guangzhou",
        ClientProfile(httpProfile=profile),
    )

    def call() -> Any:
        req = SendCodeVoiceRequest()
        req.CodeMessage, req.CalledNumber, req.VoiceSdkAppid = CODE, "+86" + PHONE, TENCENT_VOICE.voice_app_id
        reply = client.SendCodeVoice(req)
        if not reply.SendStatus.CallId:
            raise RuntimeError(f"bare tencent voice: {reply}")
        return reply

    return call


_BARE_CALLS = {"aliyun": _bare_aliyun_call, "tencent": _bare_tencent_call}


def bench_voice(rows: list[Row], fake: RemoteFake, pairs: int, segments: int = 5) -> None:
    """A voice send (``send_sms(..., channel="voice")``) vs the bare SDK call, per vendor with an SDK."""
    cases = []
    for vendor, bare_call in _BARE_CALLS.items():
        app = vendor_app(fake, "console", SMS_VOICE_PROVIDERS=[vendor])
        bare = bare_call(fake, float(app.config["SMS_TIMEOUT"]))

        def ours(vendor: str = vendor) -> None:
            result = send_sms(PHONE, "captcha", {"code": CODE}, channel="voice")
            if not result.ok:
                raise RuntimeError(f"{vendor}: voice send failed: {result.attempts}")

        cases.append((vendor, app, ours, bare, Samples()))
    fake.reset()
    warm = 10
    for _, app, ours, bare, _ in cases:
        with app.app_context():
            for _ in range(warm):
                ours(), bare()
    per_segment = max(1, pairs // segments)
    for segment in range(segments):
        progress(f"voice: round {segment + 1} of {segments}")
        gc.collect()
        for _, app, ours, bare, samples in cases:
            with app.app_context():
                samples.add(ours, bare, per_segment)
    for vendor, *_ in cases:
        check_fake(fake, f"{vendor}_voice", 2 * (warm + per_segment * segments))
    for vendor, _, _, _, samples in cases:
        rows.append(
            ratio_row(
                f'voice: {vendor} `send_sms(..., channel="voice")` vs bare SDK call', samples.timing(), VOICE_TARGET
            )
        )
    fake.reset()


def _aliyun_client(timeout: float) -> Any:
    from aliyunsdkcore.client import AcsClient

    return AcsClient(
        ALIYUN.key_id,
        ALIYUN.secret,
        "cn-hangzhou",
        auto_retry=False,
        max_retry_time=0,
        timeout=timeout,
        connect_timeout=timeout,
    )


def _pnvs_request(fake: RemoteFake, action: str, phone: str) -> Any:
    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest()
    req.set_domain(fake.host)
    req.set_protocol_type("http")
    req.set_version("2017-05-25")
    req.set_action_name(action)
    req.set_method("POST")
    req.set_accept_format("json")
    req.add_query_param("PhoneNumber", phone)
    req.add_query_param("CountryCode", "86")
    return req


def _bare_pnvs(fake: RemoteFake, timeout: float) -> tuple[Callable[[str], str], Callable[[str, str], Any]]:
    """SendSmsVerifyCode (answers the code it made) and CheckSmsVerifyCode, bare, one ``AcsClient``."""
    acs = _aliyun_client(timeout)

    def send(phone: str) -> str:
        req = _pnvs_request(fake, "SendSmsVerifyCode", phone)
        req.add_query_param("SignName", "速通互联验证码")
        req.add_query_param("TemplateCode", "100001")
        req.add_query_param("TemplateParam", json.dumps({"code": "##code##", "min": "5"}))
        req.add_query_param("CodeLength", "6")
        req.add_query_param("ReturnVerifyCode", "true")
        body = json.loads(acs.do_action_with_exception(req))
        if body.get("Code") != "OK":
            raise RuntimeError(f"bare SendSmsVerifyCode: {body}")
        return str(body["Model"]["VerifyCode"])

    def check(phone: str, code: str) -> Any:
        req = _pnvs_request(fake, "CheckSmsVerifyCode", phone)
        req.add_query_param("VerifyCode", code)
        body = json.loads(acs.do_action_with_exception(req))
        if body.get("Code") != "OK" or body["Model"]["VerifyResult"] != "PASS":
            raise RuntimeError(f"bare CheckSmsVerifyCode: {body}")
        return body

    return send, check


def bench_pnvs(rows: list[Row], fake: RemoteFake, pairs: int, segments: int = 5) -> None:
    """A vendor-checked verify (``sms.verify_code`` with ``SMS_CODE_BACKEND = "aliyun_pnvs"``) vs the bare
    ``CheckSmsVerifyCode``, each of a live code Aliyun's fake made for a phone of its own.

    Ours is the whole verify: the attempt counted in the store first, the check, the code
    used up in the store, the signal. Every code is sent beforehand (untimed): ours through
    ``sms.send_code``, the bare side's through a bare ``SendSmsVerifyCode``.
    """
    app = vendor_app(
        fake,
        "console",
        SMS_ENABLE_CAPTCHA=True,
        SMS_CODE_BACKEND="aliyun_pnvs",
        SMS_GLOBAL_LIMITS="",
        SMS_IP_LIMITS="",
        SMS_VERIFY_IP_LIMITS="",
        # a code a second to phones of one prefix is what the fraud guard climbs on (its cost has rows of its own)
        SMS_FRAUD_GUARD=None,
    )
    sms: SmsExtension = app.extensions["sms"]
    bare_send, bare_check = _bare_pnvs(fake, float(app.config["SMS_TIMEOUT"]))
    warm, per_segment = 10, max(1, pairs // segments)
    count = warm + per_segment * segments
    fake.reset()
    ours_codes, bare_codes = [], []
    with app.app_context():
        for index in range(count):  # a phone per verify, so neither side meets a cool-down
            phone, other = f"1380{index:07d}", f"1390{index:07d}"
            sms.send_code(phone)
            ours_codes.append((phone, fake.code_of("aliyun_pnvs", phone)))
            bare_codes.append((other, bare_send(other)))
        ours_next, bare_next = iter(ours_codes), iter(bare_codes)

        def ours() -> None:
            phone, code = next(ours_next)
            result = sms.verify_code(phone, code)
            if not result:
                raise RuntimeError(f"aliyun_pnvs: verify failed: {result.reason}")

        def bare() -> None:
            bare_check(*next(bare_next))

        for _ in range(warm):
            ours(), bare()
        samples = Samples()
        for segment in range(segments):
            progress(f"pnvs: round {segment + 1} of {segments}")
            gc.collect()
            samples.add(ours, bare, per_segment)
    check_fake(fake, "aliyun_pnvs", 4 * count)  # each side: a send and a check per code
    rows.append(
        ratio_row(
            'pnvs: `sms.verify_code` (SMS_CODE_BACKEND="aliyun_pnvs") vs bare CheckSmsVerifyCode',
            samples.timing(),
            PNVS_TARGET,
        )
    )
    fake.reset()


def bench_channels(rows: list[Row], fake: RemoteFake, pairs: int) -> None:
    bench_voice(rows, fake, pairs)
    bench_pnvs(rows, fake, pairs)
