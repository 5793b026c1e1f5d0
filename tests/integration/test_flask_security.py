"""Flask-Security-Too's unified sign-in by SMS, through flask_sms: every limit of the flow applies to its codes."""

from __future__ import annotations

import pytest

pytest.importorskip("flask_security")

import security_app
from integration_helpers import inbox

PHONE = "+8613800138000"
JSON = {"Accept": "application/json"}


@pytest.fixture
def app():
    app = security_app.create_app(TESTING=True, SMS_DEV_INBOX=True, SMS_SUPPRESS_SEND=False)
    security = app.security
    with app.app_context():
        user = security.datastore.create_user(email="li@example.com", password="a long password", active=True)
        security.datastore.commit()
        totp = security._totp_factory.generate_totp_secret()
        security.datastore.us_set(user, "sms", totp_secret=totp, phone=PHONE)  # what /us-setup does
        security.datastore.commit()
    return app


def send_code(client):
    return client.post(
        "/us-signin/send-code", json={"identity": "li@example.com", "chosen_method": "sms"}, headers=JSON
    )


def test_sign_in_with_the_code_flask_sms_sent(app):
    client = app.test_client()
    assert send_code(client).status_code == 200
    (text,) = inbox(client)
    assert text["phone"] == PHONE and text["purpose"] == "login" and text["code"].isdigit()
    signed_in = client.post("/us-signin", json={"identity": "13800138000", "passcode": text["code"]}, headers=JSON)
    assert signed_in.status_code == 200, signed_in.get_json()  # the phone as identity, read with region CN
    with app.test_request_context():
        pass

    assert "session" in signed_in.headers.get("Set-Cookie", "")
    again = client.post("/us-signin", json={"identity": "13800138000", "passcode": text["code"]}, headers=JSON)
    assert again.status_code in (200, 400)


def test_six_clicks_send_one_text(app):
    """The attack: six clicks on "Send code" sent six texts; none of flask_sms's limits applied."""
    client = app.test_client()
    answers = [send_code(client) for _ in range(6)]
    assert answers[0].status_code == 200
    assert [answer.status_code for answer in answers[1:]] == [429] * 5  # the cool-down, as a werkzeug 429
    assert answers[1].get_json()["error"] == "rate_limited" and answers[1].headers["Retry-After"]
    assert len(inbox(client)) == 1


def test_without_the_mixin_flask_security_answers_its_own_error_and_still_one_text_goes_out():
    from flask_security import Security, SQLAlchemyUserDatastore
    from flask_security.models import fsqla_v3 as fsqla
    from flask_sqlalchemy import SQLAlchemy

    from flask_sms import SmsExtension

    app = security_app.create_app(TESTING=True, SMS_DEV_INBOX=True, SMS_SUPPRESS_SEND=False)
    plain = type(app)("plain_security")
    plain.config.update(app.config)
    db = SQLAlchemy(plain)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):
        pass

    class User(db.Model, fsqla.FsUserMixin):
        pass

    security = Security(plain, SQLAlchemyUserDatastore(db, User, Role))
    SmsExtension(plain)
    with plain.app_context():
        db.create_all()
        user = security.datastore.create_user(email="li@example.com", password="a long password", active=True)
        security.datastore.us_set(user, "sms", totp_secret=security._totp_factory.generate_totp_secret(), phone=PHONE)
        security.datastore.commit()
    client = plain.test_client()
    answers = [send_code(client).status_code for _ in range(3)]
    assert answers == [200, 500, 500]  # Flask-Security's "failed to send code" for the refusals
    assert len(inbox(client)) == 1


def test_the_sender_is_registered_and_a_pattern_that_finds_no_code_says_so(app):
    from flask_security import SmsSenderFactory

    from flask_sms import SmsError
    from flask_sms.contrib.flask_security import FlaskSmsSender, register

    register()
    assert SmsSenderFactory.senders["flask_sms"] is FlaskSmsSender
    other = security_app.create_app(TESTING=True, SMS_SECURITY_CODE_PATTERN=r"[A-Z]{8}")
    sender = SmsSenderFactory.createSender("flask_sms")
    with other.test_request_context(), pytest.raises(SmsError, match="SMS_SECURITY_CODE_PATTERN found no code") as e:
        sender.send_sms(from_number="", to_number=PHONE, msg="Use this code to sign in: 123456.")
    assert "123456" not in str(e.value)
