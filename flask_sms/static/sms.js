/* flask_sms front-end helper: ask for a code, count down to the next one, show the errors.
 *
 * Served by the blueprint: <script src="{{ url_for('sms.static', filename='sms.js') }}" defer></script>
 * No dependencies, no build step. Every element with a `data-sms` attribute (the Jinja macro
 * `sms_code_fields` renders one) is wired up when the page loads; `FlaskSms.attach(element)` wires
 * up one you add later. Inside it:
 *   [data-sms-phone]  the phone input        [data-sms-send]     the "get code" button
 *   [data-sms-code]   the code input         [data-sms-message]  where messages go
 *   [data-sms-send][data-sms-channel="voice"]  the "call me instead" button (the macro's channel_button):
 *                     hidden until a send answer carries "voice_after" (the server offers a call for that
 *                     phone), enabled that many seconds later; a click asks for the code by phone call
 * and on the element itself: data-sms-url (the send route), data-sms-purpose, data-sms-lang,
 * data-sms-texts (JSON: the button texts and fallback messages), data-sms-message-target (a CSS
 * selector for a message element elsewhere on the page).
 * The CSRF token, when the page has one (a `csrf_token` field in the enclosing form, or
 * <meta name="csrf-token" content="...">), is sent in the X-CSRFToken header, as Flask-WTF expects.
 * Events on the element: "sms:sent" (detail: the JSON reply and its channel), "sms:error" (detail: {error,
 * message, status, channel}); FlaskSms.attach(element) answers {send(channel), show(text, kind)}.
 * The send answer's nonce goes into [data-sms-nonce] (the macro's hidden `sms_nonce` field), so the
 * verify the form posts is the code owner's; FlaskSms.nonce(element) answers it too.
 * Human checks: when the server answers `challenge_required`, sms.js calls
 * FlaskSms.onChallenge(element, reply) (or the element's own `flaskSmsChallenge` function), which
 * returns the solved check's object (or a Promise of it), and sends the request again with it as
 * `challenge`. Without a callback the answer's message is shown.
 */
(function (window, document) {
  "use strict";

  var STORE_PREFIX = "flask_sms.resend_at:";

  function format(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function csrfToken(root) {
    var form = root.closest ? root.closest("form") : null;
    var field = root.getAttribute("data-sms-csrf-field") || "csrf_token";
    var input = (form || document).querySelector("input[name='" + field + "']");
    if (input && input.value) {
      return input.value;
    }
    var meta = document.querySelector("meta[name='csrf-token']");
    return meta ? meta.getAttribute("content") : "";
  }

  function attach(root) {
    if (!root || root.__flaskSms) {
      return root && root.__flaskSms;
    }
    var texts = {};
    try {
      texts = JSON.parse(root.getAttribute("data-sms-texts") || "{}");
    } catch (e) {
      texts = {};
    }
    var url = root.getAttribute("data-sms-url");
    var purpose = root.getAttribute("data-sms-purpose");
    var lang = root.getAttribute("data-sms-lang");
    var phone = root.querySelector("[data-sms-phone]");
    var all = Array.prototype.slice.call(root.querySelectorAll("[data-sms-send]"));
    function isCall(each) {
      return each.getAttribute("data-sms-channel") === "voice";
    }
    var senders = all.filter(function (each) {
      return !isCall(each);
    });
    var calls = all.filter(isCall);
    var button = senders[0] || null;
    var code = root.querySelector("[data-sms-code]");
    var target = root.getAttribute("data-sms-message-target");
    var message = (target && document.querySelector(target)) || root.querySelector("[data-sms-message]");
    var baseClass = message ? (message.className.split(" ")[0] || "sms-message") : "";
    var storeKey = STORE_PREFIX + url;
    var timer = null;
    var callTimer = null;
    var idle = button ? button.textContent : "";
    var callIdle = calls.length ? calls[0].textContent : "";

    function text(key, fallback) {
      return texts[key] || fallback || "";
    }

    function show(words, kind) {
      if (!message) {
        return;
      }
      message.textContent = words;
      message.className = baseClass + " " + kind;
      message.hidden = !words;
    }

    function emit(name, detail) {
      var event;
      try {
        event = new CustomEvent(name, { detail: detail, bubbles: true });
      } catch (e) {
        event = document.createEvent("CustomEvent");
        event.initCustomEvent(name, true, false, detail);
      }
      root.dispatchEvent(event);
    }

    function remember(until) {
      try {
        if (until) {
          window.sessionStorage.setItem(storeKey, String(until));
        } else {
          window.sessionStorage.removeItem(storeKey);
        }
      } catch (e) {
        // storage turned off: the countdown just does not survive a reload
      }
    }

    function hold(off) {
      senders.forEach(function (each) {
        each.disabled = off;
      });
    }

    function ready() {
      clearInterval(timer);
      timer = null;
      hold(false);
      button.textContent = text("send_code", idle);
      remember(null);
    }

    // Keep the button off until `until` (ms since the epoch), showing the seconds left.
    function countdownUntil(until) {
      clearInterval(timer);
      remember(until);
      hold(true);
      function tick() {
        var left = Math.ceil((until - Date.now()) / 1000);
        if (left <= 0) {
          ready();
          return;
        }
        button.textContent = format(text("resend_in", "{seconds}s"), { seconds: left });
      }
      tick();
      timer = setInterval(tick, 250);
    }

    // "Call me instead": hidden unless the server offers a call (voice_after), enabled `seconds` from now.
    function offerCall(seconds) {
      clearInterval(callTimer);
      callTimer = null;
      if (typeof seconds !== "number") {
        calls.forEach(function (each) {
          each.hidden = true;
        });
        return;
      }
      var until = Date.now() + seconds * 1000;
      function tick() {
        var left = Math.ceil((until - Date.now()) / 1000);
        calls.forEach(function (each) {
          each.hidden = false;
          each.disabled = left > 0;
          each.textContent = left > 0 ? format(text("call_in", "{seconds}s"), { seconds: left }) : text("call_me", callIdle);
        });
        if (left <= 0) {
          clearInterval(callTimer);
          callTimer = null;
        }
      }
      tick();
      if (seconds > 0) {
        callTimer = setInterval(tick, 250);
      }
    }

    var channel = null;
    var nonceField = root.querySelector("[data-sms-nonce]");

    function fail(error, words, status) {
      show(words, "error");
      emit("sms:error", { error: error, message: words, status: status, channel: channel || "sms" });
    }

    function challengeFor(payload) {
      var ask = root.flaskSmsChallenge || window.FlaskSms.onChallenge;
      if (typeof ask !== "function") {
        return null;
      }
      return Promise.resolve(ask(root, payload));
    }

    function send(asked, challenge) {
      channel = typeof asked === "string" ? asked : null;
      var calling = channel === "voice";
      var number = phone.value.trim();
      if (!number) {
        fail("phone_required", text("phone_required"), 0);
        phone.focus();
        return Promise.resolve(null);
      }
      if (calling) {
        clearInterval(callTimer);
        calls.forEach(function (each) {
          each.disabled = true;
          each.textContent = text("calling", callIdle);
        });
      } else {
        hold(true);
        button.textContent = text("sending", idle);
      }
      var headers = { "Content-Type": "application/json", "Accept": "application/json" };
      if (lang) {
        headers["Accept-Language"] = lang;
      }
      var token = csrfToken(root);
      if (token) {
        headers["X-CSRFToken"] = token;
      }
      var body = { phone: number };
      if (purpose) {
        body.purpose = purpose;
      }
      if (channel && channel !== "sms") {
        body.channel = channel;
      }
      if (challenge) {
        body.challenge = challenge;
      }
      return window.fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: headers,
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () {
          return null;
        }).then(function (payload) {
          if (response.ok && payload && payload.ok) {
            var minutes = { minutes: Math.max(1, Math.floor(payload.expires_in / 60)) };
            show(format(text(calling ? "call_placed" : "code_sent"), minutes), "ok");
            if (!calling) { // a call has its own cool-down (voice_after): the text's countdown goes on
              countdownUntil(Date.now() + payload.resend_after * 1000);
            }
            offerCall(payload.voice_after);
            if (code) {
              code.focus();
            }
            payload.channel = payload.channel || channel || "sms";
            root.__flaskSmsNonce = payload.nonce || "";
            if (nonceField) {
              nonceField.value = payload.nonce || "";
            }
            emit("sms:sent", payload);
            return payload;
          }
          var error = payload && payload.error;
          var solving = error === "challenge_required" && !challenge ? challengeFor(payload) : null;
          if (solving) {
            return solving.then(function (solved) {
              if (!solved) {
                ready();
                return null;
              }
              return send(channel, solved);
            }, function () {
              ready();
              return null;
            });
          }
          if (!error) {
            error = response.status === 429 ? "rate_limited" : response.status >= 500 ? "unavailable" : "invalid_request";
          }
          var wait = parseInt(response.headers.get("Retry-After") || "", 10);
          var words = (payload && payload.message) || format(text(error, text("invalid_request")), { retry_after: wait || 1 });
          fail(error, words, response.status);
          if (calling) { // the call is offered again when it may be asked for: after the wait, or not now
            offerCall(error === "rate_limited" && wait > 0 ? wait : error === "forbidden" ? null : 0);
          } else if (error === "rate_limited" && wait > 0) {
            countdownUntil(Date.now() + wait * 1000);
          } else {
            ready();
          }
          return null;
        });
      }, function () {
        fail("network_error", text("network_error"), 0);
        if (calling) {
          offerCall(0);
        } else {
          ready();
        }
        return null;
      });
    }

    if (button && phone) {
      all.forEach(function (each) {
        each.addEventListener("click", function () {
          send(each.getAttribute("data-sms-channel"));
        });
      });
      phone.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { // Enter in the phone field asks for a code, not a form submit
          event.preventDefault();
          if (!button.disabled) {
            send();
          }
        }
      });
      var until = null;
      try {
        until = parseInt(window.sessionStorage.getItem(storeKey) || "", 10);
      } catch (e) {
        until = null;
      }
      if (until && until > Date.now()) {
        countdownUntil(until); // survive the reload after a wrong code
      }
    }
    root.__flaskSms = { send: send, show: show };
    return root.__flaskSms;
  }

  function attachAll() {
    var found = document.querySelectorAll("[data-sms]");
    for (var i = 0; i < found.length; i += 1) {
      attach(found[i]);
    }
  }

  function nonce(root) {
    return (root && root.__flaskSmsNonce) || "";
  }

  window.FlaskSms = { attach: attach, attachAll: attachAll, nonce: nonce, onChallenge: null };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attachAll);
  } else {
    attachAll();
  }
})(window, document);
