// Mounts the rasa-webchat widget (https://github.com/botfront/rasa-webchat)
// into #webchat. window.WEBCHAT_CONFIG comes from /config.js (webchat/serve.py).
(function () {
  "use strict";
  var config = window.WEBCHAT_CONFIG || {};
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
      // The conversation (with its session id) is kept in localStorage, so a
      // reload shows it again and continues it: Rasa's socket.io channel runs
      // with session_persistence, and the session id is the conversation id.
      params: { storage: "local" },
      customMessageDelay: function () { return 200; },
    },
    document.getElementById("webchat")
  );
})();
