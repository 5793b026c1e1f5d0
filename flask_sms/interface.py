"""What the routes, the command line and the integrations need of ``SmsExtension``, as a ``Protocol``.

``blueprint.py``, ``receipt_views.py``, ``cli.py`` and ``contrib/`` find the extension in
``app.extensions["sms"]`` and see it through :class:`SmsInterface`, so none of them imports
``extension.py`` (which imports them to register them): calls go one way, and the imports have
no cycle, not even one for types only. ``extension.py`` checks that ``SmsExtension`` fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app

if TYPE_CHECKING:
    from flask import Flask

    from .clock import TimeSource
    from .config import Settings
    from .flow import CodeFlow, CodeSent, Verification
    from .guard_books import Decision
    from .phones import PhoneInput
    from .receipts import Receipts
    from .results import SendResult


class SmsInterface(Protocol):
    """The part of :class:`~flask_sms.SmsExtension` that flask_sms's own views, commands and integrations use."""

    @property
    def clock(self) -> TimeSource: ...

    @property
    def codes(self) -> CodeFlow: ...

    @property
    def receipts(self) -> Receipts: ...

    def check(self, app: Flask | None = None) -> Settings: ...

    def send(
        self,
        phones: PhoneInput | Iterable[PhoneInput],
        purpose: str,
        params: Mapping[str, Any] | None = None,
        *,
        out_id: str | None = None,
        idempotent: bool = False,
        channel: str = "sms",
    ) -> SendResult: ...

    def send_code(
        self,
        phone: str,
        purpose: str | None = None,
        *,
        client_ip: str | None = None,
        channel: str = "sms",
        challenge: Mapping[str, str] | None = None,
    ) -> CodeSent: ...

    def send_external_code(
        self,
        phone: str,
        code: str,
        *,
        purpose: str,
        client_ip: str | None = None,
        challenge: Mapping[str, str] | None = None,
    ) -> CodeSent: ...

    def verify_code(
        self,
        phone: str,
        code: str,
        purpose: str | None = None,
        *,
        client_ip: str | None = None,
        nonce: str | None = None,
        challenge: Mapping[str, str] | None = None,
    ) -> Verification: ...

    def guard_status(self, app: Flask | None = None) -> list[Decision]: ...


def current_sms() -> SmsInterface:
    """The current app's extension, ``app.extensions["sms"]`` (``KeyError`` when the app has none)."""
    extension: SmsInterface = current_app.extensions["sms"]
    return extension
