"""Huawei Cloud MSGSMS ``POST /sms/batchSendSms/v1`` for the fake vendor.

Auth is the App Key/App Secret pair signed as SDK-HMAC-SHA256 ("特殊AK/SK",
api-msgsms/sms_05_0046 and the API-signing guide), checked here from the
published scheme, not with the SDK: the canonical request is rebuilt from
what arrived (the headers the request says it signed; a canonical URI that
always ends in ``/``; ``UNSIGNED-PAYLOAD`` when ``X-Sdk-Content-Sha256`` says
so), then ``hex(HMAC-SHA256(app_secret, "SDK-HMAC-SHA256\\n" + X-Sdk-Date +
"\\n" + hex(sha256(canonical))))``. :func:`authorization` is pinned to the
guide's worked example in tests/sending/test_vendor_matrix.py.

Error codes: api-msgsms/sms_05_0050 (E000045 "Authorization校验失败" for a bad
AK/SK signature, E000102 "app_key无效"), per-number statuses from
batchSendSms (E200xxx). A number abroad sent with a template that is not one of
:data:`INTL_TEMPLATE_IDS` (the account's international templates) gets the status
E200024 "没有国际短信能力" (sms_05_0051: 未开通国际短信能力).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from fake_vendor import Received, Refusal, Reply, SendFacts, VendorFake, register_fake

MAX_NUMBERS = 500  # batchSendSms: "最多允许携带500个号码"
PATH = "/sms/batchSendSms/v1"
ALGORITHM = "SDK-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"

_BAD_SIGNATURE = (400, "E000045", "Authorization校验失败")
_BAD_APP_KEY = (401, "E000102", "app_key无效")
_DATE_SKEW = (400, "E000044", "X-Sdk-Date过期")  # the text is the doc's; the code is not confirmed
_SYSTEM = (400, "E000000", "System error.")
_PARAMS = (400, "E000503", "参数格式错误")
_BAD_CHANNEL = ("E200018", "国内短信发送方通道校验失败")
_BAD_NUMBER = "E200015"  # per-number status for a number the platform cannot take (medium)
_NO_INTERNATIONAL = "E200024"  # 没有国际短信能力
#: the account's international templates (tests/vendor_config.py configures them as INTL_TEMPLATES)
INTL_TEMPLATE_IDS = ("5e7a1c3b9d2f4a6b8c0d1e2f3a4b5c6d", "6f8b2d4c0e3a5b7c9d1e2f3a4b5c6d7e")


@dataclass
class HuaweiCredentials:
    app_key: str = "hw-test-app-key-0001"
    app_secret: str = "hw-test-app-secret-XYZ"
    sender: str = "csms12345678"


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def canonical_uri(path: str) -> str:
    encoded = "/".join(_encode(unquote(segment)) for segment in path.split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_request(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, signed: list[str]
) -> str:
    """``headers`` keyed by lower-case name."""
    pairs = sorted((_encode(k), _encode(v)) for k, v in parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    payload = UNSIGNED if headers.get("x-sdk-content-sha256") == UNSIGNED else hashlib.sha256(body).hexdigest()
    return "\n".join(
        [method.upper(), canonical_uri(path), canonical_query, canonical_headers, ";".join(signed), payload]
    )


def signature(app_secret: str, x_sdk_date: str, canonical: str) -> str:
    to_sign = f"{ALGORITHM}\n{x_sdk_date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return hmac.new(app_secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, app_key: str, app_secret: str
) -> str:
    """The Authorization header a request with these parts must carry (signs every header given)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signed = sorted(lowered)
    canonical = canonical_request(method, path, query, lowered, body, signed)
    sig = signature(app_secret, lowered["x-sdk-date"], canonical)
    return f"{ALGORITHM} Access={app_key}, SignedHeaders={';'.join(signed)}, Signature={sig}"


@register_fake
class HuaweiFake(VendorFake):
    name = "huawei"
    business_error = ("E000623", "短信发送量达到限额")
    send_facts = SendFacts(
        params_on_wire=["483920", "5"],
        max_numbers=MAX_NUMBERS,
        auth_errors=("E000045",),
        rejected_code="E200041",  # a number twice in one request (E200024, no international capability, fails over)
        secret_key="SMS_HUAWEI_APP_SECRET",
        international=[["+16502530000", "+85261234567"]],  # E.164, "+" and country code
        mainland_e164=True,
    )
    correlation_field = "extend"
    push_tries = 3  # receipt pushes tried in all: unpublished

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.credentials = HuaweiCredentials()

    def claims(self, method: str, path: str, headers: Message) -> bool:
        return path.startswith("/sms/batch")

    @staticmethod
    def _reply(status: int, payload: dict[str, Any], label: str) -> Reply:
        return Reply(
            status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json;charset=UTF-8", label
        )

    def _refuse(self, status: int, code: str, message: str) -> Refusal:
        return Refusal(
            f"{code}: {message}", self._reply(status, {"code": code, "description": message}, f"refused:{code}")
        )

    def parse(
        self, method: str, path: str, query: str, headers: Message, body: bytes
    ) -> tuple[Received, tuple[str, str] | None, dict[str, Any]]:
        if path.rstrip("/") != PATH or method != "POST":
            raise Refusal(
                "404: not found", self._reply(404, {"code": "404", "description": "not found"}, "refused:404")
            )
        lowered = {k.lower(): v for k, v in headers.items()}
        self._authenticate(method, path, query, lowered, body)
        if "application/x-www-form-urlencoded" not in lowered.get("content-type", ""):
            raise self._refuse(*_SYSTEM)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        phones = self._phones(form)
        values = self._template_values(form)
        pending: tuple[str, str] | None = None
        if len(phones) > MAX_NUMBERS:
            pending = ("E000503", "参数格式错误: to 最多500个号码")
        elif form["from"] != self.credentials.sender:
            pending = _BAD_CHANNEL
        rec = Received("huawei", phones, form["templateId"], values, form.get("signature", ""), form)
        return rec, pending, {"from": form["from"], "phones": phones}

    def _authenticate(self, method: str, path: str, query: str, lowered: dict[str, str], body: bytes) -> None:
        """The App Key/App Secret signature (SDK-HMAC-SHA256): the key, the signed headers, the date, the HMAC."""
        auth = lowered.get("authorization", "")
        if not auth.startswith(ALGORITHM + " "):
            raise self._refuse(400, "E000001", "Authorization not contained in the HTTP header.")
        fields = dict(part.strip().split("=", 1) for part in auth[len(ALGORITHM) + 1 :].split(",") if "=" in part)
        signed = fields.get("SignedHeaders", "").split(";")
        if fields.get("Access") != self.credentials.app_key:
            raise self._refuse(*_BAD_APP_KEY)
        if "x-sdk-date" not in signed or "host" not in signed or any(name not in lowered for name in signed):
            raise self._refuse(*_BAD_SIGNATURE)
        try:
            when = datetime.strptime(lowered["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise self._refuse(*_BAD_SIGNATURE) from None
        if abs((datetime.now(timezone.utc) - when).total_seconds()) > 15 * 60:
            raise self._refuse(*_DATE_SKEW)
        canonical = canonical_request(method, path, query, lowered, body, signed)
        expected = signature(self.credentials.app_secret, lowered["x-sdk-date"], canonical)
        if not hmac.compare_digest(fields.get("Signature", "").encode(), expected.encode()):
            raise self._refuse(*_BAD_SIGNATURE)

    def _phones(self, form: dict[str, str]) -> list[str]:
        """The numbers of ``to``; the whole request fails without to, templateId or from, or on a character
        other than digits and +."""
        to = form.get("to", "")
        if not to or not form.get("templateId") or not form.get("from"):
            raise self._refuse(*_PARAMS)
        phones = to.split(",")
        if any(re.search(r"[^0-9+]", phone) for phone in phones):
            raise self._refuse(*_PARAMS)
        return phones

    def _template_values(self, form: dict[str, str]) -> object:
        """``templateParas``: a JSON array of strings when given (anything else is a system error)."""
        if "templateParas" not in form:
            return []
        try:
            values = json.loads(form["templateParas"])
        except ValueError:
            raise self._refuse(*_SYSTEM) from None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self._refuse(*_SYSTEM)
        return values

    def error(self, code: str, message: str, ctx: dict[str, Any], label: str) -> Reply:
        if code.startswith("E2"):  # a per-number status (E200xxx): HTTP 200, every number with that status
            return self._result(ctx["phones"], ctx["from"], dict.fromkeys(ctx["phones"], code), label)
        # request-level errors: HTTP 400/403 with code/description (sms_05_0050)
        status = 403 if code in ("E000620", "E000623") else 400
        return self._reply(status, {"code": code, "description": message}, label)

    def ok(self, rec: Received, ctx: dict[str, Any]) -> Reply:
        hits = self.fake._rejection_for("huawei", rec.phones)
        statuses = {phone: hits[phone][0] for phone in hits}
        if rec.template not in INTL_TEMPLATE_IDS:  # a mainland template reaches no number abroad
            abroad = [p for p in rec.phones if p not in statuses and not p.startswith("+86")]
            statuses.update(dict.fromkeys(abroad, _NO_INTERNATIONAL))
        failed = [code for code in statuses.values()]
        label = "ok" if not failed else "partial:" + ",".join(sorted(set(failed)))
        return self._result(rec.phones, ctx["from"], statuses, label)

    def _result(self, phones: list[str], sender: str, statuses: dict[str, str], label: str) -> Reply:
        result = []
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for phone in phones:
            status = "000000"
            if phone in statuses:
                status = statuses[phone]
            elif not re.fullmatch(r"\+\d{6,20}", phone):
                status = _BAD_NUMBER
            result.append(
                {
                    "originTo": phone,
                    "createTime": created,
                    "from": sender,
                    "smsMsgId": f"{secrets.token_hex(16)}_{secrets.randbelow(10**8)}",
                    "status": status,
                    "countryId": "CN" if phone.startswith("+86") else "",
                    "total": 1,
                }
            )
        return self._reply(200, {"code": "000000", "description": "Success", "result": result}, label)

    # -- delivery receipts (sms_05_0003 form pushes, sms_05_0063 batch JSON pushes) --------------------
    @staticmethod
    def sent_texts(rec: Received, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(E.164 number, smsMsgId, extend) of every number the reply took."""
        extend = str(rec.raw.get("extend") or "")
        return [(r["originTo"], r["smsMsgId"], extend) for r in body.get("result", []) if r["status"] == "000000"]

    @staticmethod
    def report_item(entry: Any) -> dict[str, str]:
        item = {
            "smsMsgId": entry.message_id,
            "total": "1",
            "sequence": "1",
            "status": "DELIVRD" if entry.delivered else entry.code,
            "statusDesc": "用户已成功收到短信" if entry.delivered else entry.description,
            "source": "2",
            "updateTime": entry.reported_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if entry.out_id:  # "to" comes only with extend
            item.update(extend=entry.out_id, to=entry.e164)
        return item

    def receipt_pushes(self, entries: list[Any], json_batches: bool = False) -> list[tuple[bytes, str, dict[str, str]]]:
        """One form push per report to the statusCallback, or JSON batches of 50 to the app's batch address."""
        items = [self.report_item(entry) for entry in entries]
        if json_batches:
            return [
                (json.dumps({"statusReportList": items[i : i + 50]}).encode(), "application/json", {})
                for i in range(0, len(items), 50)
            ]
        return [(urlencode(item).encode(), "application/x-www-form-urlencoded", {}) for item in items]
