"""Human texts for every error code, in zh-CN and en, and the JSON error body."""

from __future__ import annotations

import weakref

from flask import Flask, current_app, has_app_context, has_request_context, jsonify, request
from werkzeug.wrappers import Response

from . import codes

LANGUAGES = ("zh-CN", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "zh-CN": {
        codes.INVALID_REQUEST: "请求格式不正确。",
        codes.INVALID_PHONE: "手机号码格式不正确。",
        codes.REGION_NOT_ALLOWED: "暂不支持该国家或地区的手机号码。",
        codes.INVALID_PURPOSE: "不支持的验证码用途。",
        codes.INVALID_CODE: "验证码不正确。",
        codes.CODE_EXPIRED: "验证码已失效，请重新获取。",
        codes.TOO_MANY_ATTEMPTS: "验证码错误次数过多，请重新获取。",
        codes.FORBIDDEN: "请先完成人机验证。",
        codes.RATE_LIMITED: "操作过于频繁，请 {retry_after} 秒后再试。",
        codes.SEND_FAILED: "短信发送失败，请稍后再试。",
        codes.UNAVAILABLE: "服务暂时不可用，请稍后再试。",
        codes.CSRF_FAILED: "页面已过期（安全令牌无效），请刷新页面后重试。",
    },
    "en": {
        codes.INVALID_REQUEST: "The request is malformed.",
        codes.INVALID_PHONE: "That is not a valid phone number.",
        codes.REGION_NOT_ALLOWED: "Phone numbers from that country or region are not supported.",
        codes.INVALID_PURPOSE: "That verification purpose is not supported.",
        codes.INVALID_CODE: "The code is incorrect.",
        codes.CODE_EXPIRED: "The code has expired. Please request a new one.",
        codes.TOO_MANY_ATTEMPTS: "Too many wrong codes. Please request a new one.",
        codes.FORBIDDEN: "Please complete the human check first.",
        codes.RATE_LIMITED: "Too many requests. Please try again in {retry_after} seconds.",
        codes.SEND_FAILED: "The text message could not be sent. Please try again later.",
        codes.UNAVAILABLE: "The service is temporarily unavailable. Please try again later.",
        codes.CSRF_FAILED: "The page has expired (its security token is missing or invalid). Please reload it and try again.",
    },
}

# SMS_LANGUAGE per app, validated once by the config loader and handed down here at init_app.
_configured: weakref.WeakKeyDictionary[Flask, str | None] = weakref.WeakKeyDictionary()


def set_language(app: Flask, language: str | None) -> None:
    _configured[app] = language


def language() -> str:
    """``SMS_LANGUAGE`` if set, else the best match for ``Accept-Language``, else zh-CN."""
    configured = _configured.get(current_app._get_current_object()) if has_app_context() else None  # type: ignore[attr-defined]
    if configured:
        return configured
    if has_request_context():
        best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
        return "en" if best == "en" else "zh-CN"
    return "zh-CN"


def message_for(error: str, retry_after: int | None = None, *, lang: str | None = None) -> str:
    texts = MESSAGES.get(lang or language(), MESSAGES["zh-CN"])
    return texts.get(error, texts[codes.INVALID_REQUEST]).format(retry_after=retry_after or 1)


def json_error(error: str, status: int, retry_after: int | None = None, message: str | None = None) -> Response:
    response = jsonify(ok=False, error=error, message=message or message_for(error, retry_after))
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
