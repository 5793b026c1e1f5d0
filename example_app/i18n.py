"""Page texts in zh-CN (the default) and en.

Error texts are flask_sms's own (``flask_sms.messages.MESSAGES``), keyed by
error code. The browser shows the ``message`` the API sends (it follows
``Accept-Language``, which the page's script sets to the page language); the
same texts serve the login view and the script's fallback.
"""

from __future__ import annotations

from flask import request, session

from flask_sms.messages import MESSAGES

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "短信验证码登录",
        "subtitle": "flask_sms 演示应用",
        "switch_language": "English",
        "phone_label": "手机号",
        "phone_placeholder": "例如 138 0013 8000",
        "send_code": "获取验证码",
        "resend_in": "{seconds} 秒后重新获取",
        "sending": "发送中…",
        "code_label": "验证码",
        "code_placeholder": "短信中的数字",
        "login": "登录",
        "code_sent": "验证码已发送，{minutes} 分钟内有效。",
        "phone_required": "请输入手机号。",
        "code_required": "请输入验证码。",
        "csrf_failed": "页面已过期，请刷新后重试。",
        "network_error": "网络连接失败，请检查网络后重试。",
        "signed_in_title": "登录成功",
        "signed_in_as": "当前账号：",
        "signed_in_note": "这是演示应用的登录状态，保存在会话（session）中。",
        "logout": "退出登录",
        "inbox_title": "开发收件箱",
        "inbox_note": "console 提供方不会真正发送短信，最近 {minutes} 分钟内“发出”的短信显示在这里。",
        "inbox_empty": "暂无短信。",
        "sms_captcha": "您的验证码是 {code}，{minutes} 分钟内有效。",
        "providers_note": "短信提供方：{providers}；存储：{storage}",
    },
    "en": {
        "title": "Sign in with an SMS code",
        "subtitle": "flask_sms demo app",
        "switch_language": "中文",
        "phone_label": "Phone number",
        "phone_placeholder": "e.g. 138 0013 8000",
        "send_code": "Get code",
        "resend_in": "Resend in {seconds}s",
        "sending": "Sending…",
        "code_label": "Verification code",
        "code_placeholder": "The digits in the text",
        "login": "Sign in",
        "code_sent": "Code sent. It is valid for {minutes} minutes.",
        "phone_required": "Please enter your phone number.",
        "code_required": "Please enter the code.",
        "csrf_failed": "This page has expired. Please reload it and try again.",
        "network_error": "Network error. Please check your connection and try again.",
        "signed_in_title": "You are signed in",
        "signed_in_as": "Signed in as ",
        "signed_in_note": "This is the demo app's sign-in state, kept in the session.",
        "logout": "Sign out",
        "inbox_title": "Dev inbox",
        "inbox_note": "The console provider sends nothing; texts “sent” in the last {minutes} minutes appear here.",
        "inbox_empty": "No texts yet.",
        "sms_captcha": "Your code is {code}. It is valid for {minutes} minutes.",
        "providers_note": "SMS providers: {providers}; storage: {storage}",
    },
}

for _language, _table in TEXTS.items():
    _table.update(MESSAGES[_language])

#: the texts the page's script needs
SCRIPT_KEYS = (
    "send_code",
    "resend_in",
    "sending",
    "code_sent",
    "phone_required",
    "network_error",
    "inbox_empty",
    "sms_captcha",
    "invalid_request",
    "invalid_phone",
    "region_not_allowed",
    "invalid_purpose",
    "forbidden",
    "rate_limited",
    "send_failed",
    "unavailable",
)


def current_language() -> str:
    """``?lang=`` (remembered in the session), else the session's choice, else zh-CN."""
    asked = request.args.get("lang")
    if asked:
        chosen = "en" if asked.lower().startswith("en") else DEFAULT_LANGUAGE
        session["lang"] = chosen
        return chosen
    remembered = session.get("lang")
    return remembered if remembered in LANGUAGES else DEFAULT_LANGUAGE


def texts(language: str) -> dict[str, str]:
    return TEXTS.get(language, TEXTS[DEFAULT_LANGUAGE])


def error_text(language: str, error: str, retry_after: int | None = None) -> str:
    table = texts(language)
    return table.get(error, table["invalid_request"]).format(retry_after=retry_after or 1)
