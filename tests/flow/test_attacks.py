"""The flow against the attacks of the security review: each test names the attack it reproduces.

Every test here failed on the code before the hardening (see the report of issue 10); the
cross-site refusal is also tested in real Chromium from a second origin (tests/browser/test_cross_site.py).
"""

from __future__ import annotations

import logging

import pytest
import redis
from flask import Flask, jsonify, request
from helpers import config_problems

from flask_sms import ConfigError, SmsExtension, StorageUnavailable

PHONE = "13800138000"
E164 = "+8613800138000"


def send(client, phone=PHONE, **kwargs):
    return client.post("/sms_captcha/", json={"phone": phone}, **kwargs)


def sent_code(app, client, phone=PHONE, **fields):
    with app.extensions["sms"].record_messages() as outbox:
        response = client.post("/sms_captcha/", json={"phone": phone, **fields})
    assert response.status_code == 200, response.get_json()
    return outbox[0].params["code"]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- cross-site sends --------------------------------------------------------------------------
CROSS_SITE = [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Origin": "https://evil.example"},  # a browser without Sec-Fetch-Site
    {"Sec-Fetch-Site": "same-site", "Origin": "https://shop.localhost"},  # a sibling subdomain, not listed
    {"Origin": "null"},  # a sandboxed frame or a file: page
    {"Sec-Fetch-Site": "cross-site"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_sends_are_refused_and_send_nothing(flow_app, headers):
    """The attack: a page on another origin used form and multipart posts to text the victim's phone."""
    app = flow_app(SMS_IP_LIMITS="20/hour")
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        as_form = client.post("/sms_captcha/", data={"phone": PHONE}, headers=headers)
        multipart = client.post(
            "/sms_captcha/", data={"phone": PHONE}, content_type="multipart/form-data", headers=headers
        )
    assert (as_form.status_code, as_form.get_json()["error"]) == (403, "forbidden")
    assert (multipart.status_code, multipart.get_json()["error"]) == (403, "forbidden")
    assert "another website" in as_form.get_json()["message"]
    assert outbox == []
    for _ in range(20):  # and no IP-limit hit was counted for the refused posts
        assert send(client, phone=f"1390013{_:04d}").status_code == 200


def test_cross_site_verifies_count_no_attempt(flow_app):
    """The attack: the same page posted wrong codes to lock the victim's code (too_many_attempts)."""
    app = flow_app()
    client = app.test_client()
    code = sent_code(app, client)
    for _ in range(10):
        refused = client.post(
            "/sms_captcha/verify",
            data={"phone": PHONE, "code": wrong(code)},
            headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        )
        assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["ok"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, server-to-server, the test client
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
        {"Origin": "http://localhost"},  # an older browser: the Origin is the app's own host
        {"Origin": "https://localhost"},  # behind a TLS proxy the app may see http: the host decides
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://www.example.com"},  # a proxy rewrote Host
        {"Sec-Fetch-Site": "none"},  # typed or bookmarked, no Origin
    ],
)
def test_same_origin_and_headerless_requests_still_work(flow_app, headers):
    app = flow_app()
    client = app.test_client()
    assert client.post("/sms_captcha/", data={"phone": PHONE}, headers=headers).status_code == 200


def test_allowed_origins_may_post_from_another_site(flow_app):
    app = flow_app(SMS_ALLOWED_ORIGINS=["https://m.example.cn"])
    client = app.test_client()
    listed = {"Sec-Fetch-Site": "cross-site", "Origin": "https://m.example.cn"}
    assert client.post("/sms_captcha/", json={"phone": PHONE}, headers=listed).status_code == 200
    other = {"Sec-Fetch-Site": "cross-site", "Origin": "https://m.example.cn.evil.example"}
    assert client.post("/sms_captcha/", json={"phone": "13900139000"}, headers=other).status_code == 403
    anyone = flow_app(SMS_ALLOWED_ORIGINS=["*"]).test_client()
    assert anyone.post("/sms_captcha/", json={"phone": PHONE}, headers=other).status_code == 200


def test_bad_allowed_origins_are_a_config_problem(flow_app):
    with pytest.raises(ConfigError, match="SMS_ALLOWED_ORIGINS"):
        flow_app(SMS_ALLOWED_ORIGINS=["https://example.com/login"])


def test_an_apps_own_views_get_the_routes_checks(flow_app):
    """The attack: an app's own view calling verify_code skipped SMS_VERIFY_IP_LIMITS (it lived in the route)."""
    app = flow_app(SMS_VERIFY_IP_LIMITS="3/hour")
    sms = app.extensions["sms"]

    @app.post("/login")
    def login():
        result = sms.verify_code(request.form["phone"], request.form["code"])
        return jsonify(ok=bool(result), error=result.reason), 200 if result else 400

    @app.post("/register/code")
    def register_code():
        sms.send_code(request.form["phone"])
        return jsonify(ok=True)

    client = app.test_client()
    for _ in range(3):
        assert client.post("/login", data={"phone": PHONE, "code": "123456"}).status_code == 400
    limited = client.post("/login", data={"phone": PHONE, "code": "123456"})
    assert limited.status_code == 429 and limited.get_json()["error"] == "rate_limited"
    assert "Retry-After" in limited.headers
    # the cross-site refusal too, for both methods
    evil = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    with sms.record_messages() as outbox:
        refused = client.post("/register/code", data={"phone": PHONE}, headers=evil)
    assert refused.status_code == 403 and outbox == []
    assert client.post("/login", data={"phone": PHONE, "code": "1"}, headers=evil).status_code == 403


# -- IPv6 ----------------------------------------------------------------------------------------
def test_ipv6_clients_are_counted_per_64_prefix(flow_app):
    """The attack: 100 addresses from one /64 got 100 texts; the IP limit counted single IPv6 addresses."""
    app = flow_app(SMS_IP_LIMITS="20/hour")
    client = app.test_client()
    statuses = []
    with app.extensions["sms"].record_messages() as outbox:
        for index in range(100):
            address = f"2001:db8:1:2:{index:x}:{index * 7:x}:1:{index + 1:x}"
            statuses.append(send(client, f"1390013{index:04d}", environ_base={"REMOTE_ADDR": address}).status_code)
    assert statuses == [200] * 20 + [429] * 80
    assert len(outbox) == 20
    other = send(client, "13700137000", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})  # the next /64
    assert other.status_code == 200


def test_ipv6_prefix_is_configurable_and_verify_limits_use_it(flow_app):
    app = flow_app(SMS_IPV6_PREFIX=56, SMS_VERIFY_IP_LIMITS="2/hour")
    client = app.test_client()
    verify = [
        client.post(
            "/sms_captcha/verify",
            json={"phone": PHONE, "code": "123456"},
            environ_base={"REMOTE_ADDR": f"2001:db8:0:{index:x}::9"},  # three /64s inside one /56
        ).status_code
        for index in range(3)
    ]
    assert verify == [400, 400, 429]


def test_ipv4_mapped_ipv6_counts_as_its_ipv4_address(flow_app):
    app = flow_app(SMS_IP_LIMITS="1/hour")
    client = app.test_client()
    assert send(client, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
    assert send(client, "13900139000", environ_base={"REMOTE_ADDR": "::ffff:203.0.113.9"}).status_code == 429


# -- bodies ----------------------------------------------------------------------------------------
def test_deeply_nested_json_is_a_400_not_a_503(flow_app, caplog):
    """The attack: a 2 KB body nested ~990 levels raised RecursionError, logged a traceback, answered 503."""
    app = flow_app()
    client = app.test_client()
    body = "[" * 990 + "]" * 990
    assert len(body) < 2048
    with caplog.at_level(logging.WARNING):
        for path in ("/sms_captcha/", "/sms_captcha/verify"):
            response = client.post(path, data=body, content_type="application/json")
            assert response.status_code == 400, response.get_data(as_text=True)
            assert response.get_json()["error"] == "invalid_request"
            assert response.get_json()["message"] == "The request body is nested too deeply."
    # no traceback and no error line (the once-per-process storage and console warnings may come first)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


def test_503_means_only_that_the_storage_is_down(flow_app, monkeypatch):
    """An unexpected error in the flow is a 500 ``internal_error``, never the storage's 503 ``unavailable``."""
    app = flow_app()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    flow = app.extensions["sms"]._state(app).codes

    def broken(*args, **kwargs):
        raise RecursionError("a bug")

    monkeypatch.setattr(flow, "send_code", broken)
    response = send(app.test_client())
    assert response.status_code == 500 and response.get_json()["error"] == "internal_error"


@pytest.mark.parametrize(
    ("body", "content_type", "message", "field"),
    [
        ("{not json", "application/json", "The request body is not valid JSON.", None),
        ('["13800138000"]', "application/json", "The request body must be a JSON object.", None),
        ("{}", "application/json", "The field “phone” is missing.", "phone"),
        (
            '{"phone": 13800138000}',
            "application/json",
            "The field “phone” must be text of at most 256 characters.",
            "phone",
        ),
        ("phone=", "application/x-www-form-urlencoded", "The field “phone” is missing.", "phone"),
    ],
)
def test_bad_fields_are_named(flow_app, body, content_type, message, field):
    response = (
        flow_app()
        .test_client()
        .post("/sms_captcha/", data=body, content_type=content_type, headers={"Accept-Language": "en"})
    )
    assert response.status_code == 400
    payload = response.get_json()
    assert payload["error"] == "invalid_request" and payload["message"] == message
    assert payload.get("field") == field


def test_verify_names_the_missing_code(flow_app):
    response = flow_app().test_client().post("/sms_captcha/verify", json={"phone": PHONE})
    assert response.get_json()["field"] == "code" and "“code”" in response.get_json()["message"]


def test_bodies_are_capped_before_parsing(flow_app):
    app = flow_app()
    client = app.test_client()
    big = client.post("/sms_captcha/", data={"phone": PHONE, "padding": "x" * 9000})
    assert big.status_code == 413 and big.get_json()["error"] == "invalid_request"
    chunked = client.post(
        "/sms_captcha/",
        data=b'{"phone": "13800138000"}',
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
    )
    assert chunked.status_code == 411 and chunked.get_json()["error"] == "invalid_request"
    # a form with a CSRF token and a few fields of its own is well inside the cap
    assert client.post("/sms_captcha/", data={"phone": PHONE, "csrf_token": "t" * 200, "x": "y"}).status_code == 200


# -- non-mobile numbers ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "number",
    [
        "010 6552 9988",  # Beijing landline
        "400 810 8888",  # 400 shared-cost
        "800 810 8888",  # 800 toll-free
        "16812345",  # 168 premium-rate
    ],
)
def test_only_mobile_numbers_get_codes(flow_app, number):
    """The attack: CN landline, 400, 800 and 168 premium-rate numbers all received codes."""
    app = flow_app()
    with app.extensions["sms"].record_messages() as outbox:
        response = send(app.test_client(), number, headers={"Accept-Language": "en"})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_phone"
    assert "mobile number" in response.get_json()["message"]
    assert outbox == []


def test_allowed_number_types_is_configurable(flow_app):
    landline = flow_app(SMS_ALLOWED_NUMBER_TYPES=["mobile", "fixed_line"]).test_client()
    assert send(landline, "010 6552 9988").status_code == 200
    assert send(landline, "400 810 8888").status_code == 400
    anything = flow_app(SMS_ALLOWED_NUMBER_TYPES=["*"]).test_client()
    assert send(anything, "16812345").status_code == 200
    with pytest.raises(ConfigError, match="SMS_ALLOWED_NUMBER_TYPES"):
        flow_app(SMS_ALLOWED_NUMBER_TYPES=["landline"])


def test_fixed_line_or_mobile_counts_as_mobile(flow_app):
    app = flow_app(SMS_ALLOWED_REGIONS=["US"])  # US numbering does not tell mobiles from landlines
    assert send(app.test_client(), "+1 650 253 0000").status_code == 200


# -- weak keys --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "secret", ["change-me", "short-key", "CHANGE ME in production!", "you-will-never-guess", "x" * 32]
)
def test_weak_secret_keys_are_a_config_problem(make_app, secret):
    """The attack: SECRET_KEY = "change-me" (the README's own example) was accepted; a live code then came
    back from its stored HMAC in 0.5 s."""
    with pytest.raises(ConfigError) as caught:
        make_app(["console"], SECRET_KEY=secret)
    problem = next(p for p in caught.value.problems if p.startswith("SECRET_KEY"))
    assert "secrets.token_hex(32)" in problem
    assert secret not in problem  # the key itself is never echoed


def test_weak_keys_are_fine_in_debug_and_testing():
    for flag in ("DEBUG", "TESTING"):
        app = Flask("dev")
        app.config.update({flag: True, "SECRET_KEY": "change-me", "SMS_PROVIDERS": ["console"]})
        assert config_problems(SmsExtension(app), app) == []


def test_flask_sms_check_reports_a_weak_key(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "weak.py").write_text(
        "from flask import Flask\nfrom flask_sms import SmsExtension\n"
        "app = Flask('weak')\napp.config.update(SECRET_KEY='change-me', SMS_PROVIDERS=['console'])\n"
        "SmsExtension(app)\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "weak", "sms", "check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{root}"},
        check=False,
    )
    assert result.returncode == 1
    assert "SECRET_KEY is shorter than 16 bytes" in result.stderr and "change-me" not in result.stderr


# -- Retry-After -------------------------------------------------------------------------------------
def test_retry_after_is_the_longest_wait(flow_app, clock):
    """The attack: Retry-After said 31 s (the cool-down) when the real wait was 79,198 s (the daily quota)."""
    app = flow_app(SMS_PHONE_LIMITS="5/hour;1/day")
    client = app.test_client()
    assert send(client).status_code == 200
    clock.advance(29)
    response = send(client)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(86400 - 29)  # not 31


# -- leftover keys -----------------------------------------------------------------------------------
def test_refusals_leave_no_keys_behind_on_redis(make_app, redis_server):
    """The attack: each send refused by the global ceiling left 2 quota keys for up to 24 h
    (4,900 refusals left 10,000 Redis keys)."""
    from conftest import storage_app_factory

    app = storage_app_factory(make_app, redis_server.url)(SMS_GLOBAL_LIMITS="1/hour")
    client = app.test_client()
    assert send(client).status_code == 200
    db = redis.Redis.from_url(redis_server.url)
    before = set(db.keys("*"))
    for index in range(50):
        assert send(client, f"1390013{index:04d}").status_code == 429
    left = set(db.keys("*")) - before
    assert left == set(), sorted(left)[:5]


def test_refusals_leave_no_keys_behind_in_memory(flow_app):
    app = flow_app(SMS_GLOBAL_LIMITS="1/hour", SMS_PHONE_LIMITS="5/hour;10/day")
    client = app.test_client()
    assert send(client).status_code == 200
    backend = next(iter(app.extensions["cache"].values()))
    before = set(backend.items())
    for index in range(50):
        assert send(client, f"1390013{index:04d}").status_code == 429
    assert set(backend.items()) - before == set()


# -- passwords in storage URLs ---------------------------------------------------------------------
def test_a_password_in_the_query_string_is_never_logged(make_app, redis_binary, tmp_path, caplog, capfd):
    """The attack: a Redis password written as ?password= was logged in clear at startup."""
    from helpers import RedisServer

    server = RedisServer(redis_binary, tmp_path / "qpw", extra=("--requirepass", "query-pw-s3cret")).start()
    try:
        url = f"redis://127.0.0.1:{server.port}/0?password=query-pw-s3cret"
        with caplog.at_level(logging.DEBUG):
            app = make_app(["console"], SMS_SUPPRESS_SEND=True, SMS_STORAGE_URL=url)
            with app.extensions["sms"].record_messages() as outbox:
                assert send(app.test_client()).status_code == 200  # the password works
            logging.getLogger("redis").warning("lost %s", url)  # a library logging the URL is masked too
        assert len(outbox) == 1
        assert "?password=***" in caplog.text
        out, err = capfd.readouterr()
        assert "query-pw-s3cret" not in caplog.text + out + err
        with app.app_context():
            assert "query-pw-s3cret" not in app.extensions["sms"].codes.storage
    finally:
        server.stop()


def test_a_bad_storage_url_is_reported_without_its_password():
    app = Flask("badurl")
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=["console"],
        SMS_STORAGE_URL="mongodb://:hunter2-pw@db/0?password=hunter3-pw",
    )
    problems = " ".join(config_problems(SmsExtension(app), app))
    assert "SMS_STORAGE_URL" in problems and "hunter2" not in problems and "hunter3" not in problems


# -- full-width digits ----------------------------------------------------------------------------
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("table", [FULL_WIDTH, ARABIC_INDIC])
def test_unicode_digits_in_the_code_are_accepted(flow_app, table):
    """The attack (a usability one): full-width digits from Chinese input methods were refused in the code
    field, though accepted in the phone field."""
    app = flow_app()
    client = app.test_client()
    code = sent_code(app, client)
    typed = " " + code.translate(table) + "\u3000"  # with an ideographic space, as IMEs type it
    response = client.post("/sms_captcha/verify", data={"phone": PHONE.translate(FULL_WIDTH), "code": typed})
    assert response.get_json()["ok"] is True


def test_other_unicode_is_still_a_wrong_code(flow_app):
    app = flow_app()
    client = app.test_client()
    code = sent_code(app, client)
    response = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": "一二三四五六"})
    assert response.get_json()["error"] == "invalid_code"
    assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["ok"] is True


# -- the verification token -------------------------------------------------------------------------
def verified_token(app, client, phone=PHONE, **extra):
    code = sent_code(app, client, phone, **extra)
    response = client.post("/sms_captcha/verify", json={"phone": phone, "code": code, **extra})
    assert response.status_code == 200
    return response.get_json()


def test_the_verify_route_answers_a_token_the_next_view_can_redeem_once(flow_app):
    """The attack: the verify route answered {"ok": true} to the browser and consumed the code, so the
    app's next view had nothing to check."""
    app = flow_app()
    sms = app.extensions["sms"]
    client = app.test_client()
    body = verified_token(app, client)
    assert set(body) == {"ok", "token", "expires_in"} and body["ok"] is True and body["expires_in"] == 600
    with app.app_context():
        assert sms.redeem_token(body["token"]) == E164
        assert sms.redeem_token(body["token"]) is None  # exactly once


def test_forged_expired_and_other_purpose_tokens_redeem_nothing(flow_app, clock):
    app = flow_app(SMS_CAPTCHA_PURPOSES=["captcha", "reset_password"], SMS_TOKEN_TTL=120)
    sms = app.extensions["sms"]
    client = app.test_client()
    token = verified_token(app, client)["token"]
    payload, _, signature = token.rpartition(".")
    forged = payload.replace(payload[5], "A" if payload[5] != "A" else "B", 1) + "." + signature
    with app.app_context():
        assert sms.redeem_token(forged) is None
        assert sms.redeem_token(token + "x") is None
        assert sms.redeem_token("") is None and sms.redeem_token(None) is None  # type: ignore[arg-type]
        assert sms.redeem_token(token, purpose="reset_password") is None  # another purpose...
        assert sms.redeem_token(token, purpose="captcha") == E164  # ...did not use it up
    reset = verified_token(app, client, "13900139000", purpose="reset_password")
    assert reset["expires_in"] == 120
    clock.advance(120)
    with app.app_context():
        assert sms.redeem_token(reset["token"], purpose="reset_password") is None  # expired


def test_tokens_are_signed_with_a_key_derived_from_secret_key(flow_app):
    from itsdangerous import BadSignature, URLSafeSerializer

    app = flow_app()
    token = verified_token(app, app.test_client())["token"]
    for salt in (None, "flask_sms.verification-token", "itsdangerous"):
        with pytest.raises(BadSignature):
            URLSafeSerializer(app.config["SECRET_KEY"], salt=salt).loads(token)  # not SECRET_KEY itself
    other = flow_app(SECRET_KEY="another-secret-key-for-tests")
    with other.app_context():
        assert other.extensions["sms"].redeem_token(token) is None


def test_a_token_from_an_apps_own_verify(flow_app):
    app = flow_app()
    sms = app.extensions["sms"]
    client = app.test_client()
    code = sent_code(app, client)
    with app.test_request_context():
        result = sms.verify_code(PHONE, code)
        token = sms.codes.issue_token(result.phone)
        assert sms.redeem_token(token) == E164


def test_redeem_fails_closed_when_the_storage_is_down(make_app, redis_server):
    from conftest import storage_app_factory

    app = storage_app_factory(make_app, redis_server.url)()
    client = app.test_client()
    token = verified_token(app, client)["token"]
    redis_server.stop()
    with app.app_context(), pytest.raises(StorageUnavailable):
        app.extensions["sms"].redeem_token(token)


# -- startup: the storage really in use, and the console provider -----------------------------------
def test_startup_log_names_the_storage_passed_in(redis_server, caplog):
    """The attack: with cache=/limiter= passed in, the startup log named memory:// while keys went to Redis."""
    from flask_caching import Cache
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    app = Flask("own")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"], SMS_SUPPRESS_SEND=True)
    cache = Cache(app, config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_server.url})
    limiter = Limiter(get_remote_address, app=app, storage_uri=redis_server.url)
    with caplog.at_level(logging.INFO, logger="flask_sms"):
        sms = SmsExtension(app, cache=cache, limiter=limiter)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("flask_sms: providers"))
    where = f"redis://127.0.0.1:{redis_server.port}/0"
    assert line == f"flask_sms: providers console; storage codes in {where} (cache=), limits in {where} (limiter=)"
    assert "memory://" not in line
    with app.app_context():
        assert sms.codes.storage in line
    send(app.test_client())
    assert redis.Redis.from_url(redis_server.url).keys("*sms:{captcha:+8613800138000}:code")  # the code is there


def test_console_provider_outside_debug_warns_that_codes_go_only_to_the_log(caplog, monkeypatch):
    from flask_sms import reporting

    monkeypatch.setattr(reporting, "_said", set())
    app = Flask("prod")
    app.config.update(SECRET_KEY="test-secret-key-for-flask-sms", SMS_PROVIDERS=["console"])
    with caplog.at_level(logging.WARNING, logger="flask_sms"):
        SmsExtension(app)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "codes go only to the log" in warnings[0]
    caplog.clear()
    debug = Flask("dev")
    debug.debug = True
    debug.config.update(SECRET_KEY="k", SMS_PROVIDERS=["console"])
    with caplog.at_level(logging.WARNING, logger="flask_sms"):
        SmsExtension(debug)
    assert caplog.records == []
