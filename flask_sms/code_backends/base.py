"""The seam every vendor-checked code backend fills in: send a code the vendor makes, then ask it whether one is right.

A backend is a :class:`~flask_sms.providers.Provider` for its send (build, call, parse,
classify: the sender's outcomes, circuit breaker, signals and log masking apply to it as to
any text) plus :meth:`CodeBackend.check`. It is the only "provider" of the flow's texts
while it is on: a code the vendor made cannot fail over to another vendor, which would not
know it. Each backend is one module in this package (``aliyun_pnvs``, ``volcengine``), its
keys ``SMS_<VENDOR>_<LABEL>_*``, its credentials falling back to the vendor's SMS keys.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from ..errors import SmsError
from ..options import Option
from ..phones import is_mainland
from ..providers.base import Provider, RawT, RequestT
from ..providers.payload import Payload, Template


class CheckUnavailable(SmsError):
    """The vendor could not say whether the code is right (unreachable, refused, an unreadable answer): never a pass."""


class CodeBackend(Provider[RequestT, RawT]):
    """A vendor that makes the code, texts it with its own sign and template, and checks it."""

    #: the name in ``SMS_CODE_BACKEND``
    backend: ClassVar[str]
    #: the vendor whose SMS keys the credentials fall back to (``SMS_<VENDOR>_*``)
    vendor: ClassVar[str]
    #: the backend's own keys are ``SMS_<VENDOR>_<LABEL>_*``
    label: ClassVar[str]
    #: the vendor's SMS options a key falls back to: ``SMS_<VENDOR>_<LABEL>_<KEY>``, else ``SMS_<VENDOR>_<KEY>``
    shared_options: ClassVar[tuple[Option, ...]] = ()
    common_options: ClassVar[tuple[Option, ...]] = ()
    max_per_request = 1
    needs_templates = False
    #: the code lengths the vendor makes, the code lifetimes (seconds) it takes, the wrong tries it allows
    code_lengths: ClassVar[tuple[int, ...]] = (4, 5, 6, 7, 8)
    code_ttls: ClassVar[range] = range(1, 86401)
    most_attempts: ClassVar[int] = 100
    #: whether the vendor keeps a code per purpose (Volcengine's ``Scene``); if not (Aliyun keeps one per
    #: number), a new code for any purpose replaces the live one, and the flow keeps one per number too
    codes_per_purpose: ClassVar[bool] = False

    def __init__(self, settings: Mapping[str, Any], timeout: float) -> None:
        super().__init__(settings, timeout)
        #: the flow's SMS_CODE_LENGTH, SMS_CODE_TTL, SMS_RESEND_INTERVAL and SMS_MAX_ATTEMPTS, which the vendor is told
        self.code_length: int = settings["CODE_LENGTH"]
        self.ttl: int = settings["CODE_TTL"]
        self.interval: int = settings["RESEND_INTERVAL"]
        self.max_attempts: int = settings["MAX_ATTEMPTS"]

    def template_for(self, purpose: str, international: bool = False) -> Template:
        return Template(purpose, ())  # the vendor's own sign and template, whatever the purpose

    def render(self, purpose: str, template: Template, params: Mapping[str, Any]) -> Payload:
        return Payload(template)  # no code: the vendor makes it

    def format_phone(self, number: PhoneNumber) -> str | None:
        """Mainland numbers, national digits (the vendors' system signs and templates serve mainland China)."""
        return str(number.national_number) if is_mainland(number) else None

    @property
    def minutes(self) -> int:
        return max(1, self.ttl // 60)

    @abstractmethod
    def check(self, number: PhoneNumber, purpose: str, code: str) -> str:
        """``"ok"`` when ``code`` is the live code the vendor sent ``number`` for ``purpose``, else the failure's
        error code (``invalid_code``, or ``code_expired`` when the vendor says so); raise
        :class:`CheckUnavailable` when it cannot say. The caller has counted the attempt already and uses the
        code up on ``"ok"``."""
