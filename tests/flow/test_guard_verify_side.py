"""The verify side of issue 18, the send nonce, the targeted lock-out and the human check's contract,
through the routes, under the default config."""

from __future__ import annotations

from typing import Any

import pytest
from campaign import HUMAN, simulation_app
from flask import Flask
from helpers import FakeClock

from flask_sms.challenge import Unreachable

VICTIM = "13800138000"
#: one number in each of 20 prefixes (a guesser's targets are spread; 20 codes to one prefix would be pumping)
RANGES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "180",
]


def spread(count: int, start: int = 0) -> list[str]:
    return [f"{RANGES[index % 20]}{start + index:04d}0013" for index in range(count)]


@pytest.fixture
def app(make_app: Any, clock: FakeClock) -> Flask:
    return simulation_app(make_app, "memory://", clock=clock)


def client_from(app: Flask, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def send(client: Any, phone: str = VICTIM, **extra: Any) -> Any:
    return client.post("/sms_captcha/", json={"phone": phone, **extra})


def verify(client: Any, code: str, phone: str = VICTIM, **extra: Any) -> Any:
    return client.post("/sms_captcha/verify", json={"phone": phone, "code": code, **extra})


def texted(app: Flask, client: Any, phone: str = VICTIM) -> tuple[str, str]:
    with app.extensions["sms"].record_messages() as outbox:
        response = send(client, phone)
    assert response.status_code == 200, response.get_json()
    return outbox[-1].params["code"], response.get_json()["nonce"]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_strangers_wrong_guesses_do_not_kill_the_owners_code(app):
    """Before: any 5 wrong guesses at a phone killed its live code (too_many_attempts), from anyone."""
    owner = client_from(app, "58.20.1.9")
    code, nonce = texted(app, owner)
    stranger = client_from(app, "61.135.7.2")
    answers = [verify(stranger, wrong(code)).get_json()["error"] for _ in range(6)]
    assert answers == ["invalid_code", "invalid_code"] + ["too_many_attempts"] * 4  # their own, smaller budget
    assert verify(owner, code, nonce=nonce).get_json()["ok"] is True  # the owner's code still works


def test_the_owner_keeps_the_whole_budget_and_hears_when_the_code_expired(app, clock):
    owner = client_from(app, "58.20.1.9")
    code, nonce = texted(app, owner)
    errors = [verify(owner, wrong(code), nonce=nonce).get_json()["error"] for _ in range(5)]
    assert errors == ["invalid_code"] * 4 + ["too_many_attempts"]
    clock.advance(61)
    code, nonce = texted(app, owner)
    clock.advance(301)
    assert verify(owner, code, nonce=nonce).get_json()["error"] == "code_expired"  # its own code: it may know


def test_a_verify_does_not_tell_who_is_signing_in(app):
    """Before: ``code_expired`` for a number with no live code, ``invalid_code`` for one with a code: an
    attacker identified 10 of 10 numbers signing in, at no cost to the others."""
    signing_in = spread(8)
    idle = spread(8, start=100)
    for index, phone in enumerate(signing_in):
        texted(app, client_from(app, f"58.20.{index}.9"), phone)

    def answers(index: int, phone: str) -> list[tuple[int, str, str]]:
        attacker = client_from(app, f"61.{index}.7.2")  # a network per number: its answers are about the number
        replies = [verify(attacker, "123456", phone) for _ in range(3)]
        return [(r.status_code, r.get_json()["error"], r.get_json()["message"]) for r in replies]

    seen = {phone: answers(index, phone) for index, phone in enumerate(signing_in + idle)}
    assert seen[idle[0]][-1][1] == "too_many_attempts"  # a stranger's budget, also where no code lives
    assert len({tuple(reply) for reply in seen.values()}) == 1  # one answer for all sixteen: nothing told


def test_guessing_from_one_network_is_challenged_the_owner_is_not(app):
    owners = spread(12)
    sent = {phone: texted(app, client_from(app, f"58.20.{index}.9"), phone) for index, phone in enumerate(owners)}
    guesser = client_from(app, "61.135.7.2")
    statuses = [verify(guesser, "123456", phone).status_code for phone in owners]
    assert statuses[:10] == [400] * 10 and statuses[-1] == 428  # its network's tenth failure: a check first
    refused = verify(guesser, "123456", owners[0])
    assert refused.status_code == 428 and refused.get_json()["error"] == "challenge_required"
    assert verify(guesser, "123456", owners[0], challenge=HUMAN).status_code == 400  # a person may go on
    phone = owners[-1]
    code, nonce = sent[phone]
    assert verify(client_from(app, "61.135.7.3"), code, phone, nonce=nonce).get_json()["ok"] is True  # the owner


def test_an_app_wide_surge_of_failed_verifies_challenges_verifies_without_the_nonce(app):
    owners = spread(3)
    sent = {phone: texted(app, client_from(app, f"58.20.{index}.9"), phone) for index, phone in enumerate(owners)}
    for index in range(60):  # 60 networks, one guess each: no network stands out, the app does
        verify(client_from(app, f"61.{index}.7.2"), "123456", owners[index % 3])
    assert verify(client_from(app, "36.1.2.3"), "123456", owners[0]).status_code == 428
    assert ("verify", "*") in {(d.dimension, d.value) for d in app.extensions["sms"].guard_status(app)}
    code, nonce = sent[owners[1]]
    assert verify(client_from(app, "36.1.2.3"), code, owners[1], nonce=nonce).get_json()["ok"] is True


def test_a_phone_whose_quota_an_attacker_spent_still_gets_its_owners_code(app, clock):
    """Before: from 2 IPs an attacker texted the victim 10 times (the daily quota); the victim's own request
    then got 429 with Retry-After 22.8 hours."""
    attackers = [client_from(app, "61.135.7.2"), client_from(app, "61.136.8.3")]
    for index in range(10):  # it solves the checks the guard asks of it (a captcha farm)
        assert send(attackers[index % 2], challenge=HUMAN).status_code == 200
        clock.advance(61 if index % 5 != 4 else 3600)  # the cool-down, and the 5/hour quota
    assert send(attackers[0], challenge=HUMAN).status_code == 429  # spent: the attacker's networks stay refused
    victim = client_from(app, "58.20.1.9")
    asked = send(victim)
    assert asked.status_code == 428 and asked.get_json()["error"] == "challenge_required"
    passed = send(victim, challenge=HUMAN)
    assert passed.status_code == 200, passed.get_json()
    clock.advance(61)
    assert send(victim, challenge=HUMAN).status_code == 429  # once per network: not a way round the quota


def test_a_wrong_challenge_is_refused_and_nothing_is_sent_or_counted(app):
    client = client_from(app, "58.20.1.9")
    with app.extensions["sms"].record_messages() as outbox:
        refused = send(client, challenge={"token": "a-bot-guessed"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "challenge_failed"
    assert outbox == [] and app.extensions["sms"].guard_status(app) == []
    assert send(client).status_code == 200  # no cool-down was taken


def test_an_unreachable_verifier_refuses_only_challenged_requests(make_app, clock):
    app = simulation_app(make_app, "memory://", clock=clock)

    @app.extensions["sms"].challenge_verifier
    def down(challenge: Any, client_ip: str) -> bool:
        raise Unreachable("timeout")

    client = client_from(app, "58.20.1.9")
    refused = send(client, challenge=HUMAN)
    assert refused.status_code == 503 and refused.get_json()["error"] == "unavailable"  # fail closed
    assert send(client).status_code == 200  # a request the guard does not challenge never feels it


def test_always_mode_asks_every_send_for_a_check(make_app, clock):
    app = simulation_app(make_app, "memory://", clock=clock, SMS_CHALLENGE_MODE="always")
    client = client_from(app, "58.20.1.9")
    assert send(client).status_code == 428
    assert send(client, challenge=HUMAN).status_code == 200
    assert send(client, "13900139000", challenge="not an object").status_code == 400
