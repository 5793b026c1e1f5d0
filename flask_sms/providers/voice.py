"""What every voice provider shares: a call that reads a code out, configured next to the vendor's SMS keys.

A voice provider is a :class:`~.base.Provider` like any other (format, build, call,
parse, classify), so the sender's failover, outcomes and circuit breaker apply to
calls unchanged. Each vendor's voice class lives in that vendor's module, next to
its SMS class, and shares its client, signing and error handling.

Its keys are read as ``SMS_<NAME>_VOICE_<KEY>``: ``options`` are the voice keys of
its own (declared once, on the voice class); ``shared_options`` are the vendor's SMS
keys (credentials, region, scheme) a voice key falls back to when unset, so one
account serves both and a voice-only RAM user needs only its own two keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from phonenumbers import PhoneNumber

from ..errors import SmsError
from ..options import Option
from ..phones import is_mainland
from .base import Provider, RawT, RequestT
from .payload import Payload, Template

#: the longest code a vendor reads out (Ronglian's verifyCode: 4-8 characters)
MAX_VOICE_CODE_LENGTH = 8


class VoiceProvider(Provider[RequestT, RawT]):
    """A provider whose "message" is a phone call that reads the code out."""

    #: the vendor's SMS options a voice key falls back to: ``SMS_<NAME>_VOICE_<KEY>``, else ``SMS_<NAME>_<KEY>``
    shared_options: ClassVar[tuple[Option, ...]] = ()
    # voice verification codes reach mainland numbers only: no INTL_TEMPLATES
    common_options: ClassVar[tuple[Option, ...]] = ()
    max_per_request = 1

    @classmethod
    def credentials(cls) -> tuple[str, ...]:
        """Its own secret keys and the vendor's shared ones: a voice-only key is masked like the SMS key."""
        return super().credentials() + tuple(option.name for option in cls.shared_options if option.secret)

    def format_phone(self, number: PhoneNumber) -> str | None:
        """Mainland numbers only (the vendors' voice codes call mainland China); others fail over."""
        return self.wire_number(number) if is_mainland(number) else None

    def wire_number(self, number: PhoneNumber) -> str:
        """A mainland number as this vendor's call API writes it."""
        return str(number.national_number)

    def render(self, purpose: str, template: Template, params: Mapping[str, Any]) -> Payload:
        """As for a text, and the ``code`` a call reads out must be 1 to 8 digits (checked before any call)."""
        payload = super().render(purpose, template, params)
        code = dict(payload.params).get("code")
        if code is not None and not (code.isascii() and code.isdigit() and 0 < len(code) <= MAX_VOICE_CODE_LENGTH):
            raise SmsError(f"a voice call reads out digits only: 'code' must be 1 to {MAX_VOICE_CODE_LENGTH} digits")
        return payload


def voice_code(payload: Payload) -> str:
    """The ``code`` of a payload (the vendors that read out a bare code: Tencent, Ronglian)."""
    return dict(payload.params).get("code", "")


#: the template of the vendors that read out a bare code: only ``code`` is picked (and is required)
CODE_ONLY = ("code",)


def shared(options: tuple[Option, ...], *names: str) -> tuple[Option, ...]:
    """The SMS class's own declarations of ``names``, in that order (each key is declared once)."""
    by_name = {option.name: option for option in options}
    return tuple(by_name[name] for name in names)
