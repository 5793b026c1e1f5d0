"""Every ```python block of README.md and of the docs pages runs as written, so the examples can never drift
from the code.

How they run (the docs' Quickstart says so):

* In order, like a notebook: README.md first, then the pages of docs/ in the order of the site's tables of
  contents (:func:`pages`). An example uses the ``app`` and ``sms`` of the latest example that made them. An
  example that makes an app (``app = Flask(...)``) starts a module of its own, as it would be in a real
  project, so the views of an earlier example keep their own ``sms``.
* The vendors are the loopback fake vendor: just before ``SmsExtension.init_app`` reads an app's config,
  the fake's endpoints and test credentials go in for the providers it lists; templates and sign names
  stay the example's (and are filled in only where an app has none). That is what a deployment's
  ``FLASK_SMS_*`` variables do; the example's code is not changed.
* ``redis://localhost:6379`` in a block is this test's own throwaway Redis.
* The environment holds what a deployment's would: ``SECRET_KEY`` and ``FLASK_*`` variables, for the
  examples that read their config from there.
* ``verify_slider``, which the hooks example leaves to the reader (your captcha service), is given.
* Once every block has run, :data:`CHECKS` drive what the blocks defined (their routes through a test
  client, the test function the docs show, ...). Each check is keyed by a line that appears in
  exactly one block of all the pages, so a check cannot silently stop applying.
* A block right after ``<!-- not run: <reason> -->`` is skipped; :data:`NOT_RUN` lists the reasons
  accepted (none today).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import vendor_config
from flask import Flask, session

from flask_sms import SmsExtension

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
TOCTREE = re.compile(r"^```\{toctree\}\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
#: an opening fence: ```python, ```bash, or a MyST directive such as ```{toctree} or ```{sms-options} send
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>\w*|\{[\w-]+\}(?:[ \t].*)?)[ \t]*$")
NOT_RUN_MARK = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>.+?)\s*-->\s*$")
#: the reasons a block may be left out, with why that is acceptable (keep this short)
NOT_RUN: dict[str, str] = {}
SECRET = secrets.token_hex(32)


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    source: str
    not_run: str | None
    page: str = "README.md"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _toctree_pages(page: Path) -> list[Path]:
    """``page`` and, depth first, the pages its ``{toctree}`` blocks list."""
    found = [page]
    for tree in TOCTREE.finditer(page.read_text(encoding="utf-8")):
        for entry in tree["body"].splitlines():
            entry = entry.strip()
            if entry and not entry.startswith(":"):
                found += _toctree_pages(page.parent / f"{entry}.md")
    return found


def pages() -> list[Path]:
    """README.md, then the docs pages in the order a reader meets them (the site's tables of contents)."""
    return [README, *_toctree_pages(DOCS / "index.md")]


def every_block() -> list[Block]:
    blocks = []
    for page in pages():
        name = str(page.relative_to(ROOT))
        blocks += [
            Block(block.line, block.source, block.not_run, name) for block in python_blocks(page.read_text("utf-8"))
        ]
    return blocks


def python_blocks(text: str) -> list[Block]:
    """The ```python blocks, dedented (some sit inside list items), with their not-run marks."""
    lines = text.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, start = opening["indent"], index
        index += 1
        body = []
        while index < len(lines) and not re.match(rf"^{re.escape(indent)}```\s*$", lines[index]):
            body.append(lines[index])
            index += 1
        index += 1
        if opening["lang"] != "python":
            continue
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        mark = NOT_RUN_MARK.match(before)
        blocks.append(Block(start + 1, textwrap.dedent("\n".join(body)), mark["reason"] if mark else None))
    return blocks


# -- what each block defined, driven once every block has run ---------------------------------------------
class Run:
    """What the checks share: the fake vendor, the Redis server, captured logs and output."""

    def __init__(self, fake: Any, redis_server: Any, caplog: Any, capsys: Any) -> None:
        self.fake, self.redis_server, self.caplog, self.capsys = fake, redis_server, caplog, capsys
        self.output = ""

    def code_sent_to(self, phone: str, template: str | None = None) -> str:
        texts = [r for r in self.fake.received("aliyun") if r.phones == [phone]]
        if template is not None:
            texts = [r for r in texts if r.template == template]
        assert texts, f"no text to {phone}"
        return str(texts[-1].params["code"])


def check_quick_start(ns: dict[str, Any], run: Run) -> None:
    shipped = [r for r in run.fake.received("aliyun") if r.template == "SMS_200"]
    assert shipped[0].phones == ["13800138000"] and shipped[0].params == {"order": "A1024"}
    assert shipped[0].sign_name == "我的应用"
    client = ns["app"].test_client()
    assert client.post("/sms_captcha/", json={"phone": "13700137001"}).status_code == 200
    code = run.code_sent_to("13700137001", "SMS_153055065")
    verified = client.post("/sms_captcha/verify", json={"phone": "13700137001", "code": code}).get_json()
    assert verified["ok"] is True and verified["expires_in"] == 600
    keys = redis.Redis.from_url(run.redis_server.url).keys("*sms:{captcha:+8613700137001}*")
    assert keys, "the Quick start's codes live in its Redis"


def check_readme_quick_start(ns: dict[str, Any], run: Run) -> None:
    shipped = [r for r in run.fake.received("aliyun") if r.template == "SMS_200"]
    assert shipped and shipped[0].params == {"order": "A1024"} and shipped[0].sign_name == "我的应用"
    client = ns["app"].test_client()
    assert client.post("/sms_captcha/", json={"phone": "13700137013"}).status_code == 200
    code = run.code_sent_to("13700137013", "SMS_153055065")
    assert client.post("/sms_captcha/verify", json={"phone": "13700137013", "code": code}).get_json()["ok"] is True


def check_send_sms(ns: dict[str, Any], run: Run) -> None:
    result = ns["result"]
    assert result.ok and result.provider == "aliyun"
    assert result.delivered == {"+8613800138000": "aliyun", "+8613900139000": "aliyun"}


def setup_send_error(ns: dict[str, Any], run: Run) -> None:
    run.fake.set_mode("aliyun", "business_error", code="isv.AMOUNT_NOT_ENOUGH", message="账户余额不足", times=1)
    run.fake.set_mode(
        "tencent",
        "business_error",
        code="FailedOperation.InsufficientBalanceInSmsPackage",
        message="套餐包余量不足",
        times=1,
    )


def check_send_error(ns: dict[str, Any], run: Run) -> None:
    assert "aliyun: isv.AMOUNT_NOT_ENOUGH 账户余额不足" in run.output
    assert "tencent: FailedOperation.InsufficientBalanceInSmsPackage" in run.output


def check_one_step(ns: dict[str, Any], run: Run) -> None:
    client = ns["app"].test_client()
    assert client.post("/register/code", json={"phone": "13700137002"}).status_code == 200
    code = run.code_sent_to("13700137002", "SMS_153055066")  # the register template: the purpose is offered
    assert client.post("/sms_captcha/", json={"phone": "13700137003"}).status_code == 200
    login = client.post("/login", data={"phone": "13700137003", "code": run.code_sent_to("13700137003")})
    assert login.get_json() == {"ok": True}
    with client.session_transaction() as current:
        assert current["user_phone"] == "+8613700137003"
    assert code.isdigit()


def check_two_steps(ns: dict[str, Any], run: Run) -> None:
    client = ns["app"].test_client()
    phone = "13700137004"
    assert client.post("/sms_captcha/", json={"phone": phone, "purpose": "register"}).status_code == 200
    code = run.code_sent_to(phone, "SMS_153055066")
    verified = client.post("/sms_captcha/verify", json={"phone": phone, "code": code, "purpose": "register"})
    token = verified.get_json()["token"]
    done = client.post("/register/password", data={"token": token, "password": "correct horse"})
    assert done.get_json() == {"ok": True, "phone": "+8613700137004"}
    assert "+8613700137004" in ns["USERS"]
    again = client.post("/register/password", data={"token": token, "password": "x"})
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_token"


def check_async(ns: dict[str, Any], run: Run) -> None:
    client = ns["app"].test_client()
    assert client.post("/register/code-async", json={"phone": "13700137005"}).get_json()["ok"] is True
    run.code_sent_to("13700137005", "SMS_153055066")


def check_proxy_fix(ns: dict[str, Any], run: Run) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    assert isinstance(ns["app"].wsgi_app, ProxyFix)


def check_storage(ns: dict[str, Any], run: Run) -> None:
    where = run.redis_server.url.replace("127.0.0.1", "127.0.0.1")  # redis://127.0.0.1:PORT/0
    startup = [r.getMessage() for r in run.caplog.records if r.getMessage().startswith("flask_sms: providers aliyun")]
    assert f"flask_sms: providers aliyun; storage codes in {where} (cache=), limits in {where} (limiter=)" in startup
    with ns["app"].app_context():
        assert ns["sms"].codes.storage.startswith(f"codes in {where}")


def check_memory_sizing(ns: dict[str, Any], run: Run) -> None:
    app = ns["create_app"]()
    (backend,) = app.extensions["cache"].values()
    assert backend.capacity == 500_000 and backend.part_sizes() == {"security": 0, "sms:receipt:": 0}
    assert app.test_client().post("/sms_captcha/", json={"phone": "13700137009"}).status_code == 200
    assert any(":code" in key for key in backend.items())  # the codes went to the store sized here


def check_hooks(ns: dict[str, Any], run: Run) -> None:
    client = ns["app"].test_client()
    refused = client.post("/sms_captcha/", json={"phone": "13700137006", "challenge": {"token": "a bot's"}})
    assert refused.status_code == 400 and refused.get_json()["error"] == "challenge_failed"
    solved = client.post("/sms_captcha/", json={"phone": "13700137006", "challenge": {"token": "solved"}})
    assert solved.status_code == 200
    assert redis.Redis.from_url(run.redis_server.url).keys("*sms:{captcha:+8613700137006}:code")  # cache= is Redis


def check_csrf_exempt(ns: dict[str, Any], run: Run) -> None:
    pass  # checked with the login helper below: the code request needs no CSRF token there


def check_login_helper(ns: dict[str, Any], run: Run) -> None:
    from flask_wtf.csrf import generate_csrf

    app = ns["app"]
    client = app.test_client()
    assert client.post("/sms_captcha/", json={"phone": "13700137007"}).status_code == 200  # exempt from CSRF
    code = run.code_sent_to("13700137007")
    forged = client.post("/login", data={"phone": "13700137007", "code": code})
    assert forged.status_code == 400  # CSRFProtect refused it, and the code was not used up:
    with client.session_transaction():
        pass
    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as current:
        current["csrf_token"] = raw
    signed_in = client.post("/login", data={"phone": "13700137007", "code": code, "csrf_token": token})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    with client.session_transaction() as current:
        assert current["user_phone"] == "+8613700137007"


def check_dev_inbox(ns: dict[str, Any], run: Run) -> None:
    latest = ns["latest"]
    assert latest["phone"] == "+8613800138000" and latest["channel"] == "sms" and latest["provider"] == "console"
    verified = ns["client"].post("/sms_captcha/verify", json={"phone": "13800138000", "code": latest["code"]})
    assert verified.get_json()["ok"] is True
    assert run.fake.received("aliyun") == [] or all(r.phones != ["+8613800138000"] for r in run.fake.received("aliyun"))


def check_flask_login(ns: dict[str, Any], run: Run) -> None:
    client = ns["app"].test_client()
    phone = "13700137010"
    assert client.post("/sms_captcha/", json={"phone": phone}).status_code == 200
    verified = client.post("/sms_captcha/verify", json={"phone": phone, "code": run.code_sent_to(phone)}).get_json()
    signed_in = client.post("/login/phone", data={"token": verified["token"]})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    with client.session_transaction() as current:
        assert current["_user_id"] == "+8613700137010"  # Flask-Login's session: signed in by phone
    assert client.post("/login/phone", data={"token": verified["token"]}).headers["Location"] == "/login"


def check_flask_security(ns: dict[str, Any], run: Run) -> None:
    app, security = ns["app"], ns["security"]
    app.config["WTF_CSRF_ENABLED"] = False  # the test client posts JSON without Flask-WTF's token
    with app.app_context():
        user = security.datastore.create_user(email="li@example.com", password="a long password", active=True)
        secret = security._totp_factory.generate_totp_secret()
        security.datastore.us_set(user, "sms", totp_secret=secret, phone="+8613700137011")
        security.datastore.commit()
    client = app.test_client()
    ask = {"identity": "li@example.com", "chosen_method": "sms"}
    answers = [client.post("/us-signin/send-code", json=ask).status_code for _ in range(6)]
    assert answers == [200, 429, 429, 429, 429, 429]  # six clicks, one text
    (text,) = [r for r in run.fake.received("aliyun") if r.phones == ["13700137011"]]
    assert text.template == "SMS_153055067"
    signed_in = client.post("/us-signin", json={"identity": "13700137011", "passcode": text.params["code"]})
    assert signed_in.status_code == 200, signed_in.get_json()


def check_babelplus(ns: dict[str, Any], run: Run) -> None:
    client = ns["app"].test_client()
    answer = client.post("/sms_captcha/", json={"phone": "12"}, headers={"Accept-Language": "en"}).get_json()
    assert answer["message"] == "手机号码格式不正确。"  # the forum's language, not the browser's


def check_celery(ns: dict[str, Any], run: Run) -> None:
    assert ns["again"] == ns["first"]
    assert len([r for r in run.fake.received("aliyun") if r.params == {"order": "A2048"}]) == 1
    ns["celery"].conf.task_always_eager = True  # the test runs the tasks here, without a worker
    orders = [{"phone": "13700137012", "number": "B7"}, {"phone": "13700137012", "number": "B7"}]
    ns["notify_shipped"](orders)  # the same order twice: one text
    assert len([r for r in run.fake.received("aliyun") if r.params == {"order": "B7"}]) == 1


def check_metrics(ns: dict[str, Any], run: Run) -> None:
    text = ns["app"].test_client().get("/metrics").get_data(as_text=True)
    assert 'flask_sms_sends_total{channel="sms",outcome="sent",provider="aliyun"}' in text


def check_gunicorn_conf(ns: dict[str, Any], run: Run) -> None:
    assert callable(ns["child_exit"])


def check_testing_your_app(ns: dict[str, Any], run: Run) -> None:
    app = Flask("readme_testing")
    app.testing = True
    app.config["SECRET_KEY"] = SECRET
    SmsExtension(app)
    ns["test_register_sends_a_code"](app, app.test_client())


def setup_accounts(ns: dict[str, Any], run: Run) -> None:
    run.fake.set_mode("aliyun", "business_error", times=1)  # the first account fails once


def check_accounts(ns: dict[str, Any], run: Run) -> None:
    assert "aliyun:backup\n" in run.output
    assert ns["result"].provider == "aliyun:backup"
    with ns["app"].app_context():
        ns["send_sms"]("13800138000", "promo", {})
    assert run.fake.received("aliyun")[-1].sign_name == "某某商城会员"  # the purpose's own sign name


def check_adding_a_vendor(ns: dict[str, Any], run: Run) -> None:
    ns["test_mygw_sends_the_template_to_the_gateway"]()
    assert ns["MyGatewayProvider"].name == "mygw"


def given_verify_slider(ns: dict[str, Any], run: Run) -> None:
    ns["verify_slider"] = lambda token, client_ip: token == "solved"  # your captcha service's check


Step = Callable[[dict[str, Any], Run], None]
#: a line of exactly one block -> (what to do before it runs, what to check once every block has run)
CHECKS: dict[str, tuple[Step | None, Step | None]] = {
    "sms = SmsExtension(app)  # POST /sms_captcha/ texts a code, POST /sms_captcha/verify checks it": (
        None,
        check_readme_quick_start,
    ),
    'SMS_PROVIDERS=["aliyun", "tencent"],  # failover order': (None, check_quick_start),
    'result = send_sms(["+86 138-0013-8000", "13900139000"], "shipped", {"order": "A1024"})': (None, check_send_sms),
    "except SendError as exc:": (setup_send_error, check_send_error),
    'app.config["SMS_CAPTCHA_PURPOSES"] = ["captcha", "register"]': (None, check_one_step),
    "def register_password():": (None, check_two_steps),
    "async def register_code_async():": (None, check_async),
    "app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)": (None, check_proxy_fix),
    "sms = SmsExtension(app, cache=cache, limiter=limiter)": (None, check_storage),
    '"CACHE_TYPE": "flask_sms.memory.MemoryCache",': (None, check_memory_sizing),
    "def slider_passed(challenge, client_ip):": (given_verify_slider, check_hooks),
    "csrf.exempt(sms.blueprint)": (None, check_csrf_exempt),
    "class LoginForm(FlaskForm):": (None, check_login_helper),
    "def test_register_sends_a_code(app, client):": (None, check_testing_your_app),
    'latest = client.get("/sms_dev/inbox").get_json()["messages"][0]': (None, check_dev_inbox),
    "def phone_login():": (None, check_flask_login),
    "class User(db.Model, FlaskSmsUserMixin, fsqla.FsUserMixin):": (None, check_flask_security),
    "def sms_language():": (None, check_babelplus),
    "send_task = make_send_task(celery, flask_app=app)": (None, check_celery),
    "app.wsgi_app = DispatcherMiddleware(": (None, check_metrics),
    "def child_exit(server, worker):": (None, check_gunicorn_conf),
    'SMS_PROVIDERS=["aliyun", "aliyun:backup"],': (setup_accounts, check_accounts),
    "def test_mygw_sends_the_template_to_the_gateway():": (None, check_adding_a_vendor),
}


# -- the environment --------------------------------------------------------------------------------------------
@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch, fake: Any, redis_server: Any) -> None:
    """The environment and vendors a deployment of the README's examples would have (see the module docstring)."""
    import os

    for name in list(os.environ):
        if name.startswith("FLASK_"):
            monkeypatch.delenv(name)
    environment = {
        "SECRET_KEY": SECRET,
        "FLASK_SECRET_KEY": SECRET,
        "FLASK_SMS_PROVIDERS": json.dumps(["aliyun"]),
        "FLASK_SMS_ALIYUN_SIGN_NAME": "我的应用",
        "FLASK_SMS_ALIYUN_TEMPLATES": json.dumps({"captcha": "SMS_153055065", "register": "SMS_153055066"}),
        "FLASK_CACHE_TYPE": "SimpleCache",
        "FLASK_RATELIMIT_STORAGE_URI": "memory://",
        "FLASK_SECURITY_PASSWORD_SALT": secrets.token_hex(16),
        "SECURITY_TOTP_SECRET": secrets.token_urlsafe(32),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    fake_keys = vendor_config(fake.url, fake.host)
    original = SmsExtension.init_app

    def init_app(self: SmsExtension, app: Flask) -> None:
        providers = app.config.get("SMS_PROVIDERS") or ()
        if isinstance(providers, str):
            providers = json.loads(providers) if providers.startswith("[") else providers.split(",")
        for provider in providers:
            vendor, _, label = str(provider).strip().partition(":")
            prefix = f"SMS_{vendor.upper()}_"
            own = f"SMS_{vendor.upper()}_{label.upper()}_" if label else prefix  # a second account's keys
            for key, value in fake_keys.items():
                if not key.startswith(prefix):
                    continue
                if key.endswith(("_TEMPLATES", "_SIGN_NAME")):
                    app.config.setdefault(key, value)
                else:
                    app.config[own + key[len(prefix) :]] = value
        original(self, app)

    monkeypatch.setattr(SmsExtension, "init_app", init_app)
    from flask_sms import providers

    monkeypatch.setattr(providers, "_registered", {})  # "Adding a vendor" registers one for this test only
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # the Logging example calls basicConfig()
    monkeypatch.setattr(root, "level", root.level)


def test_every_docs_page_is_in_the_site_and_the_examples_match_their_checks():
    listed = pages()
    on_disk = {path for path in DOCS.rglob("*.md") if "_generated" not in path.parts}
    assert on_disk - set(listed) == set(), "docs pages no table of contents lists (their examples would not run)"
    blocks = every_block()
    assert len(blocks) >= 12
    for line in CHECKS:
        found = [block.where for block in blocks if line in block.source]
        assert len(found) == 1, f"the check keyed {line!r} matches blocks at {found}, not exactly one"
    unexplained = [block.where for block in blocks if block.not_run and block.not_run not in NOT_RUN]
    assert unexplained == [], f"blocks marked not run without an accepted reason: {unexplained}"


def run_block(
    block: Block, namespace: dict[str, Any], run: Run, local_redis: str, checks: list[tuple[str, Step, dict[str, Any]]]
) -> dict[str, Any]:
    """Run one block in the namespace it shares with the blocks before it (a new one from each
    ``app = Flask(``), its checks' before-steps first; its after-steps go to ``checks``, each with a
    snapshot of the namespace, to run once every block ran. Returns the namespace the next block shares."""
    source = block.source.replace("redis://localhost:6379", local_redis)
    if re.search(r"^app = Flask\(", source, re.MULTILINE):
        namespace = {"__name__": "readme_example"}  # a module of its own
    steps = [steps for line, steps in CHECKS.items() if line in block.source]
    for before, _ in steps:
        if before is not None:
            before(namespace, run)
    try:
        exec(compile(source, block.where, "exec"), namespace)  # noqa: S102 -- the docs' own code
    except Exception as exc:
        pytest.fail(f"{block.where}: the example raises {exc!r}\n{block.source}")
    checks += [(block.where, after, dict(namespace)) for _, after in steps if after is not None]
    return namespace


def test_every_python_example_in_the_docs_runs(deployment, fake, redis_server, caplog, capsys):
    caplog.set_level(logging.INFO, logger="flask_sms")
    run = Run(fake, redis_server, caplog, capsys)
    local_redis = redis_server.url.rsplit("/", 1)[0]  # redis://127.0.0.1:PORT
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    checks: list[tuple[str, Step, dict[str, Any]]] = []
    ran = 0
    for block in every_block():
        if block.not_run:
            continue
        namespace = run_block(block, namespace, run, local_redis, checks)
        ran += 1
    run.output = capsys.readouterr().out
    assert ran >= 12
    for line, check, snapshot in checks:
        try:
            check(snapshot, run)
        except AssertionError as exc:
            raise AssertionError(f"{line}: {exc}") from exc


def test_every_pip_install_in_the_docs_installs_from_the_source_tree():
    """Install named a distribution that is not on the package index: until a release exists, every
    ``pip install`` the README and the docs show installs this source tree (``.``, ``-e .``, or the git URL)."""
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages())
    commands = re.findall(r"pip install ([^`\n&|;#]+)", text)
    assert commands
    from_index = [
        command.strip()
        for command in commands
        if not re.search(r"(^|\s)(-e\s+)?[\"']?\.[\[\"' ]|[\"']?\.[\"']?$|git\+https://", command.strip())
        and "flask[async]" not in command  # Flask's own extra, from the index, for async views
    ]
    assert from_index == [], from_index
