"""Several accounts of one vendor (``"name:label"``), and vendors added from outside: ``register_provider`` and the
``flask_sms.providers`` entry-point group, with a throwaway package installed as a dist-info on ``sys.path``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fake_vendor import unused_port
from flask import Flask
from helpers import config_problems

import flask_sms
from flask_sms import SendError, SmsExtension, send_sms, sms_sent
from flask_sms import providers as registry
from flask_sms.providers import Option, Provider, Reply, e164

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"code": "483920", "minutes": 5}


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    """Providers registered in a test stay in that test."""
    monkeypatch.setattr(registry, "_registered", {})
    monkeypatch.setattr(registry, "_loaded", {})
    monkeypatch.setattr(registry, "_entry_points", None)


# -- several accounts ----------------------------------------------------------------------------------------------
def test_a_second_aliyun_account_takes_over_when_the_first_fails(make_app, fake):
    app = make_app(
        ["aliyun", "aliyun:backup"],
        SMS_ALIYUN_ACCESS_KEY_SECRET="the-first-accounts-secret-is-wrong",
        SMS_ALIYUN_BACKUP_ACCESS_KEY_SECRET=fake.plugin("aliyun").credentials.secret,
        SMS_ALIYUN_BACKUP_SIGN_NAME="备用签名",
    )
    sent = []

    def on_sent(sender: Any, result: Any, **extra: Any) -> None:
        sent.append(result)

    sms_sent.connect(on_sent)
    try:
        with app.app_context(), app.extensions["sms"].record_messages() as outbox:
            result = send_sms("13800138000", "captcha", PARAMS)
    finally:
        sms_sent.disconnect(on_sent)

    assert result.provider == "aliyun:backup"
    assert result.delivered == {"+8613800138000": "aliyun:backup"}
    first, second = result.attempts
    assert first.provider == "aliyun" and first.code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret")
    assert (second.provider, second.ok) == ("aliyun:backup", True)
    assert [m.provider for m in result.messages] == ["aliyun:backup"]
    # the backup account has its own sign name and falls back to SMS_ALIYUN_* for everything else
    (received,) = fake.received("aliyun")
    assert received.sign_name == "备用签名" and received.template == "SMS_153055065"
    assert [r.provider for r in sent] == ["aliyun:backup"] and len(outbox) == 1


def test_and_the_other_way_round(make_app, fake):
    app = make_app(["aliyun:backup", "aliyun"], SMS_ALIYUN_BACKUP_ENDPOINT=f"127.0.0.1:{unused_port()}")
    with app.app_context():
        result = send_sms(["13800138000", "13900139000"], "captcha", PARAMS)
    assert result.delivered == {"+8613800138000": "aliyun", "+8613900139000": "aliyun"}
    assert [(a.provider, a.code) for a in result.attempts] == [("aliyun:backup", "connection_error"), ("aliyun", "OK")]
    assert received_signs(fake) == ["阿里云短信测试"]


def received_signs(fake: Any) -> list[str]:
    return [r.sign_name for r in fake.received("aliyun")]


def test_each_account_has_its_own_client_settings_and_name(make_app):
    app = make_app(["aliyun", "aliyun:backup"], SMS_ALIYUN_BACKUP_REGION="cn-shanghai")
    first, second = app.extensions["sms"]._state(app).sender.providers
    assert (first.name, second.name) == ("aliyun", "aliyun:backup")
    assert first.client is not second.client
    assert (first.settings["REGION"], second.settings["REGION"]) == ("cn-hangzhou", "cn-shanghai")
    assert type(first).name == "aliyun"  # the class keeps the vendor's name


def test_problems_of_labelled_accounts_are_listed_with_the_others(fake):
    app = Flask("accounts")
    app.config.update(
        SECRET_KEY="a-long-random-secret-for-accounts",
        SMS_PROVIDERS=["aliyun:backup", "tencent:Backup!", "nope:x", "tencent:access"],
        SMS_ALIYUN_BACKUP_SCHEME="ftp",
        SMS_ALIYUN_BACKUP_TEMPLATES={"captcha": "SMS_1"},
    )
    problems = config_problems(SmsExtension(app), app)
    assert "SMS_ALIYUN_BACKUP_ACCESS_KEY_ID (or SMS_ALIYUN_ACCESS_KEY_ID) is required" in problems
    assert "SMS_ALIYUN_BACKUP_SCHEME must be 'http' or 'https' (got 'ftp')" in problems
    assert any("unknown providers ['nope:x']" in p for p in problems)
    assert any("account label in 'tencent:Backup!'" in p for p in problems)
    assert "SMS_TENCENT_ACCESS_SECRET_ID (or SMS_TENCENT_SECRET_ID) is required" in problems

    result = app.test_cli_runner().invoke(args=["sms", "check"])
    assert result.exit_code == 1
    assert "SMS_ALIYUN_BACKUP_SCHEME must be 'http' or 'https'" in result.output


def test_a_label_that_would_read_like_the_vendors_own_key_is_refused(fake):
    class Keys(GatewayProvider):
        options = (*GatewayProvider.options, Option("APP_TOKEN", secret=True))

    flask_sms.register_provider("keys", Keys)
    app = Flask("clash")
    app.config.update(SECRET_KEY="a-long-random-secret-for-accounts", SMS_PROVIDERS=["keys:app", "keys:second"])
    problems = config_problems(SmsExtension(app), app)
    # for account "app", SMS_KEYS_APP_TOKEN could be its TOKEN or the vendor's APP_TOKEN
    assert [p for p in problems if "would read like" in p] == [
        "SMS_PROVIDERS entry 'keys:app': SMS_KEYS_APP_TOKEN would read like keys's own key; choose another account label"
    ]


# -- a vendor of your own, registered in code ------------------------------------------------------------------
class Gateway(BaseHTTPRequestHandler):
    """A tiny JSON gateway: ``X-Token`` auth, ``{"code": 0, "ids": [...]}`` or ``{"code": n, "msg": ...}``."""

    token = "gw-token-0001"
    received: ClassVar[list[dict[str, Any]]] = []
    answer: ClassVar[dict[str, Any] | None] = None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Gateway.received.append(body)
        if self.headers.get("X-Token") != self.token:
            reply: dict[str, Any] = {"code": 1001, "msg": "bad token"}
        else:
            reply = Gateway.answer or {"code": 0, "ids": [f"gw-{n}" for n in range(len(body["to"]))]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Gateway.received, Gateway.answer = [], None
    yield f"http://127.0.0.1:{server.server_port}/v1/send"
    server.shutdown()
    server.server_close()


class GatewayProvider(Provider):
    max_per_request = 2
    options = (
        Option("TOKEN", secret=True),
        Option("TEMPLATES", parse=flask_sms.providers.templates),
        Option("URL"),
    )
    error_classes: ClassVar[dict[str, Any]] = {"1002": "rejected"}

    def __init__(self, settings: Any, timeout: float) -> None:
        super().__init__(settings, timeout)
        import requests

        self.session = requests.Session()

    def format_phone(self, number: Any) -> str:
        return e164(number)

    def build_request(self, phones: Any, payload: Any) -> Any:
        return {"to": list(phones), "template": payload.template.id, "params": dict(payload.params)}

    def call(self, request: Any) -> Any:
        headers = {"X-Token": self.settings["TOKEN"]}
        return self.session.post(self.settings["URL"], json=request, headers=headers, timeout=self.timeout).content

    def parse(self, raw: Any, phones: Any) -> Reply:
        body = flask_sms.providers.load_json(raw, self.name)
        if body["code"] != 0:
            raise flask_sms.providers.ProviderError(str(body["code"]), body["msg"])
        return Reply(accepted=dict(zip(phones, body["ids"])))


def gateway_app(make_app: Any, url: str, providers: list[str], **config: Any) -> Flask:
    keys = {
        "SMS_MYGW_TOKEN": Gateway.token,
        "SMS_MYGW_URL": url,
        "SMS_MYGW_TEMPLATES": {"captcha": {"id": "T1", "params": ["code"]}},
    }
    return make_app(providers, **{**keys, **config})


def test_register_provider_gets_batching_failover_signals_and_record_messages(make_app, fake, gateway):
    flask_sms.register_provider("mygw", GatewayProvider)
    assert GatewayProvider.name == "mygw"
    app = gateway_app(make_app, gateway, ["mygw", "aliyun"])
    phones = ["13800138000", "13800138001", "13800138002"]
    with app.app_context(), app.extensions["sms"].record_messages() as outbox:
        result = send_sms(phones, "captcha", PARAMS)
        Gateway.answer = {"code": 1003, "msg": "余额不足"}
        failed_over = send_sms("13900139000", "captcha", PARAMS)
    assert result.delivered == dict.fromkeys(["+8613800138000", "+8613800138001", "+8613800138002"], "mygw")
    assert sorted(len(body["to"]) for body in Gateway.received[:2]) == [1, 2]  # max_per_request = 2
    assert Gateway.received[0]["params"] == {"code": "483920"}
    assert failed_over.provider == "aliyun"
    first = failed_over.attempts[0]
    assert (first.provider, first.code, first.message) == ("mygw", "1003", "余额不足")
    assert len(outbox) == 2
    assert GatewayProvider.classify("1002") == "rejected"


def test_a_registered_provider_is_validated_like_a_built_in(fake, gateway):
    flask_sms.register_provider("mygw", GatewayProvider)
    app = Flask("mine")
    app.config.update(SECRET_KEY="a-long-random-secret-for-accounts", SMS_PROVIDERS=["mygw", "mygw:second"])
    problems = config_problems(SmsExtension(app), app)
    assert "SMS_MYGW_TOKEN is required" in problems
    assert "SMS_MYGW_SECOND_TOKEN (or SMS_MYGW_TOKEN) is required" in problems


def test_register_provider_refuses_what_cannot_work():
    with pytest.raises(ValueError, match="built in"):
        flask_sms.register_provider("aliyun", GatewayProvider)
    with pytest.raises(ValueError, match="lower-case"):
        flask_sms.register_provider("My-GW", GatewayProvider)
    with pytest.raises(TypeError, match="subclass"):
        flask_sms.register_provider("mygw", object)  # type: ignore[arg-type]

    class Half(Provider):
        def format_phone(self, number: Any) -> str:
            return ""

    with pytest.raises(TypeError, match="does not implement build_request, call, parse"):
        flask_sms.register_provider("half", Half)

    class Named(GatewayProvider):
        name = "other"

    with pytest.raises(TypeError, match="says name = 'other'"):
        flask_sms.register_provider("mygw2", Named)


# -- a vendor of your own, installed as a package with an entry point --------------------------------------------
PACKAGE = '''
"""A throwaway third-party package: one flask_sms provider."""
import json
import requests
from flask_sms.providers import Option, Provider, ProviderError, Reply, e164, load_json, templates


class AcmeProvider(Provider):
    max_per_request = 2
    options = (Option("TOKEN", secret=True), Option("TEMPLATES", parse=templates), Option("URL"))

    def __init__(self, settings, timeout):
        super().__init__(settings, timeout)
        self.session = requests.Session()

    def format_phone(self, number):
        return e164(number)

    def build_request(self, phones, payload):
        return {"to": list(phones), "template": payload.template.id, "params": dict(payload.params)}

    def call(self, request):
        headers = {"X-Token": self.settings["TOKEN"]}
        return self.session.post(self.settings["URL"], json=request, headers=headers, timeout=self.timeout).content

    def parse(self, raw, phones):
        body = load_json(raw, self.name)
        if body["code"] != 0:
            raise ProviderError(str(body["code"]), body["msg"])
        return Reply(accepted=dict(zip(phones, body["ids"])))
'''

SCRIPT = """
import json, os, sys
from flask import Flask
from flask_sms import ConfigError, SmsExtension, send_sms
from flask_sms.providers import provider_names

assert "acme" in provider_names(), provider_names()
app = Flask("entry_points")
app.config.update(json.loads(os.environ["APP_CONFIG"]))
sms = SmsExtension(app)
try:
    sms.check(app)
    problems = []
except ConfigError as exc:
    problems = exc.problems
if problems:
    print(json.dumps({"problems": problems}))
    sys.exit(0)
with app.app_context(), sms.record_messages() as outbox:
    result = send_sms(["13800138000", "13800138001", "13800138002"], "captcha", {"code": "123456"})
print(json.dumps({"delivered": result.delivered, "attempts": [a.provider for a in result.attempts],
                  "outbox": len(outbox), "module": type(sms._state(app).sender.providers[0]).__module__}))
"""


def install_throwaway_package(where: Path) -> None:
    """What ``pip install`` leaves behind: the module and a dist-info with an entry point."""
    (where / "acme_flask_sms.py").write_text(textwrap.dedent(PACKAGE), encoding="utf-8")
    info = where / "acme_flask_sms-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-flask-sms\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[flask_sms.providers]\nacme = acme_flask_sms:AcmeProvider\nbroken = acme_flask_sms:Missing\n"
        "Bad-Name = acme_flask_sms:AcmeProvider\n",
        encoding="utf-8",
    )
    (info / "RECORD").write_text("", encoding="utf-8")


def run_app(where: Path, config: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(where), str(ROOT)]), APP_CONFIG=json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_provider_installed_with_an_entry_point_is_found_validated_and_used(tmp_path, fake, gateway):
    install_throwaway_package(tmp_path)
    base = {
        "SECRET_KEY": "a-long-random-secret-for-accounts",
        "SMS_SUPPRESS_SEND": False,
        "SMS_PROVIDERS": ["acme", "aliyun"],
        "SMS_ACME_TEMPLATES": {"captcha": {"id": "T1", "params": ["code"]}},
        "SMS_ACME_URL": gateway,
    }
    from vendor_config import vendor_config

    aliyun = {k: v for k, v in vendor_config(fake.url, fake.host).items() if k.startswith("SMS_ALIYUN_")}
    assert run_app(tmp_path, {**base, **aliyun}) == {"problems": ["SMS_ACME_TOKEN is required"]}

    Gateway.answer = None
    seen = run_app(tmp_path, {**base, **aliyun, "SMS_ACME_TOKEN": Gateway.token})
    assert seen["module"] == "acme_flask_sms"
    assert seen["delivered"] == dict.fromkeys(["+8613800138000", "+8613800138001", "+8613800138002"], "acme")
    assert seen["outbox"] == 1 and seen["attempts"] == ["acme", "acme"]  # two requests of at most 2
    assert sorted(len(body["to"]) for body in Gateway.received) == [1, 2]

    # a wrong token is the gateway's own error, and the next provider sends
    seen = run_app(tmp_path, {**base, **aliyun, "SMS_ACME_TOKEN": "wrong"})
    assert set(seen["delivered"].values()) == {"aliyun"}

    bad_name = run_app(tmp_path, {**base, "SMS_PROVIDERS": ["Bad-Name"]})
    assert bad_name["problems"] == [
        (
            "SMS_PROVIDERS: provider 'Bad-Name' (entry point 'acme_flask_sms:AcmeProvider') has a name that is "
            "not lower-case letters, digits and '_'"
        )
    ]
    broken = run_app(tmp_path, {**base, "SMS_PROVIDERS": ["broken"]})
    assert len(broken["problems"]) == 1
    assert re.match(
        r"SMS_PROVIDERS: provider 'broken' \(entry point 'acme_flask_sms:Missing'\) could not be loaded: ",
        broken["problems"][0],
    )


def test_a_provider_installed_by_pip_is_found_through_its_entry_point(tmp_path, fake, gateway):
    """The same throwaway package, built and installed by pip from a pyproject.toml that declares the entry
    point the way the README shows."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "acme_flask_sms.py").write_text(textwrap.dedent(PACKAGE), encoding="utf-8")
    (source / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "acme-flask-sms"
            version = "1.0"

            [project.entry-points."flask_sms.providers"]
            acme = "acme_flask_sms:AcmeProvider"

            [tool.setuptools]
            py-modules = ["acme_flask_sms"]
            """
        ),
        encoding="utf-8",
    )
    # into a directory of its own rather than a nested virtualenv: CI's second run is itself in a virtualenv,
    # whose packages a nested one would not see
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", "--no-deps"]
    done = subprocess.run([*install, "--target", str(site), str(source)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in site.glob("*.dist-info/entry_points.txt")] == ["entry_points.txt"]

    config = {
        "SECRET_KEY": "a-long-random-secret-for-accounts",
        "SMS_SUPPRESS_SEND": False,
        "SMS_PROVIDERS": ["acme"],
        "SMS_ACME_TOKEN": Gateway.token,
        "SMS_ACME_TEMPLATES": {"captcha": {"id": "T1", "params": ["code"]}},
        "SMS_ACME_URL": gateway,
    }
    seen = run_app(site, config)
    assert seen["module"] == "acme_flask_sms"
    assert set(seen["delivered"].values()) == {"acme"} and len(seen["delivered"]) == 3
    assert sorted(len(body["to"]) for body in Gateway.received) == [1, 2]


def test_entry_points_are_read_lazily_and_code_registration_wins(tmp_path, monkeypatch):
    install_throwaway_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "acme" in registry.provider_names()
    assert "acme_flask_sms" not in sys.modules  # listed, not imported
    assert registry.provider_class("acme").__name__ == "AcmeProvider"

    class Acme(GatewayProvider):
        pass

    flask_sms.register_provider("acme", Acme)  # code wins over an installed package
    assert registry.provider_class("acme") is Acme


def test_a_send_failure_of_a_third_party_provider_raises_send_error(make_app, fake, gateway):
    flask_sms.register_provider("mygw", GatewayProvider)
    app = gateway_app(make_app, gateway, ["mygw"], SMS_MYGW_TOKEN="wrong")
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    assert str(caught.value) == "mygw: 1001 bad token"
