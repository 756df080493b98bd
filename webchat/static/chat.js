// Mounts the rasa-webchat widget (https://github.com/botfront/rasa-webchat)
// into #webchat. window.WEBCHAT_CONFIG comes from /config.js (webchat/serve.py).
//
// The widget keeps the conversation and its session id in localStorage and
// sends that id to Rasa, which accepts only sessions signed by the page
// server. So before mounting it, the page asks the page server (POST /session)
// for its session, sending the stored one: a valid one comes back renewed and
// the conversation continues; otherwise (none, expired, another customer's)
// a new session starts with an empty conversation.
(function () {
  "use strict";
  var config = window.WEBCHAT_CONFIG || {};
  var STORAGE_KEY = "chat_session"; // rasa-webchat 1.0.1's key
  var WIDGET_VERSION = "1.0.1"; // the widget drops stored sessions of other versions

  function stored() {
    try {
      return JSON.parse(window.localStorage.getItem(STORAGE_KEY)) || null;
    } catch (error) {
      return null;
    }
  }

  function save(session) {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  }

  // Mounts the widget with the page server's session.
  function mountWith(answer) {
    var current = stored();
    if (answer.continues && current) {
      current.session_id = answer.session; // the same conversation, renewed
      save(current);
      mount();
      return;
    }
    // A new conversation: the widget starts without a stored session, and
    // finds this one when its socket connects (always after this function).
    window.localStorage.removeItem(STORAGE_KEY);
    mount();
    var fresh = stored() || {};
    fresh.session_id = answer.session;
    fresh.version = fresh.version || WIDGET_VERSION;
    save(fresh);
  }

  function mount() {
    window.WebChat.default(
      {
        socketUrl: config.socketUrl,
        socketPath: "/socket.io/",
        initPayload: "/greet", // the greeting of a new conversation
        title: "Pine",
        subtitle: "Pinecrest Outfitters customer service",
        inputTextFieldHint: "Type your question…",
        embedded: true, // always open, inside the page
        showFullScreenButton: false,
        hideWhenNotConnected: false,
        withRules: false, // Botfront-only feature
        // Rasa's socket.io channel runs with session_persistence: the
        // session names the conversation, so a reload continues it.
        params: { storage: "local" },
        customMessageDelay: function () { return 200; },
      },
      document.getElementById("webchat")
    );
  }

  var current = stored();
  window.fetch("session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ session: current && current.session_id ? current.session_id : null }),
    credentials: "same-origin",
    cache: "no-store",
  })
    .then(function (response) {
      if (!response.ok) { throw new Error("session: HTTP " + response.status); }
      return response.json();
    })
    .then(mountWith, function (error) {
      // without the page server's session the channel starts a new anonymous one
      window.console.warn(error);
      mount();
    });
})();
