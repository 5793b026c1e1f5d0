"""``SMS_*`` config that points every provider at the loopback fake vendor.

Kept free of pytest so the benchmark can use it too.
"""

from __future__ import annotations

from typing import Any

from fakes import huawei, qiniu, volcengine, yunpian
from fakes.aliyun import AliyunCredentials
from fakes.baidu import BaiduCredentials
from fakes.huawei import HuaweiCredentials
from fakes.ihuyi import IhuyiCredentials
from fakes.netease import NeteaseCredentials
from fakes.qiniu import QiniuCredentials
from fakes.ronglian import RonglianCredentials
from fakes.tencent import TencentCredentials
from fakes.tencent_voice import TencentVoiceCredentials
from fakes.volcengine import VolcengineCredentials
from fakes.yunpian import YunpianCredentials

ALIYUN = AliyunCredentials()
TENCENT = TencentCredentials()
RONGLIAN = RonglianCredentials()
IHUYI = IhuyiCredentials()
HUAWEI = HuaweiCredentials()
VOLCENGINE = VolcengineCredentials()
BAIDU = BaiduCredentials()
QINIU = QiniuCredentials()
YUNPIAN = YunpianCredentials()
NETEASE = NeteaseCredentials()
TENCENT_VOICE = TencentVoiceCredentials()

TEMPLATES: dict[str, Any] = {
    "aliyun": {"captcha": "SMS_153055065", "notice": {"id": "SMS_200", "params": ["name"]}},
    "tencent": {
        "captcha": {"id": "5750123", "params": ["code", "minutes"]},
        "notice": {"id": "200", "params": ["name"]},
    },
    "ronglian": {"captcha": {"id": "1", "params": ["code", "minutes"]}, "notice": {"id": "2", "params": ["name"]}},
    "ihuyi": {"captcha": "您的验证码是:{code}。请不要把验证码泄露给其他人。", "notice": "{name}，您好"},
    "huawei": {
        "captcha": {"id": "8ff55eac1d0b478ab3c06c3c6a492300", "params": ["code", "minutes"]},
        "notice": {"id": "2e8a3f0c9b7d4e6f8a1b2c3d4e5f6a7b", "params": ["name"]},
    },
    "volcengine": {
        "captcha": {"id": "ST_7d2a1b3c", "params": ["code", "minutes"]},
        "notice": {"id": "ST_7d2a1b3d", "params": ["name"]},
    },
    "baidu": {
        "captcha": {"id": "sms-tmpl-wHoJXL09355", "params": ["code", "minutes"]},
        "notice": {"id": "sms-tmpl-wHoJXL09356", "params": ["name"]},
    },
    "qiniu": {
        "captcha": {"id": "1374401547327758336", "params": ["code", "minutes"]},
        "notice": {"id": "1374401547327758337", "params": ["name"]},
    },
    "yunpian": {
        "captcha": "【云片测试】您的验证码是{code}，{minutes}分钟内有效。",
        "notice": "【云片测试】{name}，您好",
    },
    "netease": {
        "captcha": {"id": "19000001", "params": ["code", "minutes"]},
        "notice": {"id": "19000002", "params": ["name"]},
    },
}

#: voice templates (Aliyun TTS codes; Tencent and Ronglian read out the bare code)
VOICE_TEMPLATES: dict[str, Any] = {"aliyun": {"captcha": {"id": "TTS_171115079", "params": ["code"]}}}

#: how each voice vendor is pointed at a port nothing listens on
VOICE_CLOSED = {
    "aliyun": lambda port: {"SMS_ALIYUN_VOICE_ENDPOINT": f"127.0.0.1:{port}"},
    "tencent": lambda port: {"SMS_TENCENT_VOICE_ENDPOINT": f"127.0.0.1:{port}"},
    "ronglian": lambda port: {"SMS_RONGLIAN_VOICE_BASE_URL": f"http://127.0.0.1:{port}"},
}

#: international templates (a mainland template of theirs cannot text numbers abroad); the Huawei, Volcengine,
#: Qiniu and Yunpian kits know these ids as the account's international ones
INTL_TEMPLATES: dict[str, Any] = {
    "aliyun": {"captcha": "SMS_INTL_9001", "notice": {"id": "SMS_INTL_9002", "params": ["name"]}},
    "tencent": {
        "captcha": {"id": "9001", "params": ["code", "minutes"]},
        "notice": {"id": "9002", "params": ["name"]},
    },
    **{
        vendor: {
            "captcha": {"id": ids[0], "params": ["code", "minutes"]},
            "notice": {"id": ids[1], "params": ["name"]},
        }
        for vendor, ids in (
            ("huawei", huawei.INTL_TEMPLATE_IDS),
            ("volcengine", volcengine.INTL_TEMPLATE_IDS),
            ("qiniu", qiniu.INTL_TEMPLATE_IDS),
        )
    },
    "yunpian": {"captcha": yunpian.INTL_TEMPLATES[0], "notice": yunpian.INTL_TEMPLATES[1]},
}

#: every credential value the tests configure; none may ever be printed or logged
SECRET_VALUES = (
    ALIYUN.key_id,
    ALIYUN.secret,
    TENCENT.secret_id,
    TENCENT.secret_key,
    RONGLIAN.sid,
    RONGLIAN.token,
    IHUYI.account,
    IHUYI.api_key,
    HUAWEI.app_key,
    HUAWEI.app_secret,
    VOLCENGINE.access_key_id,
    VOLCENGINE.secret_access_key,
    BAIDU.access_key_id,
    BAIDU.secret_access_key,
    QINIU.access_key,
    QINIU.secret_key,
    YUNPIAN.api_key,
    NETEASE.app_key,
    NETEASE.app_secret,
)

#: each vendor's own credentials (an app masks those of the providers it uses)
VENDOR_SECRETS: dict[str, tuple[str, ...]] = {
    "aliyun": (ALIYUN.key_id, ALIYUN.secret),
    "tencent": (TENCENT.secret_id, TENCENT.secret_key),
    "ronglian": (RONGLIAN.sid, RONGLIAN.token),
    "ihuyi": (IHUYI.account, IHUYI.api_key),
    "huawei": (HUAWEI.app_key, HUAWEI.app_secret),
    "volcengine": (VOLCENGINE.access_key_id, VOLCENGINE.secret_access_key),
    "baidu": (BAIDU.access_key_id, BAIDU.secret_access_key),
    "qiniu": (QINIU.access_key, QINIU.secret_key),
    "yunpian": (YUNPIAN.api_key,),
    "netease": (NETEASE.app_key, NETEASE.app_secret),
}
assert sorted(value for values in VENDOR_SECRETS.values() for value in values) == sorted(SECRET_VALUES)


#: how each vendor is pointed at a port nothing listens on
CLOSED = {
    "aliyun": lambda port: {"SMS_ALIYUN_ENDPOINT": f"127.0.0.1:{port}"},
    "tencent": lambda port: {"SMS_TENCENT_ENDPOINT": f"127.0.0.1:{port}"},
    "ronglian": lambda port: {"SMS_RONGLIAN_BASE_URL": f"http://127.0.0.1:{port}"},
    "ihuyi": lambda port: {"SMS_IHUYI_URL": f"http://127.0.0.1:{port}/webservice/sms.php?method=Submit"},
    "huawei": lambda port: {"SMS_HUAWEI_ENDPOINT": f"http://127.0.0.1:{port}"},
    "volcengine": lambda port: {"SMS_VOLCENGINE_ENDPOINT": f"127.0.0.1:{port}"},
    "baidu": lambda port: {"SMS_BAIDU_ENDPOINT": f"127.0.0.1:{port}"},
    "qiniu": lambda port: {"SMS_QINIU_ENDPOINT": f"127.0.0.1:{port}"},
    "yunpian": lambda port: {"SMS_YUNPIAN_ENDPOINT": f"127.0.0.1:{port}"},
    "netease": lambda port: {"SMS_NETEASE_ENDPOINT": f"127.0.0.1:{port}"},
}


def vendor_config(base_url: str, host: str) -> dict[str, Any]:
    """``SMS_*`` keys for every vendor, every endpoint on the loopback fake."""
    return {
        "SMS_ALIYUN_ACCESS_KEY_ID": ALIYUN.key_id,
        "SMS_ALIYUN_ACCESS_KEY_SECRET": ALIYUN.secret,
        "SMS_ALIYUN_SIGN_NAME": "阿里云短信测试",
        "SMS_ALIYUN_TEMPLATES": TEMPLATES["aliyun"],
        "SMS_ALIYUN_INTL_TEMPLATES": INTL_TEMPLATES["aliyun"],
        "SMS_ALIYUN_ENDPOINT": host,
        "SMS_ALIYUN_SCHEME": "http",
        "SMS_TENCENT_SECRET_ID": TENCENT.secret_id,
        "SMS_TENCENT_SECRET_KEY": TENCENT.secret_key,
        "SMS_TENCENT_SDK_APP_ID": TENCENT.app_id,
        "SMS_TENCENT_SIGN_NAME": "腾讯云测试",
        "SMS_TENCENT_TEMPLATES": TEMPLATES["tencent"],
        "SMS_TENCENT_INTL_TEMPLATES": INTL_TEMPLATES["tencent"],
        "SMS_TENCENT_ENDPOINT": host,
        "SMS_TENCENT_SCHEME": "http",
        "SMS_RONGLIAN_ACCOUNT_SID": RONGLIAN.sid,
        "SMS_RONGLIAN_AUTH_TOKEN": RONGLIAN.token,
        "SMS_RONGLIAN_APP_ID": RONGLIAN.app_id,
        "SMS_RONGLIAN_TEMPLATES": TEMPLATES["ronglian"],
        "SMS_RONGLIAN_BASE_URL": base_url,
        "SMS_IHUYI_ACCOUNT": IHUYI.account,
        "SMS_IHUYI_API_KEY": IHUYI.api_key,
        "SMS_IHUYI_TEMPLATES": TEMPLATES["ihuyi"],
        "SMS_IHUYI_URL": f"{base_url}/webservice/sms.php?method=Submit",
        "SMS_HUAWEI_APP_KEY": HUAWEI.app_key,
        "SMS_HUAWEI_APP_SECRET": HUAWEI.app_secret,
        "SMS_HUAWEI_SENDER": HUAWEI.sender,
        "SMS_HUAWEI_TEMPLATES": TEMPLATES["huawei"],
        "SMS_HUAWEI_INTL_TEMPLATES": INTL_TEMPLATES["huawei"],
        "SMS_HUAWEI_ENDPOINT": base_url,
        "SMS_VOLCENGINE_ACCESS_KEY_ID": VOLCENGINE.access_key_id,
        "SMS_VOLCENGINE_SECRET_ACCESS_KEY": VOLCENGINE.secret_access_key,
        "SMS_VOLCENGINE_SMS_ACCOUNT": VOLCENGINE.sms_account,
        "SMS_VOLCENGINE_SIGN_NAME": "火山引擎测试",
        "SMS_VOLCENGINE_TEMPLATES": TEMPLATES["volcengine"],
        "SMS_VOLCENGINE_INTL_TEMPLATES": INTL_TEMPLATES["volcengine"],
        "SMS_VOLCENGINE_ENDPOINT": host,
        "SMS_VOLCENGINE_SCHEME": "http",
        "SMS_BAIDU_ACCESS_KEY_ID": BAIDU.access_key_id,
        "SMS_BAIDU_SECRET_ACCESS_KEY": BAIDU.secret_access_key,
        "SMS_BAIDU_SIGNATURE_ID": BAIDU.signature_id,
        "SMS_BAIDU_TEMPLATES": TEMPLATES["baidu"],
        "SMS_BAIDU_ENDPOINT": host,
        "SMS_BAIDU_SCHEME": "http",
        "SMS_QINIU_ACCESS_KEY": QINIU.access_key,
        "SMS_QINIU_SECRET_KEY": QINIU.secret_key,
        "SMS_QINIU_TEMPLATES": TEMPLATES["qiniu"],
        "SMS_QINIU_INTL_TEMPLATES": INTL_TEMPLATES["qiniu"],
        "SMS_QINIU_ENDPOINT": host,
        "SMS_QINIU_SCHEME": "http",
        "SMS_YUNPIAN_API_KEY": YUNPIAN.api_key,
        "SMS_YUNPIAN_TEMPLATES": TEMPLATES["yunpian"],
        "SMS_YUNPIAN_INTL_TEMPLATES": INTL_TEMPLATES["yunpian"],
        "SMS_YUNPIAN_ENDPOINT": host,
        "SMS_YUNPIAN_SCHEME": "http",
        "SMS_NETEASE_APP_KEY": NETEASE.app_key,
        "SMS_NETEASE_APP_SECRET": NETEASE.app_secret,
        "SMS_NETEASE_TEMPLATES": TEMPLATES["netease"],
        "SMS_NETEASE_ENDPOINT": host,
        "SMS_NETEASE_SCHEME": "http",
        # the voice channel (on only when a test sets SMS_VOICE_PROVIDERS); credentials are the SMS ones
        "SMS_ALIYUN_VOICE_TEMPLATES": VOICE_TEMPLATES["aliyun"],
        "SMS_ALIYUN_VOICE_ENDPOINT": host,
        "SMS_TENCENT_VOICE_SDK_APP_ID": TENCENT_VOICE.voice_app_id,
        "SMS_TENCENT_VOICE_ENDPOINT": host,
        # vendor-checked codes (on only when a test sets SMS_CODE_BACKEND); credentials are the SMS ones
        "SMS_ALIYUN_PNVS_SIGN_NAME": "速通互联验证码",
        "SMS_ALIYUN_PNVS_TEMPLATE_CODE": "100001",
        "SMS_ALIYUN_PNVS_ENDPOINT": host,
        "SMS_VOLCENGINE_VERIFY_TEMPLATE_ID": "ST_otp_5e6f7a8b",  # a CN_OTP template (the rest: the SMS keys)
    }
