"""memory:// under load (issue 18): it never forgets security state to make room.

The attack of the issue: Flask-Caching's SimpleCache, the old memory://, evicted the soonest-expiring
keys once it held 100,000, and receipts (3 keys per text, kept 3 days) filled it. Then cool-downs,
live codes and redeemed token ids were the first to go. Each test below fills the store the way the
issue did, with receipt pushes, and runs the flow on ``sms.clock``; each failed on the old store.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from helpers import FakeClock

from flask_sms import SmsExtension, StorageUnavailable

PHONE = "13800138000"
E164 = "+8613800138000"
#: enough Tencent reports to fill the old store past its 100,000 keys (3 keys each: seen mark, status, message)
FILL_REPORTS = 34_000
_BATCH = 5_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def flow_app(make_app: Callable[..., Flask], clock: FakeClock) -> Callable[..., Flask]:
    """memory:// (the default), console provider, sends recorded; the phone quotas and the cool-down on
    (they live in the code store), the per-IP and app-wide limits off (the test client is one IP)."""

    def factory(**config: Any) -> Flask:
        # thousands of codes to one prefix: pumping, to the fraud guard (off)
        options = {"limits_off": ("ip", "global", "verify_ip"), "guard": False, "clock": clock}
        return make_app(["console"], **{**options, "SMS_SUPPRESS_SEND": True, **config})

    return factory


def tencent_push(first: int, count: int) -> bytes:
    """A Tencent status push of ``count`` reports, each of a text never reported before."""
    items = [
        {
            "user_receive_time": "2026-11-22 10:00:00",
            "nationcode": "86",
            "mobile": f"139{serial % 100_000_000:08d}",
            "report_status": "SUCCESS",
            "errmsg": "DELIVRD",
            "description": "用户短信送达成功",
            "sid": f"2433:{serial:020d}",
            "ext": f"order-{serial}",
        }
        for serial in range(first, first + count)
    ]
    return json.dumps(items).encode()


def fill_with_receipts(app: Flask, reports: int = FILL_REPORTS, first: int = 0) -> None:
    """What forged pushes (or three days of traffic) leave in the store: reports kept ``SMS_RECEIPT_TTL``."""
    sms = app.extensions["sms"]
    with app.app_context():
        for start in range(first, first + reports, _BATCH):
            _, accepted = sms.receipts.push("tencent", tencent_push(start, min(_BATCH, first + reports - start)), "")
            assert accepted.fresh > 0


def send(client: Any, phone: str = PHONE) -> Any:
    return client.post("/sms_captcha/", json={"phone": phone})


def sent_code(app: Flask, client: Any, phone: str = PHONE) -> str:
    with app.extensions["sms"].record_messages() as outbox:
        response = send(client, phone)
    assert response.status_code == 200, response.get_json()
    return str(outbox[0].params["code"])


def user(index: int) -> str:
    return f"1380013{index:04d}"


# -- the four failures of a full store ---------------------------------------------------------------
def test_a_right_code_typed_20_s_later_still_verifies_in_a_full_store(flow_app, clock):
    """The attack: once the store was full, a correct code typed 20 s after sending answered
    ``code_expired`` (20 of 20 users): each send's own writes evicted its code."""
    app = flow_app()
    fill_with_receipts(app)
    client = app.test_client()
    answers = []
    for index in range(20):
        code = sent_code(app, client, user(index))
        clock.advance(20)
        response = client.post("/sms_captcha/verify", json={"phone": user(index), "code": code})
        answers.append(response.get_json().get("error", "ok"))
    assert answers == ["ok"] * 20


def test_the_cooldown_holds_in_a_full_store(flow_app, clock):
    """The attack: the same phone got two codes 2 s apart despite the 60 s cool-down."""
    app = flow_app()
    fill_with_receipts(app)
    client = app.test_client()
    with app.extensions["sms"].record_messages() as outbox:
        assert send(client).status_code == 200
        clock.advance(2)
        second = send(client)
    assert second.status_code == 429 and second.get_json()["error"] == "rate_limited"
    assert int(second.headers["Retry-After"]) == 58
    assert len(outbox) == 1


def test_a_token_redeems_once_in_a_full_store(flow_app, clock):
    """The attack: one verification token was redeemed 6 times (its redeemed mark was evicted by the
    next write of other users' traffic)."""
    app = flow_app()
    sms = app.extensions["sms"]
    client = app.test_client()
    code = sent_code(app, client)
    token = client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["token"]
    fill_with_receipts(app)
    redeemed = []
    for index in range(6):
        with app.app_context():
            redeemed.append(sms.redeem_token(token))
        sent_code(app, client, user(index))  # other users' traffic between the attempts
        clock.advance(1)
    assert redeemed == [E164] + [None] * 5


def _python_calls(action: Callable[[], Any]) -> int:
    """How many Python functions run during ``action`` (deterministic: no clock is read)."""
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls


def test_the_work_of_a_send_does_not_grow_with_the_store(flow_app):
    """The attack: once full, each send took 158 ms: the old store sorted its whole contents on every
    write. Counted in Python calls, not timed: a full store must cost a send what an empty one does
    (``python -m bench`` times it: "memory:// nearly full vs empty")."""
    empty, full = flow_app(), flow_app()
    fill_with_receipts(full)
    clients = {id(app): app.test_client() for app in (empty, full)}
    for app in (empty, full):  # warm both: phone metadata, first-request setup, the breakers' view
        for index in range(3):
            assert send(clients[id(app)], user(index)).status_code == 200
    counts = {}
    for app in (empty, full):
        counts[id(app)] = _python_calls(lambda app=app: send(clients[id(app)], user(50)))
    assert counts[id(full)] <= counts[id(empty)] * 1.2 + 100, counts


# -- fail closed: a store full of live security state refuses, it never forgets ----------------------
def own_memory_cache(app: Flask, clock: FakeClock, capacity: int, **options: Any) -> Any:
    """A Flask-Caching cache of flask_sms's memory store with a small capacity (what ``memory://`` builds)."""
    from flask_caching import Cache

    cache = Cache(
        config={
            "CACHE_TYPE": "flask_sms.memory.MemoryCache",
            "CACHE_OPTIONS": {"capacity": capacity, "clock": clock, **options},
        }
    )
    cache.init_app(app)
    return cache


@pytest.fixture
def small_store_app(make_app: Callable[..., Flask], clock: FakeClock) -> Iterator[Callable[..., Flask]]:
    def factory(capacity: int = 200, **options: Any) -> Flask:
        app = Flask("flask_sms_small_store")
        app.config.update(
            SECRET_KEY="test-secret-key-for-flask-sms",
            SMS_PROVIDERS=["console"],
            SMS_SUPPRESS_SEND=True,
            SMS_IP_LIMITS="",
            SMS_GLOBAL_LIMITS="",
            SMS_VERIFY_IP_LIMITS="",
            SMS_FRAUD_GUARD=None,  # filling the store is pumping, to the guard
        )
        SmsExtension(app, cache=own_memory_cache(app, clock, capacity, **options)).clock = clock
        return app

    yield factory


def fill_with_sends(app: Flask, client: Any, first: int = 0) -> tuple[int, dict[str, str]]:
    """Send to fresh phones until the store refuses; (sends that went out, phone -> code)."""
    codes: dict[str, str] = {}
    for index in range(first, first + 10_000):
        with app.extensions["sms"].record_messages() as outbox:
            response = send(client, user(index))
        if response.status_code != 200:
            assert response.status_code == 503 and response.get_json()["error"] == "unavailable"
            return index - first, codes
        codes[user(index)] = outbox[0].params["code"]
    raise AssertionError("the store never filled")


def test_a_store_full_of_live_codes_refuses_new_sends_and_forgets_nothing(small_store_app, clock, caplog):
    """Fail closed: when live cool-downs, codes and quota counters fill memory://, a new send answers
    503 ``unavailable`` and sends nothing, and every earlier code still verifies."""
    app = small_store_app(capacity=200)
    client = app.test_client()
    sent, codes = fill_with_sends(app, client)
    assert 30 <= sent < 200 // 3
    with app.extensions["sms"].record_messages() as outbox:
        refused = send(client, user(9999))
    assert refused.status_code == 503 and outbox == []
    assert "memory:// is full" in caplog.text
    clock.advance(10)
    for phone, code in codes.items():  # a verify still works when sends are refused
        response = client.post("/sms_captcha/verify", json={"phone": phone, "code": code})
        assert response.get_json() == {"ok": True, **{k: response.get_json()[k] for k in ("token", "expires_in")}}


def test_expired_state_is_swept_and_sends_resume(small_store_app, clock):
    app = small_store_app(capacity=200)
    client = app.test_client()
    sent, _ = fill_with_sends(app, client)
    clock.advance(3600)  # the codes, cool-downs and hourly quota counters are over; the daily ones live
    resumed, _ = fill_with_sends(app, client, first=1000)
    assert resumed > 0
    clock.advance(86400 + 60)  # everything is over (the backend keeps a key a few seconds past its end)
    again, _ = fill_with_sends(app, client, first=2000)
    assert again == sent


def test_verify_and_redeem_keep_a_reserve_when_sends_are_refused(small_store_app, clock):
    """Sends stop short of the capacity, so the codes already out can still count wrong guesses and
    their tokens can still be redeemed; past the very end those refuse too (503), never forget."""
    app = small_store_app(capacity=200, send_reserve=20)
    sms = app.extensions["sms"]
    client = app.test_client()
    _, codes = fill_with_sends(app, client)
    phones = list(codes)
    tokens = []
    for phone in phones[:5]:
        wrong = "000000" if codes[phone] != "000000" else "111111"
        assert client.post("/sms_captcha/verify", json={"phone": phone, "code": wrong}).get_json()["error"] == (
            "invalid_code"
        )
        body = client.post("/sms_captcha/verify", json={"phone": phone, "code": codes[phone]}).get_json()
        tokens.append(body["token"])
    with app.app_context():
        assert [sms.redeem_token(token) for token in tokens] == [f"+86{phone}" for phone in phones[:5]]
        assert [sms.redeem_token(token) for token in tokens] == [None] * 5
    answers = []
    for phone in phones[5:]:  # a wrong guess for each other live code: counted while there is room
        wrong = "000000" if codes[phone] != "000000" else "111111"
        answers.append(client.post("/sms_captcha/verify", json={"phone": phone, "code": wrong}).get_json()["error"])
    counted = answers.count("invalid_code")
    assert counted > 0 and answers == ["invalid_code"] * counted + ["unavailable"] * (len(answers) - counted)
    # At the very end, a right code is refused exactly like a wrong one: a full store is no oracle.
    last = phones[-1]
    assert client.post("/sms_captcha/verify", json={"phone": last, "code": codes[last]}).status_code == 503


def test_the_default_memory_store_is_flask_smss_own_through_flask_caching(flow_app):
    from flask_sms.memory import MemoryCache

    app = flow_app()
    (backend,) = app.extensions["cache"].values()
    assert type(backend) is MemoryCache
    assert backend.capacity == 100_000


# -- receipts are bounded on their own ----------------------------------------------------------------
def test_receipts_are_bounded_apart_from_security_state(flow_app, clock):
    """Receipts can never crowd out security state: they live in a part of their own that, when full,
    forgets its oldest reports (and only those)."""
    from flask_sms.memory import GUARD, RECEIPTS

    app = flow_app()
    (backend,) = app.extensions["cache"].values()
    client = app.test_client()
    code = sent_code(app, client)
    fill_with_receipts(app, reports=RECEIPTS.capacity)  # 3 keys each: three times the part's room
    sizes = backend.part_sizes()
    assert sizes == {
        "security": sizes["security"],
        RECEIPTS.prefix: RECEIPTS.capacity,
        GUARD.prefix: sizes[GUARD.prefix],
    }
    sms = app.extensions["sms"]
    with app.app_context():
        assert sms.receipts.status(f"order-{RECEIPTS.capacity - 1}") is not None  # the newest report is kept
        assert sms.receipts.status("order-0") is None  # the oldest made room
    clock.advance(5)
    assert client.post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).get_json()["ok"] is True


def test_a_report_seen_again_is_still_announced_once_while_kept(flow_app):
    from flask_sms import delivery_reported

    app = flow_app()
    heard: list[Any] = []

    def listen(sender: Any, report: Any) -> None:
        heard.append(report)

    delivery_reported.connect(listen)
    try:
        fill_with_receipts(app, reports=10)
        with app.app_context():
            assert app.extensions["sms"].receipts.push("tencent", tencent_push(0, 10), "")[1].fresh == 0
    finally:
        delivery_reported.disconnect(listen)
    assert len(heard) == 10


def test_a_full_store_still_refuses_when_the_send_fails_midway(small_store_app):
    """No half-written send: a send refused by a full store takes no cool-down and no quota."""
    app = small_store_app(capacity=200)
    client = app.test_client()
    fill_with_sends(app, client)
    (backend,) = app.extensions["cache"].values()
    before = backend.part_sizes()
    assert send(client, user(9998)).status_code == 503
    assert backend.part_sizes() == before
    with app.app_context(), pytest.raises(StorageUnavailable):
        app.extensions["sms"].send_code(user(9998))
