"""The send answer's ``nonce``: proof, at verify, that this client asked for the code it types.

A nonce names the code it came with by that code's expiry time (what the code
store keeps next to the code's HMAC) and is signed with a key derived from
``SECRET_KEY``, so nothing is stored for it. A verify that echoes the nonce of
the live code is its owner's: it has ``SMS_MAX_ATTEMPTS`` guesses and is told
when its code expired. Any other verify is a stranger's: its wrong guesses go
against a separate, smaller budget per phone that never kills the owner's code,
and it gets the same answer whether or not the phone has a live code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_MAC_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class NonceSigner:
    def __init__(self, secret_key: bytes) -> None:
        self.key = hmac.new(secret_key, b"flask_sms send nonce v1", hashlib.sha256).digest()

    def _mac(self, purpose: str, phone: str, expires: str) -> bytes:
        message = f"{purpose}\x00{phone}\x00{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def make(self, purpose: str, phone: str, expires: float) -> str:
        """The nonce of the code for ``phone`` and ``purpose`` that expires at ``expires``."""
        stamp = repr(expires)
        return f"{_b64(stamp.encode())}.{_b64(self._mac(purpose, phone, stamp))}"

    def read(self, nonce: object, purpose: str, phone: str) -> float | None:
        """The expiry of the code a good nonce names; ``None`` for anything else (forged, another phone)."""
        if not isinstance(nonce, str) or nonce.count(".") != 1 or len(nonce) > 128:
            return None
        stamp_part, mac_part = nonce.split(".")
        try:
            stamp = _unb64(stamp_part).decode("ascii")
            mac = _unb64(mac_part)
            expires = float(stamp)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(mac, self._mac(purpose, phone, stamp)):
            return None
        return expires
