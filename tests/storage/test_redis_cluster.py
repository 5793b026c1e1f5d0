"""The verification flow on a real 3-master Redis Cluster started by the tests.

``redis-server --cluster-enabled yes`` three times, ``redis-cli --cluster create``,
then ``SMS_STORAGE_URL=redis+cluster://...``: codes (Flask-Caching
RedisClusterCache, Lua scripts whose keys share a slot) and limits
(Flask-Limiter) both live in the cluster.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from conftest import need_binary, storage_app_factory
from helpers import RedisServer, free_port, send_and_collect
from redis.crc import key_slot

PHONE = "13800138000"
MASTERS = 3


class Cluster:
    def __init__(self, nodes: list[RedisServer]) -> None:
        self.nodes = nodes

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def clients(self) -> list[redis.Redis]:
        return [redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=5) for node in self.nodes]

    def keys_by_node(self, pattern: str = "flask_sms:sms:*") -> dict[int, set[bytes]]:
        return {node.port: set(client.keys(pattern)) for node, client in zip(self.nodes, self.clients())}


def _cluster_ok(port: int) -> bool:
    try:
        info = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).execute_command("CLUSTER INFO")
    except redis.RedisError:
        return False
    if isinstance(info, dict):  # redis-py parses CLUSTER INFO
        fields = {str(key): str(value) for key, value in info.items()}
    else:
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
    return (
        fields.get("cluster_state") == "ok"
        and fields.get("cluster_slots_assigned") == "16384"
        and fields.get("cluster_known_nodes") == str(MASTERS)
    )


@pytest.fixture(scope="module")
def redis_cluster(redis_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cli = need_binary("redis-cli")
    nodes: list[RedisServer] = []
    try:
        for index in range(MASTERS):
            port = free_port()
            # the bus port is given explicitly: port + 10000 may be past 65535 for an ephemeral port
            extra = (
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{port}.conf",
                "--cluster-node-timeout",
                "5000",
                "--cluster-port",
                str(free_port()),
            )
            workdir = tmp_path_factory.mktemp(f"cluster-node-{index}")
            nodes.append(RedisServer(redis_binary, workdir, port=port, extra=extra).start())
        create = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert create.returncode == 0, create.stdout + create.stderr
        deadline = time.monotonic() + 30
        while not all(_cluster_ok(node.port) for node in nodes):
            if time.monotonic() > deadline:
                pytest.fail("the cluster did not reach cluster_state:ok on every node within 30 s")
            time.sleep(0.1)
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def cluster(redis_cluster: Cluster) -> Cluster:
    for client in redis_cluster.clients():
        client.flushall()
    return redis_cluster


@pytest.fixture
def cluster_app(make_app, cluster):
    return storage_app_factory(make_app, cluster.url)


def _send(app, client, phone=PHONE):
    return send_and_collect(app, client, phone)


def test_the_storage_really_is_the_cluster(cluster_app):
    from flask_caching.backends.rediscache import RedisClusterCache

    app = cluster_app()
    (backend,) = app.extensions["cache"].values()
    assert isinstance(backend, RedisClusterCache)
    assert type(backend._write_client).__name__ == "RedisCluster"


def test_round_trip_with_every_limit_on(cluster_app, cluster):
    # the default IP, verify and global limits on, so Flask-Limiter counts in the cluster too, and the fraud
    # guard (its keys share the {guard} slot: each of its steps is one script on one node)
    app = cluster_app(
        SMS_IP_LIMITS="20/hour",
        SMS_GLOBAL_LIMITS="1000/hour",
        SMS_VERIFY_IP_LIMITS="60/hour",
        SMS_FRAUD_GUARD="standard",
    )
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "45.76.10.7"  # a public address: the guard counts its network
    response, (code,) = _send(app, client)
    assert response.status_code == 200
    body = response.get_json()
    nonce = body.pop("nonce")
    assert body == {"ok": True, "expires_in": 300, "resend_after": 60}

    owner = {"phone": PHONE, "code": code, "nonce": nonce}
    wrong = client.post("/sms_captcha/verify", json={**owner, "code": "000000" if code != "000000" else "1"})
    assert wrong.get_json()["error"] == "invalid_code"
    assert client.post("/sms_captcha/verify", json=owner).get_json()["ok"] is True
    again = client.post("/sms_captcha/verify", json=owner)
    assert again.get_json()["error"] == "invalid_code"  # single use
    guard_keys = [key for node in cluster.clients() for key in node.keys("*{guard}*")]
    assert any(key.endswith(b"v:network:45.76.10.0/24") for key in guard_keys), guard_keys
    assert len({key_slot(key) for key in guard_keys}) == 1

    stored = [(client, key) for client in cluster.clients() for key in client.keys("*")]
    assert any(b"LIMITER" in key for _, key in stored), "Flask-Limiter's counters are in the cluster"
    for node, key in stored:
        if node.type(key) == b"string":
            assert code.encode() not in node.get(key)  # only an HMAC is stored


def test_cooldown_and_phone_quota(cluster_app):
    app = cluster_app(SMS_PHONE_LIMITS="2/hour")
    client = app.test_client()
    assert _send(app, client)[0].status_code == 200
    response, codes = _send(app, client)
    assert response.status_code == 429 and codes == []
    assert response.get_json()["error"] == "rate_limited"
    assert 59 <= int(response.headers["Retry-After"]) <= 60
    cluster_app.clock.advance(60)
    assert _send(app, client)[0].status_code == 200
    cluster_app.clock.advance(60)
    response, codes = _send(app, client)
    assert response.status_code == 429 and codes == []  # the hourly quota, counted in the cluster


def test_lockout_then_a_new_code_gets_a_fresh_budget(cluster_app):
    app = cluster_app()
    client = app.test_client()
    sent, _ = _send(app, client)
    owner = {"phone": PHONE, "code": "1", "nonce": sent.get_json()["nonce"]}
    errors = [client.post("/sms_captcha/verify", json=owner).get_json()["error"] for _ in range(5)]
    assert errors == ["invalid_code"] * 4 + ["too_many_attempts"]
    cluster_app.clock.advance(61)
    sent, (code,) = _send(app, client)
    owner = {"phone": PHONE, "code": "1", "nonce": sent.get_json()["nonce"]}
    assert client.post("/sms_captcha/verify", json=owner).get_json()["error"] == "invalid_code"
    assert client.post("/sms_captcha/verify", json={**owner, "code": code}).get_json()["ok"] is True


def _race(count: int, attempt) -> list[int]:
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait(timeout=30)
        status = attempt()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def test_concurrent_sends_give_one_text(cluster_app):
    app = cluster_app()
    with app.extensions["sms"].record_messages() as outbox:
        statuses = _race(30, lambda: app.test_client().post("/sms_captcha/", json={"phone": PHONE}).status_code)
    assert statuses == [200] + [429] * 29
    assert len(outbox) == 1


def test_concurrent_verifies_have_one_winner(cluster_app):
    app = cluster_app()
    _, (code,) = _send(app, app.test_client())
    statuses = _race(
        30, lambda: app.test_client().post("/sms_captcha/verify", json={"phone": PHONE, "code": code}).status_code
    )
    assert statuses == [200] + [400] * 29


def test_keys_of_one_phone_share_a_slot_and_phones_spread_over_nodes(cluster_app, cluster):
    app = cluster_app()
    client = app.test_client()
    _send(app, client)
    client.post("/sms_captcha/verify", json={"phone": PHONE, "code": "x"})  # creates the strangers' failure counter

    by_node = cluster.keys_by_node("flask_sms:sms:{captcha:+8613800138000}:*")
    holders = {port for port, keys in by_node.items() if keys}
    ours = set().union(*by_node.values())
    assert len(holders) == 1, by_node
    assert {key.split(b"}:", 1)[1] for key in ours} == {
        b"code",
        b"strangers",
        b"cooldown",
        b"quota:5/3600",
        b"quota:10/86400",
    }
    assert len({key_slot(key) for key in ours}) == 1

    phones = [f"139{index:08d}" for index in range(1, 21)]
    for phone in phones:
        response, codes = _send(app, client, phone)
        assert response.status_code == 200 and len(codes) == 1
    by_node = cluster.keys_by_node()
    spread = {port: len(keys) for port, keys in by_node.items()}
    assert sum(1 for count in spread.values() if count) > 1, spread
    # and still, each phone's keys sit together on one node
    for phone in phones:
        tag = f"{{captcha:+86{phone}}}".encode()
        assert len({port for port, keys in by_node.items() if any(tag in key for key in keys)}) == 1


def test_receipts_on_the_cluster_are_marked_only_after_every_handler_returned(cluster_app, cluster):
    """A push's marks fall in every slot: claimed, marked and released in pipelines, never one multi-key script."""
    import json

    from flask_sms import DeliveryReport, delivery_reported

    app = cluster_app(SMS_RECEIPT_TOKEN="cluster-receipt-token-000000")
    items = [
        {"nationcode": "86", "mobile": f"137{n:08d}", "report_status": "SUCCESS", "sid": f"c:{n}", "ext": f"o{n}"}
        for n in range(100)
    ]
    kept: list[DeliveryReport] = []
    raised = {"once": False}

    def handle(sender: object, report: DeliveryReport) -> None:
        if not raised["once"]:
            raised["once"] = True
            raise RuntimeError("the database blinked")
        kept.append(report)

    client, url = app.test_client(), "/sms_receipts/tencent?token=cluster-receipt-token-000000"
    delivery_reported.connect(handle)
    try:
        assert client.post(url, data=json.dumps(items), content_type="application/json").status_code == 500
        assert client.post(url, data=json.dumps(items), content_type="application/json").status_code == 200
        assert client.post(url, data=json.dumps(items), content_type="application/json").status_code == 200
    finally:
        delivery_reported.disconnect(handle)
    assert sorted(r.message_id for r in kept) == sorted(f"c:{n}" for n in range(100))
    marks = cluster.keys_by_node("flask_sms:sms:receipt:seen:*")
    assert sum(len(keys) for keys in marks.values()) == 100 and len([n for n in marks.values() if n]) == MASTERS
