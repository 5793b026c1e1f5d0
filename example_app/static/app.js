// flask_sms demo: request a code, count down to the next one, keep the dev inbox fresh.
// Plain script, no build step, no third-party code.
(function () {
  "use strict";

  var body = document.body;
  var T = JSON.parse(document.getElementById("texts").textContent);
  var lang = body.getAttribute("data-lang") || "zh-CN";
  var sendUrl = body.getAttribute("data-send-url");
  var inboxUrl = body.getAttribute("data-inbox-url");
  var message = document.getElementById("message");
  var phone = document.getElementById("phone");
  var sendButton = document.getElementById("send-code");
  var codeInput = document.getElementById("code");
  var RESEND_KEY = "flask_sms_demo.resend_at";
  var timer = null;

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function show(text, kind) {
    message.textContent = text;
    message.className = "message " + kind;
    message.hidden = false;
  }

  function remember(resendAt) {
    try {
      if (resendAt) {
        sessionStorage.setItem(RESEND_KEY, String(resendAt));
      } else {
        sessionStorage.removeItem(RESEND_KEY);
      }
    } catch (e) {
      // storage disabled: the countdown just does not survive a reload
    }
  }

  function ready() {
    clearInterval(timer);
    timer = null;
    sendButton.disabled = false;
    sendButton.textContent = T.send_code;
    remember(null);
  }

  // Disable the button until `resendAt` (ms since the epoch), showing the seconds left.
  function countdownUntil(resendAt) {
    clearInterval(timer);
    remember(resendAt);
    sendButton.disabled = true;
    function tick() {
      var left = Math.ceil((resendAt - Date.now()) / 1000);
      if (left <= 0) {
        ready();
        return;
      }
      sendButton.textContent = format(T.resend_in, { seconds: left });
    }
    tick();
    timer = setInterval(tick, 250);
  }

  async function sendCode() {
    var number = phone.value.trim();
    if (!number) {
      show(T.phone_required, "error");
      phone.focus();
      return;
    }
    sendButton.disabled = true;
    sendButton.textContent = T.sending;
    var response;
    try {
      response = await fetch(sendUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "Accept-Language": lang  // the API answers in the page's language
        },
        body: JSON.stringify({ phone: number })
      });
    } catch (e) {
      show(T.network_error, "error");
      ready();
      return;
    }
    var payload = null;
    try {
      payload = await response.json();
    } catch (e) {
      payload = null;
    }

    if (response.ok && payload && payload.ok) {
      show(format(T.code_sent, { minutes: Math.max(1, Math.floor(payload.expires_in / 60)) }), "ok");
      countdownUntil(Date.now() + payload.resend_after * 1000);
      codeInput.focus();
      refreshInbox();
      return;
    }

    var error = payload && payload.error;
    if (!error) {
      error = response.status === 429 ? "rate_limited" : response.status >= 500 ? "unavailable" : "invalid_request";
    }
    var wait = parseInt(response.headers.get("Retry-After") || "", 10);
    var text = (payload && payload.message) || format(T[error] || T.invalid_request, { retry_after: wait || 1 });
    show(text, "error");
    if (error === "rate_limited" && wait > 0) {
      countdownUntil(Date.now() + wait * 1000);
    } else {
      ready();
    }
  }

  // -- dev inbox (console provider only) ----------------------------------------------------
  function inboxItem(entry) {
    var item = document.createElement("li");
    item.className = "inbox-item";
    var meta = document.createElement("div");
    meta.className = "inbox-meta";
    var who = document.createElement("span");
    who.className = "inbox-phone";
    who.textContent = entry.phones.join(", ");
    var when = document.createElement("time");
    when.textContent = entry.time;
    meta.append(who, " ", when);
    var text = document.createElement("p");
    text.className = "inbox-text";
    var params = entry.params || {};
    if (Object.prototype.hasOwnProperty.call(params, "code")) {
      var parts = T.sms_captcha.split("{code}");
      var minutes = { minutes: params.minutes || "?" };
      var code = document.createElement("strong");
      code.className = "inbox-code";
      code.textContent = params.code;
      text.append(format(parts[0], minutes), code, format(parts.slice(1).join(""), minutes));
    } else {
      text.textContent = Object.keys(params).map(function (name) {
        return name + "=" + params[name];
      }).join(" ");
    }
    item.append(meta, text);
    return item;
  }

  async function refreshInbox() {
    if (!inboxUrl) {
      return;
    }
    try {
      var response = await fetch(inboxUrl, { headers: { "Accept": "application/json" }, cache: "no-store" });
      if (!response.ok) {
        return;
      }
      var data = await response.json();
      var list = document.getElementById("inbox-list");
      list.replaceChildren.apply(list, data.messages.map(inboxItem));
      document.getElementById("inbox-empty").hidden = data.messages.length > 0;
    } catch (e) {
      // the next poll will try again
    }
  }

  if (inboxUrl) {
    setInterval(function () {
      if (!document.hidden) {
        refreshInbox();
      }
    }, 3000);
  }

  if (sendButton) {
    sendButton.addEventListener("click", sendCode);
    phone.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {  // Enter in the phone field asks for a code, not a sign-in
        event.preventDefault();
        if (!sendButton.disabled) {
          sendCode();
        }
      }
    });
    var resendAt = null;
    try {
      resendAt = parseInt(sessionStorage.getItem(RESEND_KEY) || "", 10);
    } catch (e) {
      resendAt = null;
    }
    if (resendAt && resendAt > Date.now()) {
      countdownUntil(resendAt);  // survive the reload after a wrong code
    } else {
      remember(null);
    }
  }
})();
