"""Human checks (``SMS_CHALLENGE``): the vendor's own server-side verification of a solved captcha.

The page solves the vendor's widget and sends what it got back as the send
request's ``challenge`` object; flask_sms asks the vendor whether it passed:

============  ==========================================================  =====================================
provider      the vendor's check                                           ``challenge`` object
============  ==========================================================  =====================================
``tencent``   Tencent Cloud Captcha ``DescribeCaptchaResult`` (2019-07-22)  ``ticket``, ``randstr``
              through ``tencentcloud-sdk-python-captcha``
``aliyun``    Aliyun Captcha 2.0 ``VerifyIntelligentCaptcha`` (2023-03-05)  ``captcha_verify_param``
              through aliyun-python-sdk-core's ``CommonRequest``
``geetest``   GeeTest v4 ``/validate``, ``sign_token`` = HMAC-SHA256(key,   ``lot_number``, ``captcha_output``,
              ``lot_number``)                                               ``pass_token``, ``gen_time``
``turnstile`` Cloudflare Turnstile ``siteverify``                           ``token``
============  ==========================================================  =====================================

A verifier answers True (passed) or False (the vendor said no); a vendor that
cannot be reached raises :class:`Unreachable`, and the flow refuses the
challenged request (fail closed). ``@sms.challenge_verifier`` puts a function
``(challenge, client_ip) -> bool`` of your own in place of the built-in one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .options import Invalid, as_mapping

#: ``(challenge, client_ip) -> bool``
ChallengeVerifier = Callable[[Mapping[str, str], str], bool]

#: provider -> (credential keys, other required keys, optional keys, the challenge object's fields)
PROVIDERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "tencent": (("secret_id", "secret_key", "app_secret_key"), ("captcha_app_id",), (), ("ticket", "randstr")),
    "aliyun": (("access_key_id", "access_key_secret"), (), ("scene_id",), ("captcha_verify_param",)),
    "geetest": (("captcha_key",), ("captcha_id",), (), ("lot_number", "captcha_output", "pass_token", "gen_time")),
    "turnstile": (("secret",), (), (), ("token",)),
}
DEFAULT_ENDPOINTS = {
    "tencent": "https://captcha.tencentcloudapi.com",
    "aliyun": "https://captcha.cn-shanghai.aliyuncs.com",
    "geetest": "https://gcaptcha4.geetest.com",
    "turnstile": "https://challenges.cloudflare.com",
}
MODES = ("adaptive", "always")


class Unreachable(Exception):
    """The vendor's check did not answer (or not readably): the human check cannot be decided."""


@dataclass(frozen=True)
class ChallengeSettings:
    """``SMS_CHALLENGE``, parsed: the provider, its options and where its check lives."""

    provider: str
    options: Mapping[str, str]
    endpoint: str

    @property
    def credentials(self) -> tuple[str, ...]:
        return tuple(self.options[key] for key in PROVIDERS[self.provider][0])

    @property
    def fields(self) -> tuple[str, ...]:
        return PROVIDERS[self.provider][3]


def challenge_settings(value: Any) -> ChallengeSettings | None:
    """``{"provider": "turnstile", "secret": "...", "endpoint": "https://..." (optional)}``, or ``None``."""
    value = as_mapping(value)
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("provider") not in PROVIDERS:
        raise Invalid(f"must be a mapping with a 'provider' ({', '.join(PROVIDERS)}) and its keys", show_value=False)
    provider = str(value["provider"])
    credentials, required, optional, _ = PROVIDERS[provider]
    endpoint = str(value.get("endpoint") or DEFAULT_ENDPOINTS[provider]).rstrip("/")
    problems = _challenge_problems(provider, value, endpoint)
    if problems:
        raise Invalid(*problems, show_value=False)
    options = {key: str(value[key]) for key in credentials + required + optional if value.get(key) not in (None, "")}
    return ChallengeSettings(provider, options, endpoint)


def _challenge_problems(provider: str, value: Mapping[str, Any], endpoint: str) -> list[str]:
    credentials, required, optional, _ = PROVIDERS[provider]
    missing = [key for key in credentials + required if not isinstance(value.get(key), (str, int)) or value[key] == ""]
    unknown = sorted(set(value) - {"provider", "endpoint", *credentials, *required, *optional})
    problems = [f"for {provider!r} needs {', '.join(repr(key) for key in missing)}"] if missing else []
    problems += [f"has unknown keys {unknown} for {provider!r}"] if unknown else []
    where = urlsplit(endpoint)
    if where.scheme not in ("http", "https") or not where.netloc:
        problems.append("'endpoint' must be a URL such as 'https://host'")
    return problems


def read_challenge(value: Any) -> dict[str, str] | None:
    """The ``challenge`` object of a request: a flat mapping of short strings (a form post sends it as JSON);
    ``None`` when there is none, ``{}`` when it is malformed."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, Mapping) or not 0 < len(value) <= 16 or not all(map(_short_field, value.items())):
        return {}
    return {key: str(item) for key, item in value.items()}


def _short_field(item: tuple[Any, Any]) -> bool:
    key, value = item
    return (
        isinstance(key, str)
        and isinstance(value, (str, int))
        and not isinstance(value, bool)
        and len(str(value)) <= 4096
    )


# -- the built-in verifiers ---------------------------------------------------------------------------
class Verifier:
    """One vendor's server-side check; built once per app."""

    #: the loggers its SDK (or its HTTP stack) writes to: their records are masked
    sdk_loggers: tuple[str, ...] = ("urllib3.connectionpool",)

    def __init__(self, settings: ChallengeSettings, timeout: float, proxy: str | bool | None) -> None:
        from .providers.base import choose_proxy

        self.settings = settings
        self.options = settings.options
        self.timeout = timeout
        self.proxy = choose_proxy(settings.endpoint + "/", proxy)

    def __call__(self, challenge: Mapping[str, str], client_ip: str) -> bool:
        if any(not challenge.get(field) for field in self.settings.fields):
            return False
        return self.check(challenge, client_ip)

    def check(self, challenge: Mapping[str, str], client_ip: str) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _post(self, url: str, data: Mapping[str, str]) -> Any:
        import requests

        from .providers.base import proxies_mapping

        try:
            proxies: Any = proxies_mapping(self.proxy)  # None values: a direct connection, as requests reads them
            reply = requests.post(url, data=data, timeout=self.timeout, proxies=proxies)
        except requests.RequestException as exc:
            raise Unreachable(type(exc).__name__) from None
        if reply.status_code >= 500:
            raise Unreachable(f"http_{reply.status_code}")
        try:
            return reply.json()
        except ValueError:
            raise Unreachable("bad_reply") from None


class TurnstileVerifier(Verifier):
    """``POST /turnstile/v0/siteverify`` with ``secret``, ``response`` and ``remoteip``; passed when ``success``."""

    def check(self, challenge: Mapping[str, str], client_ip: str) -> bool:
        body = self._post(
            self.settings.endpoint + "/turnstile/v0/siteverify",
            {"secret": self.options["secret"], "response": challenge["token"], "remoteip": client_ip},
        )
        if not isinstance(body, dict) or "success" not in body:
            raise Unreachable("bad_reply")
        return body["success"] is True


class GeetestVerifier(Verifier):
    """``POST /validate?captcha_id=`` with the four fields and ``sign_token``; passed when ``result`` is success."""

    def check(self, challenge: Mapping[str, str], client_ip: str) -> bool:
        key = self.options["captcha_key"].encode()
        sign = hmac.new(key, challenge["lot_number"].encode(), hashlib.sha256).hexdigest()
        fields = {name: challenge[name] for name in self.settings.fields}
        url = f"{self.settings.endpoint}/validate?captcha_id={self.options['captcha_id']}"
        body = self._post(url, {**fields, "sign_token": sign})
        if not isinstance(body, dict) or body.get("status") != "success":
            raise Unreachable(f"status {body.get('status') if isinstance(body, dict) else None!r}")
        return body.get("result") == "success"


class TencentVerifier(Verifier):
    """``DescribeCaptchaResult`` through the official SDK; passed when ``CaptchaCode`` is 1."""

    sdk_loggers = ("tencentcloud_sdk_common", "urllib3.connectionpool")

    def __init__(self, settings: ChallengeSettings, timeout: float, proxy: str | bool | None) -> None:
        super().__init__(settings, timeout, proxy)
        from tencentcloud.captcha.v20190722.captcha_client import CaptchaClient
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        where = urlsplit(settings.endpoint)
        profile = HttpProfile(protocol=where.scheme, endpoint=where.netloc, reqTimeout=timeout, proxy=self.proxy or "")
        self.client = CaptchaClient(
            Credential(self.options["secret_id"], self.options["secret_key"]), "", ClientProfile(httpProfile=profile)
        )

    def check(self, challenge: Mapping[str, str], client_ip: str) -> bool:
        from tencentcloud.captcha.v20190722.models import DescribeCaptchaResultRequest
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        request = DescribeCaptchaResultRequest()
        request.CaptchaType = 9
        request.Ticket = challenge["ticket"]
        request.Randstr = challenge["randstr"]
        request.UserIp = client_ip
        request.CaptchaAppId = int(self.options["captcha_app_id"])
        request.AppSecretKey = self.options["app_secret_key"]
        try:
            reply = self.client.DescribeCaptchaResult(request)
        except TencentCloudSDKException as exc:
            raise Unreachable(str(exc.get_code())) from None
        return getattr(reply, "CaptchaCode", None) == 1


class AliyunVerifier(Verifier):
    """``VerifyIntelligentCaptcha`` through ``CommonRequest``; passed when ``Result.VerifyResult`` is true."""

    sdk_loggers = (
        "aliyunsdkcore.client",
        "aliyunsdkcore.http.http_response",
        "aliyunsdkcore.auth.signers.access_key_signer",
        "aliyunsdkcore.vendored.requests.packages.urllib3.connectionpool",
    )

    def __init__(self, settings: ChallengeSettings, timeout: float, proxy: str | bool | None) -> None:
        super().__init__(settings, timeout, proxy)
        from aliyunsdkcore.client import AcsClient

        from .providers.base import proxies_mapping

        self.client = AcsClient(
            self.options["access_key_id"],
            self.options["access_key_secret"],
            "cn-shanghai",
            auto_retry=False,
            max_retry_time=0,
            timeout=timeout,
            connect_timeout=timeout,
            proxy=proxies_mapping(self.proxy),
        )

    def check(self, challenge: Mapping[str, str], client_ip: str) -> bool:
        from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
        from aliyunsdkcore.request import CommonRequest

        where = urlsplit(self.settings.endpoint)
        request = CommonRequest()
        request.set_domain(where.netloc)
        request.set_protocol_type(where.scheme)
        request.set_version("2023-03-05")
        request.set_action_name("VerifyIntelligentCaptcha")
        request.set_method("POST")
        request.set_accept_format("json")
        request.add_query_param("CaptchaVerifyParam", challenge["captcha_verify_param"])
        if self.options.get("scene_id"):
            request.add_query_param("SceneId", self.options["scene_id"])
        try:
            body = json.loads(self.client.do_action_with_exception(request))
        except (ServerException, ClientException, ValueError) as exc:
            raise Unreachable(type(exc).__name__) from None
        result = body.get("Result") if isinstance(body, dict) else None
        return isinstance(result, dict) and result.get("VerifyResult") is True


VERIFIERS: dict[str, type[Verifier]] = {
    "tencent": TencentVerifier,
    "aliyun": AliyunVerifier,
    "geetest": GeetestVerifier,
    "turnstile": TurnstileVerifier,
}


def sdk_problem(settings: ChallengeSettings | None) -> str | None:
    """The vendor SDK a built-in verifier needs, when it is not installed."""
    if settings is None:
        return None
    needs = {
        "tencent": ("tencentcloud.captcha", "Flask-SMS-Captcha[tencent_captcha]"),
        "aliyun": ("aliyunsdkcore", "Flask-SMS-Captcha[aliyun]"),
    }
    if settings.provider not in needs:
        return None
    import importlib.util

    module, extra = needs[settings.provider]
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    return None if found else f'SMS_CHALLENGE provider {settings.provider!r} needs pip install "{extra}"'


def mask_credentials(settings: ChallengeSettings) -> None:
    """Mask ``SMS_CHALLENGE``'s credentials in every log, and guard its SDK's loggers (before it is built)."""
    from . import _redact

    _redact.register(*settings.credentials)
    _redact.guard_loggers(*VERIFIERS[settings.provider].sdk_loggers, sdk=True)


def build_verifier(settings: ChallengeSettings, timeout: float, proxy: str | bool | None) -> Verifier:
    """The built-in verifier for ``SMS_CHALLENGE`` (:func:`mask_credentials` first)."""
    return VERIFIERS[settings.provider](settings, timeout, proxy)


class VerifierChain(Sequence[ChallengeVerifier]):
    """An app's verifiers: ``SMS_CHALLENGE``'s built-in one, then every ``@sms.challenge_verifier`` (the
    extension's list, shared by reference, so one registered later applies). The flow uses the last."""

    def __init__(self, builtin: ChallengeVerifier | None, custom: list[ChallengeVerifier]) -> None:
        self.builtin = builtin
        self.custom = custom

    def _all(self) -> list[ChallengeVerifier]:
        return ([self.builtin] if self.builtin is not None else []) + self.custom

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())
