"""Property: whatever is posted to the receipt route, it answers 2xx/4xx (never 5xx), and what fires
``delivery_reported`` is a vendor's report: a status, and its message id or else its phone and time."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_sms import SmsExtension, delivery_reported

TOKEN = "fuzz-receipt-token-0123456789"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
VENDOR_KEYS = {
    "aliyun": ["phone_number", "send_time", "report_time", "success", "err_code", "err_msg", "biz_id", "out_id"],
    "tencent": ["user_receive_time", "nationcode", "mobile", "report_status", "errmsg", "description", "sid", "ext"],
    "ronglian": ["action", "content", "fromNum", "dateSent", "deliverCode", "recvTime", "status", "reqId"],
}


def vendor_shaped(provider: str) -> st.SearchStrategy[object]:
    """The vendor's field names, with random values: the closest a random body gets to a real push."""
    item = st.fixed_dictionaries({}, optional=dict.fromkeys(VENDOR_KEYS[provider], json_values))
    if provider == "ronglian":
        return st.fixed_dictionaries({"Request": item})
    return st.lists(item, max_size=5)


def xmlish() -> st.SearchStrategy[bytes]:
    tags = st.sampled_from(VENDOR_KEYS["ronglian"] + ["Request", "x", "!DOCTYPE", "?xml"])
    parts = st.lists(st.tuples(tags, st.text(max_size=12)), max_size=8)
    return parts.map(lambda pairs: "".join(f"<{t}>{v}</{t}>" for t, v in pairs).encode("utf-8", "replace"))


@pytest.fixture(scope="module")
def fuzz_app():
    from flask import Flask

    app = Flask("receipt_fuzz")
    app.config.update(
        SECRET_KEY="test-secret-key-for-flask-sms",
        SMS_PROVIDERS=["console"],
        SMS_RECEIPT_TOKEN=TOKEN,
        SMS_RECEIPT_MAX_BYTES=4096,
    )
    SmsExtension(app)
    from helpers import FakeClock

    app.extensions["sms"].clock = FakeClock()  # each example a minute later: wrong tokens never add up to a 429
    return app


@pytest.fixture
def fired():
    reports: list[object] = []

    def listen(sender: object, **kwargs: object) -> None:
        reports.append(kwargs)

    delivery_reported.connect(listen)
    yield reports
    delivery_reported.disconnect(listen)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    provider=st.sampled_from(["aliyun", "tencent", "ronglian", "ihuyi", "x"]),
    data=st.data(),
    content_type=st.sampled_from(["application/json", "application/xml", "text/plain", ""]),
    token=st.sampled_from([TOKEN, "", TOKEN + "x"]),
)
def test_random_bodies_never_5xx_and_never_fire(fuzz_app, fired, provider, data, content_type, token):
    import json

    shaped = vendor_shaped(provider) if provider in VENDOR_KEYS else json_values
    body = data.draw(
        st.one_of(
            st.binary(max_size=300),
            xmlish(),
            json_values.map(lambda v: json.dumps(v).encode()),
            shaped.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
        )
    )
    fuzz_app.extensions["sms"].clock.advance(61)
    before = len(fired)
    answer = fuzz_app.test_client().post(
        f"/sms_receipts/{provider}?token={token}", data=body, headers={"Content-Type": content_type}
    )
    assert answer.status_code < 500, answer.data
    assert answer.status_code in (200, 400, 403, 404, 413)
    if answer.status_code != 200:
        assert answer.is_json and answer.get_json()["ok"] is False
    for kwargs in fired[before:]:
        report = kwargs["report"]
        assert answer.status_code == 200 and token == TOKEN and report.provider == provider
        assert report.status in ("delivered", "failed")
        assert report.message_id or (report.phone and report.delivered_at)
        assert report.phone == "" or report.phone.startswith("+")
