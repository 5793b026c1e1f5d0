"""Human texts for every error code, in zh-CN and en, and the JSON error body."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, has_app_context, has_request_context, jsonify, request
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from .errors import CaptchaError

LANGUAGES = ("zh-CN", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "invalid_request": "请求格式不正确。",
        "invalid_phone": "手机号码格式不正确。",
        "region_not_allowed": "暂不支持该国家或地区的手机号码。",
        "invalid_purpose": "不支持的验证码用途。",
        "invalid_code": "验证码不正确。",
        "code_expired": "验证码已失效，请重新获取。",
        "too_many_attempts": "验证码错误次数过多，请重新获取。",
        "forbidden": "请先完成人机验证。",
        "rate_limited": "操作过于频繁，请 {retry_after} 秒后再试。",
        "send_failed": "短信发送失败，请稍后再试。",
        "unavailable": "服务暂时不可用，请稍后再试。",
    },
    "en": {
        "invalid_request": "The request is malformed.",
        "invalid_phone": "That is not a valid phone number.",
        "region_not_allowed": "Phone numbers from that country or region are not supported.",
        "invalid_purpose": "That verification purpose is not supported.",
        "invalid_code": "The code is incorrect.",
        "code_expired": "The code has expired. Please request a new one.",
        "too_many_attempts": "Too many wrong codes. Please request a new one.",
        "forbidden": "Please complete the human check first.",
        "rate_limited": "Too many requests. Please try again in {retry_after} seconds.",
        "send_failed": "The text message could not be sent. Please try again later.",
        "unavailable": "The service is temporarily unavailable. Please try again later.",
    },
}


def language() -> str:
    """``SMS_LANGUAGE`` if set, else the best match for ``Accept-Language``, else zh-CN."""
    configured = current_app.config.get("SMS_LANGUAGE") if has_app_context() else None
    if configured:
        return configured
    if has_request_context():
        best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
        return "en" if best == "en" else "zh-CN"
    return "zh-CN"


def message_for(error: str, retry_after: int | None = None) -> str:
    texts = MESSAGES.get(language(), MESSAGES["zh-CN"])
    return texts.get(error, texts["invalid_request"]).format(retry_after=retry_after or 1)


def json_error(error: str, status: int, retry_after: int | None = None, message: str | None = None) -> Response:
    response = jsonify(ok=False, error=error, message=message or message_for(error, retry_after))
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def error_response(exc: CaptchaError) -> Response:
    return json_error(exc.error, exc.code or 400, exc.retry_after, exc.description)
