"""``SMS_PROXY`` and the standard proxy variables, for every vendor, through a real HTTP proxy.

The proxy below is a small forwarding HTTP proxy in the test process: it takes
absolute-URI requests (``POST http://host:port/path``), forwards them to the
loopback fake vendor and records what went through it. Each vendor's real SDK
(or our session) is driven against it; ``NO_PROXY`` must be honoured exactly as
``requests`` honours it, which the Aliyun SDK (ignores it) and the Tencent SDK
(substring test) get wrong on their own.
"""

from __future__ import annotations

import http.client
import logging
import select
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import need_binary
from fake_vendor import unused_port
from flask import Flask
from vendor_config import vendor_config

from flask_sms import SendError, SmsExtension, send_sms

# the Aliyun SDK's vendored urllib3 uses deprecated ssl calls on https
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:aliyunsdkcore")

VENDORS = ["aliyun", "tencent", "ronglian", "ihuyi", "huawei", "volcengine", "baidu", "qiniu", "yunpian", "netease"]
# Aliyun through its V2.0 SDK (SMS_ALIYUN_SDK = "v2"): it reads HTTP(S)_PROXY itself and ignores NO_PROXY
VENDORS.append("aliyun-v2")


def _vendor(entry: str) -> str:
    """The fake vendor (and provider) of a test's vendor entry."""
    return entry.removesuffix("-v2")


PARAMS = {"code": "483920", "minutes": 5, "name": "张三"}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if not target.scheme or not target.hostname:  # an origin-form request line: not proxy traffic
            self.server.refused.append(self.path)
            self.send_error(400, "proxy needs an absolute URI")
            return
        self.server.seen.append((self.command, target.netloc, target.path, self.headers.get("Proxy-Authorization")))
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "proxy-connection")
        }
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            upstream.request(self.command, path or "/", body=body, headers=headers)
            reply = upstream.getresponse()
            content = reply.read()
        finally:
            upstream.close()
        self.send_response(reply.status, reply.reason)
        for name, value in reply.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(content)
        self.close_connection = True

    do_GET = do_POST = do_PUT = _forward

    def do_CONNECT(self) -> None:
        """A tunnel for an https:// endpoint: the proxy sees only the host and port."""
        self.server.seen.append(("CONNECT", self.path, "", self.headers.get("Proxy-Authorization")))
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        _relay(self.connection, upstream)
        self.close_connection = True


def _relay(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    try:
        while True:
            ready, _, _ = select.select([one, other], [], [], 10)
            if not ready:
                return
            for source in ready:
                data = source.recv(65536)
                if not data:
                    return
                (other if source is one else one).sendall(data)
    except OSError:
        return
    finally:
        other.close()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[tuple[str, str, str, str | None]] = []  # method, host:port, path, Proxy-Authorization
        self.refused: list[str] = []


@pytest.fixture(scope="module")
def proxy_server() -> Iterator[_ProxyServer]:
    server = _ProxyServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def proxy(proxy_server: _ProxyServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[_ProxyServer]:
    """The recording proxy, with no proxy variable of the host's environment leaking in."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    proxy_server.seen.clear()
    proxy_server.refused.clear()
    proxy_server.url = f"http://127.0.0.1:{proxy_server.server_address[1]}"  # type: ignore[attr-defined]
    yield proxy_server


class _TlsFront:
    """TLS in front of the fake vendor, with a throw-away certificate for 127.0.0.1."""

    def __init__(self, fake: Any, cert: str, key: str) -> None:
        self.fake = fake
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.localhost = f"localhost:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        _relay(tls, socket.create_connection(("127.0.0.1", self.fake.port)))

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    openssl = need_binary("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    request = ("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1")
    names = ("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    subprocess.run([openssl, *request, *names], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_front(fake: Any, tls_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[_TlsFront]:
    """The fake vendor behind TLS, its certificate trusted the way each SDK looks for one."""
    cert, key = tls_files
    monkeypatch.setenv("SSL_CERT_FILE", cert)  # http.client's default context (Baidu)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)  # requests with trust_env (our sessions, Huawei, Ronglian)
    monkeypatch.setenv("ALIBABA_CLOUD_CA_BUNDLE", cert)  # the Aliyun SDK
    front = _TlsFront(fake, cert, key)
    yield front
    front.close()


def _https(config: dict[str, Any]) -> dict[str, Any]:
    """Every endpoint on https://."""
    for name, value in list(config.items()):
        if name.endswith("_SCHEME"):
            config[name] = "https"
        elif isinstance(value, str) and value.startswith("http://"):
            config[name] = "https://" + value.removeprefix("http://")
    return config


def _app(fake: Any, vendor: str, host: str | None = None, **config: Any) -> Flask:
    """An app whose one provider talks to the fake at ``host`` (``127.0.0.1:port`` or ``localhost:port``)."""
    host = host or fake.host
    app = Flask("flask_sms_proxy_tests")
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=[_vendor(vendor)],
        SMS_SUPPRESS_SEND=False,
        SMS_TIMEOUT=2,
        SMS_CIRCUIT_BREAKER=None,
        **(_https if config.pop("https", False) else dict)(vendor_config(f"http://{host}", host)),
    )
    if vendor.endswith("-v2"):
        app.config["SMS_ALIYUN_SDK"] = "v2"
    app.config.update(config)
    SmsExtension(app)
    return app


def _send(app: Flask) -> Any:
    with app.app_context():
        return send_sms("13800138000", "captcha", PARAMS)


def assert_proxied(proxy: _ProxyServer, fake: Any, vendor: str, host: str, result: Any) -> None:
    assert result.ok, result.attempts
    assert len(fake.received(_vendor(vendor))) == 1
    assert [seen[1] for seen in proxy.seen] == [host], "the request should have gone through the proxy"
    assert not proxy.refused


def assert_direct(proxy: _ProxyServer, fake: Any, vendor: str, result: Any) -> None:
    assert result.ok, result.attempts
    assert len(fake.received(_vendor(vendor))) == 1
    assert proxy.seen == [] and proxy.refused == [], "the request should have gone straight to the vendor"


def localhost(fake: Any) -> str:
    return f"localhost:{fake.port}"


# -- SMS_PROXY -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_sms_proxy_carries_every_vendor_call(proxy, fake, vendor):
    result = _send(_app(fake, vendor, SMS_PROXY=proxy.url))
    assert_proxied(proxy, fake, vendor, fake.host, result)


@pytest.mark.parametrize("vendor", VENDORS)
def test_sms_proxy_with_credentials_sends_them_to_the_proxy(proxy, fake, caplog, vendor):
    caplog.set_level(logging.DEBUG)
    result = _send(_app(fake, vendor, SMS_PROXY=proxy.url.replace("http://", "http://ops:p%40ss-7351@")))
    assert_proxied(proxy, fake, vendor, fake.host, result)
    assert proxy.seen[0][3] == "Basic b3BzOnBAc3MtNzM1MQ=="  # ops:p@ss-7351
    assert "ss-7351" not in caplog.text and "b3BzOnBAc3MtNzM1MQ" not in caplog.text


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "*", "example.com, 127.0.0.1"])
def test_no_proxy_sends_straight_to_the_vendor_even_with_sms_proxy(proxy, fake, monkeypatch, vendor, no_proxy):
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert_direct(proxy, fake, vendor, _send(_app(fake, vendor, SMS_PROXY=proxy.url)))


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_proxy_names_a_host_without_its_port(proxy, fake, monkeypatch, vendor):
    # requests: "localhost" matches the endpoint localhost:<port>; Tencent's substring test does not
    monkeypatch.setenv("no_proxy", "localhost")
    assert_direct(proxy, fake, vendor, _send(_app(fake, vendor, localhost(fake), SMS_PROXY=proxy.url)))


@pytest.mark.parametrize("vendor", VENDORS)
def test_sms_proxy_false_goes_direct_whatever_the_environment_says(proxy, fake, monkeypatch, vendor):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    assert_direct(proxy, fake, vendor, _send(_app(fake, vendor, SMS_PROXY=False)))


# -- the environment (SMS_PROXY unset) -----------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_environment_proxy_carries_every_vendor_call(proxy, fake, monkeypatch, vendor, variable):
    monkeypatch.setenv(variable, proxy.url)
    assert_proxied(proxy, fake, vendor, fake.host, _send(_app(fake, vendor)))


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("no_proxy", "endpoint"),
    [
        ("127.0.0.1", "ip"),  # the Aliyun SDK ignores NO_PROXY; Tencent's test misses "127.0.0.1:<port>"
        ("127.0.0.0/8", "ip"),
        ("*", "ip"),
        ("localhost", "localhost"),
        (".localhost", "localhost"),  # a domain suffix written with its dot
    ],
)
def test_environment_no_proxy_is_honoured_as_requests_honours_it(proxy, fake, monkeypatch, vendor, no_proxy, endpoint):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    host = fake.host if endpoint == "ip" else localhost(fake)
    assert_direct(proxy, fake, vendor, _send(_app(fake, vendor, host)))


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_proxy_that_only_contains_the_endpoint_text_does_not_bypass(proxy, fake, monkeypatch, vendor):
    # "localhost:<port>" is inside "notlocalhost:<port>" but names another host: through the proxy
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", f"notlocalhost:{fake.port}")
    assert_proxied(proxy, fake, vendor, localhost(fake), _send(_app(fake, vendor, localhost(fake))))


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_route_is_decided_when_the_app_starts(proxy, fake, monkeypatch, vendor):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    app = _app(fake, vendor)
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("NO_PROXY", "*")
    assert_proxied(proxy, fake, vendor, fake.host, _send(app))


@pytest.mark.parametrize("vendor", VENDORS)
def test_https_proxy_variable_is_not_used_for_an_http_endpoint(proxy, fake, monkeypatch, vendor):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    assert_direct(proxy, fake, vendor, _send(_app(fake, vendor)))


# -- https endpoints: a CONNECT tunnel ------------------------------------------------------------------------------
# Tencent is left out: its SDK always verifies against certifi's bundle, which cannot trust a test certificate.
def _https_host(tls_front: _TlsFront, vendor: str) -> str:
    """The TLS front by address, or by name for the Aliyun V2 SDK: its TLS context (check_hostname on)
    cannot reach an IP-address endpoint with urllib3 1.x, which sends no server name for an address."""
    return tls_front.localhost if vendor == "aliyun-v2" else tls_front.host


@pytest.mark.parametrize("vendor", [name for name in VENDORS if name != "tencent"])
def test_https_endpoint_goes_through_a_connect_tunnel(proxy, fake, tls_front, vendor):
    host = _https_host(tls_front, vendor)
    result = _send(_app(fake, vendor, host, https=True, SMS_PROXY=proxy.url.replace("http://", "http://ops:pw@")))
    assert result.ok, result.attempts
    assert len(fake.received(_vendor(vendor))) == 1
    assert [(seen[0], seen[1], seen[3]) for seen in proxy.seen] == [("CONNECT", host, "Basic b3BzOnB3")]


@pytest.mark.parametrize("vendor", [name for name in VENDORS if name != "tencent"])
def test_https_endpoint_with_no_proxy_goes_direct(proxy, fake, tls_front, monkeypatch, vendor):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    result = _send(_app(fake, vendor, _https_host(tls_front, vendor), https=True))
    assert_direct(proxy, fake, vendor, result)


# -- a proxy that is down -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_dead_proxy_fails_over_as_nothing_was_sent(proxy, fake, caplog, vendor):
    caplog.set_level(logging.DEBUG)
    app = _app(fake, vendor, SMS_PROXY=f"http://ops:proxy-pass-9271@127.0.0.1:{unused_port()}")
    with app.app_context(), pytest.raises(SendError) as caught:
        send_sms("13800138000", "captcha", PARAMS)
    (attempt,) = caught.value.attempts
    assert attempt.outcome == "failed", (attempt.code, attempt.message)
    assert fake.received(_vendor(vendor)) == []
    # the proxy's password reaches neither the error nor a log record
    assert "proxy-pass-9271" not in f"{caught.value} {attempt.message}"
    assert "proxy-pass-9271" not in caplog.text


def test_socks_proxy_without_pysocks_is_a_config_error(proxy, fake):
    try:
        import socks  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("PySocks is installed here")
    from flask_sms import ConfigError

    app = _app(fake, "netease", SMS_PROXY="socks5h://ops:secret-pass@127.0.0.1:1080")
    with pytest.raises(ConfigError, match="PySocks") as caught:
        app.extensions["sms"].check(app)
    assert "secret-pass" not in str(caught.value)


@pytest.mark.parametrize("proxy_url", ["https://127.0.0.1:3129", "socks5://127.0.0.1:1080"])
def test_baidu_refuses_a_proxy_its_sdk_cannot_reach_at_startup(proxy, fake, proxy_url):
    from flask_sms import ConfigError

    app = _app(fake, "baidu", SMS_PROXY=proxy_url)
    with pytest.raises(ConfigError, match=r"http:// only|PySocks"):
        app.extensions["sms"].check(app)
