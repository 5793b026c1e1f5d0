"""The public names are a decision: a new one in ``flask_sms.__all__`` or on ``SmsExtension`` fails here
until it is added to the lists below (and to the API reference and the changelog)."""

from __future__ import annotations

import pytest
from flask import Flask

import flask_sms
from flask_sms import CodeFlow, Receipts, SmsExtension

EXPORTED = {
    # the extension and sending outside a request
    "SmsExtension",
    "send_sms",
    "register_provider",
    # what the flow and the senders hand back
    "Attempt",
    "CodeFlow",
    "CodeSent",
    "DeliveryReport",
    "Receipts",
    "SendResult",
    "SmsMessage",
    "Verification",
    # errors: plain ones outside a request, HTTP ones from the flow and the routes
    "SmsError",
    "ConfigError",
    "SendError",
    "PhoneRejected",
    "DuplicateSend",
    "SmsHTTPError",
    "ChallengeFailed",
    "ChallengeRequired",
    "ChallengeUnavailable",
    "CrossSiteRequest",
    "FraudSuspected",
    "InvalidPhoneNumber",
    "InvalidRequest",
    "MissingParameter",
    "RateLimited",
    "RegionNotAllowed",
    "SendRefused",
    "StorageUnavailable",
    "UnknownPurpose",
    # signals
    "code_sent",
    "code_verified",
    "delivery_reported",
    "fraud_suspected",
    "provider_down",
    "provider_up",
    "sms_failed",
    "sms_sent",
    "verification_failed",
}

EXTENSION_MEMBERS = {
    "init_app",
    "check",
    "send",
    "send_code",
    "send_external_code",
    "verify_code",
    "redeem_token",
    "codes",
    "receipts",
    "clock",
    "blueprint",
    "before_send",
    "challenge_verifier",
    "locale_selector",
    "guard_status",
    "record_messages",
}

REMOVED = ["CaptchaError", "InvalidPhone", "InvalidPurpose", "SendFailed", "Forbidden"]


def test_all_lists_exactly_the_chosen_names() -> None:
    assert set(flask_sms.__all__) == EXPORTED
    assert len(flask_sms.__all__) == len(EXPORTED), "a name is listed twice in __all__"


def test_no_two_exported_names_are_the_same_object() -> None:
    seen: dict[int, str] = {}
    for name in flask_sms.__all__:
        obj = getattr(flask_sms, name)
        assert id(obj) not in seen, f"{name} is another name for {seen[id(obj)]}"
        seen[id(obj)] = name


@pytest.mark.parametrize("name", REMOVED)
def test_removed_aliases_are_gone(name: str) -> None:
    assert not hasattr(flask_sms, name)


def test_extension_keeps_at_most_sixteen_public_members() -> None:
    public = {name for name in dir(SmsExtension) if not name.startswith("_")}
    assert public == EXTENSION_MEMBERS
    assert len(public) <= 16


def test_codes_and_receipts_are_the_apps_flow_and_receipts() -> None:
    apps = []
    sms = SmsExtension()
    for name in ("one", "two"):
        app = Flask(name)
        app.config.update(SECRET_KEY=f"a-long-enough-key-{name}", SMS_PROVIDERS=["console"], SMS_RECEIPT_TOKEN="t" * 32)
        sms.init_app(app)
        apps.append(app)
    seen = []
    for app in apps:
        with app.app_context():
            assert isinstance(sms.codes, CodeFlow)
            assert isinstance(sms.receipts, Receipts)
            assert sms.codes is sms.codes
            seen.append((sms.codes, sms.receipts))
    assert seen[0][0] is not seen[1][0] and seen[0][1] is not seen[1][1]


def test_version_comes_from_the_installed_metadata() -> None:
    from importlib.metadata import version

    assert flask_sms.__version__ == version("Flask-SMS-Captcha")
