// flask_sms demo: sign in with a verification token, and keep the dev inbox fresh. Asking for a
// code (the button, the countdown, the messages) is flask_sms's own sms.js, wired up by its Jinja
// macro on the page. Plain script, no build step, no third-party code.
(function () {
  "use strict";

  var body = document.body;
  var T = JSON.parse(document.getElementById("texts").textContent);
  var inboxUrl = body.getAttribute("data-inbox-url");
  var verifyUrl = body.getAttribute("data-verify-url");
  var lang = body.getAttribute("data-lang");

  // -- the human check sms.js asks for when the server answers challenge_required --------------
  // A real app shows its captcha vendor's widget here (README, "Human checks"); offline, the demo
  // plays one: the person confirms, and the app's own /demo/human-check hands out a one-time token.
  if (window.FlaskSms) {
    window.FlaskSms.onChallenge = async function () {
      if (!window.confirm(T.human_check)) {
        return null;
      }
      var response = await fetch("/demo/human-check", { method: "POST", credentials: "same-origin" });
      return response.ok ? { token: (await response.json()).token } : null;
    };
  }

  // -- signing in: check the code at POST /sms_captcha/verify, post the token it answers -------
  // A wrong code is said on the page at once and nothing is posted, so reloading the page can
  // never send the code again. Without this script the form posts the code itself (see views.py).
  var form = document.getElementById("login-form");

  function showError(words) {
    var message = document.getElementById("message");
    message.textContent = words;
    message.className = "message error";
    message.hidden = !words;
  }

  async function verifyThenPost(event) {
    var phone = form.querySelector("[data-sms-phone]").value.trim();
    var code = form.querySelector("[data-sms-code]").value.trim();
    if (form.elements.token.value || !phone || !code) {
      return; // let the server say what is missing
    }
    event.preventDefault();
    var button = document.getElementById("login");
    button.disabled = true;
    try {
      var response = await fetch(verifyUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": lang },
        // the send answer's nonce (sms.js keeps it in the form): this browser asked for the code
        body: JSON.stringify({ phone: phone, code: code, nonce: (form.elements.sms_nonce || {}).value || "" })
      });
      var payload = await response.json();
      if (response.ok && payload.ok && payload.token) {
        form.elements.token.value = payload.token;
        form.querySelector("[data-sms-code]").value = ""; // the code is used up; the token stands for it
        form.submit();
        return;
      }
      showError(payload.message || "");
    } catch (e) {
      showError(T.network_error || "");
    }
    button.disabled = false;
  }

  if (form && verifyUrl) {
    form.addEventListener("submit", verifyThenPost);
  }

  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function two(number) {
    return (number < 10 ? "0" : "") + number;
  }

  // ["14:03:22 UTC+08:00", "2026-11-22T14:03:22+08:00"]: this browser's clock, saying whose it is
  function clockTime(iso) {
    var moment = new Date(iso);
    var minutes = -moment.getTimezoneOffset();
    var offset = (minutes < 0 ? "-" : "+") + two(Math.floor(Math.abs(minutes) / 60)) + ":" + two(Math.abs(minutes) % 60);
    var time = two(moment.getHours()) + ":" + two(moment.getMinutes()) + ":" + two(moment.getSeconds());
    var day = moment.getFullYear() + "-" + two(moment.getMonth() + 1) + "-" + two(moment.getDate());
    return [time + " UTC" + offset, day + "T" + time + offset];
  }

  // -- flask_sms's dev inbox (debug mode, console provider): each text with its delivery status, polled every 3 s --
  function inboxItem(entry) {
    var item = document.createElement("li");
    item.className = "inbox-item";
    var meta = document.createElement("div");
    meta.className = "inbox-meta";
    var who = document.createElement("span");
    who.className = "inbox-phone";
    who.textContent = entry.phone;
    var when = document.createElement("time");
    var shown = clockTime(entry.sent_at);
    when.textContent = shown[0];
    when.setAttribute("datetime", shown[1]);
    var status = document.createElement("span");
    status.className = "inbox-status status-" + entry.status;
    status.setAttribute("data-status", entry.status);
    status.textContent = T["status_" + entry.status] || entry.status;
    if (entry.status_code) {
      status.title = entry.status_code;
    }
    meta.append(who, " ", when, " ", status);
    var text = document.createElement("p");
    text.className = "inbox-text";
    var params = entry.params || {};
    if (Object.prototype.hasOwnProperty.call(params, "code")) {
      var parts = (entry.channel === "voice" ? T.voice_captcha : T.sms_captcha).split("{code}");
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

  // sms.js fires "sms:sent" on its fields when a code went out: show it in the inbox at once
  document.addEventListener("sms:sent", refreshInbox);
})();
