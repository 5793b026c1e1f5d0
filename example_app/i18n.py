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
        "login": "登录",
        "phone_required": "请输入手机号。",
        "code_required": "请输入验证码。",
        "network_error": "网络错误，请检查网络后重试。",
        "csrf_failed": "页面已过期，请刷新后重试。",
        "signed_in_title": "登录成功",
        "signed_in_as": "当前账号：",
        "signed_in_note": "这是演示应用的登录状态，保存在会话（session）中。",
        "logout": "退出登录",
        "inbox_title": "开发收件箱",
        "inbox_note": "console 提供方不会真正发送短信，最近“发出”的 50 条短信显示在这里（flask_sms 的开发收件箱，仅限调试模式）。",
        "inbox_empty": "暂无短信。",
        "sms_captcha": "您的验证码是 {code}，{minutes} 分钟内有效。",
        "voice_captcha": "语音电话：您的验证码是 {code}，{minutes} 分钟内有效。",
        "status_sent": "已提交",
        "status_delivered": "已送达",
        "status_failed": "未送达",
        "providers_note": "短信提供方：{providers}；存储：{storage}",
        "human_check": "为防止短信被刷，请先完成人机验证：确认您不是机器人？（演示用的本地验证）",
        "unavailable_title": "短信服务暂不可用",
        "unavailable_note": "服务器的短信配置有误，修正之前无法发送验证码。",
        "unavailable_fix": "在服务器上运行 flask --app example_app sms check 可列出所有问题。",
    },
    "en": {
        "title": "Sign in with an SMS code",
        "subtitle": "flask_sms demo app",
        "switch_language": "中文",
        "login": "Sign in",
        "phone_required": "Please enter your phone number.",
        "code_required": "Please enter the code.",
        "network_error": "Network error. Please check your connection and try again.",
        "csrf_failed": "This page has expired. Please reload it and try again.",
        "signed_in_title": "You are signed in",
        "signed_in_as": "Signed in as ",
        "signed_in_note": "This is the demo app's sign-in state, kept in the session.",
        "logout": "Sign out",
        "inbox_title": "Dev inbox",
        "inbox_note": "The console provider sends nothing; the last 50 texts it “sent” appear here (flask_sms's dev inbox, debug mode only).",
        "inbox_empty": "No texts yet.",
        "sms_captcha": "Your code is {code}. It is valid for {minutes} minutes.",
        "voice_captcha": "Call: your code is {code}. It is valid for {minutes} minutes.",
        "status_sent": "sent",
        "status_delivered": "delivered",
        "status_failed": "not delivered",
        "providers_note": "SMS providers: {providers}; storage: {storage}",
        "human_check": "To stop SMS abuse, please complete a human check first: confirm you are not a robot? (the demo's local check)",
        "unavailable_title": "SMS sign-in is unavailable",
        "unavailable_note": "The server's SMS config has problems: no code can be sent until they are fixed.",
        "unavailable_fix": "On the server, flask --app example_app sms check lists every problem.",
    },
}

for _language, _table in TEXTS.items():
    _table.update(MESSAGES[_language])

#: the texts the page's script needs (the code request itself is flask_sms's sms.js, with flask_sms's texts)
SCRIPT_KEYS = (
    "inbox_empty",
    "sms_captcha",
    "voice_captcha",
    "network_error",
    "status_sent",
    "status_delivered",
    "status_failed",
    "human_check",
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
