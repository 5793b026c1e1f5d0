"""Verification tokens: the server-checkable proof that a phone number was just verified.

``POST /sms_captcha/verify`` hands one to the browser; the app's next view (set a
password, finish signing up) redeems it with ``sms.redeem_token``. A token is the
E.164 phone, the purpose, an expiry time, a random id and its audience
(``SMS_TOKEN_AUDIENCE``, default the app's import name), signed with itsdangerous
(HMAC-SHA256) under a key derived from ``SECRET_KEY`` (never the key itself, so a
token can never be mistaken for a session cookie or a code HMAC). The audience binds
a token to the app that minted it: a staging app or a second app that shares
``SECRET_KEY`` (and so could sign the same bytes) mints tokens the others refuse;
each app keeps its own record of redeemed ids, so without it one token would
redeem once in each.
It is signed, not encrypted: it shows the phone to whoever holds it (the browser
that just typed that number in). Single use is kept by the flow, which stores
the id of each redeemed token in the code storage until the token expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

_KEY_CONTEXT = b"flask_sms verification token v1"
_SALT = "flask_sms.verification-token"
#: longer than any token we issue (about 150 characters); longer input is refused before any work
MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True)
class TokenClaim:
    """What a token with a good signature, minted for this audience, says."""

    phone: str
    purpose: str
    expires: float
    token_id: str


class TokenSigner:
    """Signs and reads the tokens of one audience; knows nothing of clocks or storage (the flow
    decides expiry and single use)."""

    def __init__(self, secret_key: bytes, audience: str) -> None:
        key = hmac.new(secret_key, _KEY_CONTEXT, hashlib.sha256).digest()
        self._serializer = URLSafeSerializer(key, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256})
        self.audience = audience

    def dumps(self, phone: str, purpose: str, expires: float) -> str:
        return str(self._serializer.dumps([phone, purpose, expires, secrets.token_urlsafe(16), self.audience]))

    def loads(self, token: object) -> TokenClaim | None:
        """The claim of a token signed by us for this audience, or ``None`` (forged, altered, malformed,
        not a string, or minted for another audience)."""
        if not isinstance(token, str) or not _plausible_length(token):
            return None
        try:
            payload: Any = self._serializer.loads(token)
        except (BadData, ValueError, TypeError, RecursionError):
            return None
        if not _well_formed(payload) or payload[4] != self.audience:
            return None
        return TokenClaim(payload[0], payload[1], float(payload[2]), payload[3])


def _plausible_length(token: str) -> bool:
    """Non-empty and no longer than any token we issue, so oversized input costs no HMAC work."""
    return 0 < len(token) <= MAX_TOKEN_LENGTH


def _well_formed(payload: Any) -> bool:
    """``[phone, purpose, expires, id, audience]`` with the types we signed, so a claim is never built from odd data."""
    if not isinstance(payload, list) or len(payload) != 5:
        return False
    phone, purpose, expires, token_id, audience = payload
    texts_ok = all(isinstance(item, str) for item in (phone, purpose, token_id, audience))
    return texts_ok and isinstance(expires, (int, float)) and not isinstance(expires, bool)
