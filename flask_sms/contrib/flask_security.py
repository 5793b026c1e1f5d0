"""Flask-Security-Too's SMS codes (two-factor and unified sign-in) through flask_sms.

Flask-Security-Too makes its codes itself and checks them itself; it hands each text
to a sender class named by ``SECURITY_SMS_SERVICE``. :class:`FlaskSmsSender`, registered
as ``"flask_sms"``, sends it with :meth:`SmsExtension.send_external_code
<flask_sms.SmsExtension.send_external_code>`: under ``SMS_SECURITY_PURPOSE`` (default
``"login"``), through the vendors' templates (Chinese vendors send templates, not free
text: the code is taken out of Flask-Security's message with
``SMS_SECURITY_CODE_PATTERN``), and under every limit of flask_sms's own flow. A refusal
reaches Flask-Security as the matching werkzeug HTTP error (``RateLimited`` is a 429).
Flask-Security's ``UserMixin.us_send_security_token`` / ``tf_send_security_token`` turn
any error of a sender into their generic "failed to send code" (a 500 for JSON clients);
mix :class:`FlaskSmsUserMixin` into the User model, before Flask-Security's mixin, to let
the refusal answer the client as itself (429 with ``Retry-After``, 403, ...).

``SmsExtension.init_app`` registers the sender when Flask-Security-Too is installed;
:func:`register` does it by hand.
"""

from __future__ import annotations

from typing import Any

from flask import g

from ..errors import SmsError, SmsHTTPError
from ..interface import current_sms

#: ``SECURITY_SMS_SERVICE = "flask_sms"``
SERVICE = "flask_sms"

try:
    from flask_security import SmsSenderBaseClass, SmsSenderFactory
except ImportError:  # pragma: no cover - the module is imported only where Flask-Security-Too is installed
    SmsSenderBaseClass = object  # type: ignore[assignment,misc]
    SmsSenderFactory = None  # type: ignore[assignment,misc]


class FlaskSmsSender(SmsSenderBaseClass):
    """Flask-Security-Too's SMS sender: each code goes out through flask_sms, limited like flask_sms's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # Flask-Security passes nothing today
        super().__init__()

    def send_sms(self, from_number: str, to_number: str, msg: str) -> None:
        """Send the code in ``msg`` to ``to_number`` (E.164, as Flask-Security writes it); ``from_number`` is not
        used: Chinese vendors send from the account's sign name."""
        sms = current_sms()
        captcha = sms.check().captcha
        if captcha is None:
            raise SmsError("flask_sms sends Flask-Security's codes through its flow: keep SMS_ENABLE_CAPTCHA on")
        found = captcha.security_code_pattern.search(msg)
        if found is None:  # never say the message: it may hold a code in another form
            raise SmsError(
                "SMS_SECURITY_CODE_PATTERN found no code in Flask-Security's message; set it to match "
                f"the code in SECURITY_MSG_USE_CODE (pattern: {captcha.security_code_pattern.pattern!r})"
            )
        try:
            sms.send_external_code(to_number, found.group(0), purpose=captcha.security_purpose)
        except SmsHTTPError as refusal:
            g.flask_sms_refusal = refusal  # for FlaskSmsUserMixin, past Flask-Security's catch-all
            raise


class FlaskSmsUserMixin:
    """Put before Flask-Security's user mixin: a refusal of flask_sms (``RateLimited``, ``SendRefused`` ...) answers
    the client as that HTTP error, instead of Flask-Security's "failed to send code"."""

    def us_send_security_token(self, method: str, **kwargs: Any) -> str | None:
        g.pop("flask_sms_refusal", None)
        message: str | None = super().us_send_security_token(method, **kwargs)  # type: ignore[misc]
        _raise_refusal()
        return message

    def tf_send_security_token(self, method: str, **kwargs: Any) -> str | None:
        g.pop("flask_sms_refusal", None)
        message: str | None = super().tf_send_security_token(method, **kwargs)  # type: ignore[misc]
        _raise_refusal()
        return message


def _raise_refusal() -> None:
    refusal = g.pop("flask_sms_refusal", None)
    if refusal is not None:
        raise refusal


def register() -> None:
    """Make ``SECURITY_SMS_SERVICE = "flask_sms"`` name :class:`FlaskSmsSender` (``init_app`` does this)."""
    if SmsSenderFactory is None:  # pragma: no cover
        raise SmsError("Flask-Security-Too is not installed: pip install Flask-Security-Too")
    SmsSenderFactory.senders[SERVICE] = FlaskSmsSender
