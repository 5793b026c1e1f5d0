"""Flask-Security-Too's own example app (SQLAlchemy models, unified sign-in), with its SMS sent by flask_sms.

Everything between the ``flask_sms glue`` markers is what adding flask_sms took; README's
"Adding flask_sms to an existing app" counts those lines (tests/integration/test_glue.py checks the count).
"""

from __future__ import annotations

import secrets

from flask import Flask
from flask_security import Security, SQLAlchemyUserDatastore, uia_email_mapper, uia_phone_mapper
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy

# --- flask_sms glue ---
from flask_sms import SmsExtension
from flask_sms.contrib.flask_security import FlaskSmsUserMixin

# --- end glue ---


def create_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SECURITY_PASSWORD_SALT=secrets.token_hex(16),
        SECURITY_PASSWORD_HASH="pbkdf2_sha512",
        SQLALCHEMY_DATABASE_URI="sqlite://",
        SECURITY_UNIFIED_SIGNIN=True,
        SECURITY_US_ENABLED_METHODS=["password", "sms"],
        SECURITY_USER_IDENTITY_ATTRIBUTES=[
            {"email": {"mapper": uia_email_mapper, "case_insensitive": True}},
            {"us_phone_number": {"mapper": uia_phone_mapper}},
        ],
        SECURITY_TOTP_SECRETS={"1": secrets.token_urlsafe(32)},
        SECURITY_TOTP_ISSUER="shop",
        WTF_CSRF_ENABLED=False,
        # --- flask_sms glue ---
        SECURITY_SMS_SERVICE="flask_sms",
        SECURITY_PHONE_REGION_DEFAULT="CN",
        # --- end glue ---
    )
    app.config.update(config)
    db = SQLAlchemy(app)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):  # type: ignore[name-defined,misc]
        pass

    # --- flask_sms glue ---
    class User(db.Model, FlaskSmsUserMixin, fsqla.FsUserMixin):  # type: ignore[name-defined,misc]
        # --- end glue ---
        pass

    app.security = Security(app, SQLAlchemyUserDatastore(db, User, Role))
    # --- flask_sms glue ---
    SmsExtension(app)
    # --- end glue ---
    with app.app_context():
        db.create_all()
    app.extensions["shop_db"] = db
    return app
