/*
 * Redirect mode's landing page: the Launch Complete snippet, with no parent or opener to post to, sent
 * this window here with the result in the URL fragment. Post it to the server (same origin), then
 * tell the person. The host page learns it over its events socket.
 */
(function () {
  "use strict";

  var statusEl = document.getElementById("complete-status");
  function setStatus(text, state) {
    statusEl.textContent = text;
    statusEl.setAttribute("data-state", state);
  }
  function finish(state, detail) {
    window.completeState = state;
    window.completeDetail = detail;
  }

  var config = {};
  try { config = JSON.parse(document.getElementById("complete-config").textContent); } catch (e) { /* defaults */ }

  var match = /(?:^#|&)result=([^&]*)/.exec(location.hash);
  // Take the result out of the address bar and history at once: its webhook URLs are secrets.
  if (location.hash && window.history && history.replaceState) {
    history.replaceState(null, "", location.pathname + location.search);
  }
  var result;
  try { result = match ? JSON.parse(decodeURIComponent(match[1])) : undefined; } catch (e) { result = undefined; }
  if (!result || typeof result !== "object" || Array.isArray(result)) {
    setStatus("This page did not receive an integration result. Close it and check your integrations in the app.", "error");
    finish("error", { code: "malformed" });
    return;
  }

  // getRandomValues exists on plain http too (unlike crypto.randomUUID); Math.random is the last resort.
  var bytes = new Uint8Array(8);
  if (window.crypto && window.crypto.getRandomValues) {
    window.crypto.getRandomValues(bytes);
  } else {
    for (var i = 0; i < bytes.length; i++) { bytes[i] = Math.floor(Math.random() * 256); }
  }
  var id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");

  // What the window that opened the launch kept (redirect.js): the server binds the result with it.
  var binding = {};
  try { binding = JSON.parse(window.sessionStorage.getItem("proxy.launch")) || {}; } catch (e) { binding = {}; }

  fetch(location.pathname, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken || "" },
    body: JSON.stringify({ type: "result", id: id, result: result, launch: binding.launch, nonce: binding.nonce })
  }).then(function (response) {
    return response.json().catch(function () {
      return { type: "error", code: "server_error", message: "The app could not save the result (HTTP " + response.status + ")." };
    });
  }).then(function (reply) {
    if (reply.type === "ack") {
      try { window.sessionStorage.removeItem("proxy.launch"); } catch (e) { /* storage disabled */ }
    }
    if (reply.type === "ack" && reply.status !== "failed") {
      setStatus("Integration connected. You can close this window and return to the app.", "done");
      if (typeof reply.next === "string") {
        // Same-tab redirect mode: back to the page that started it (the server checked it is on this site).
        setTimeout(function () { window.location.assign(reply.next); }, 1500);
      } else {
        // A window the app opened (redirect mode) can close itself; the app heard over its events socket.
        setTimeout(function () { window.close(); }, 1500);
      }
    } else if (reply.type === "ack") {
      setStatus((reply.reason && reply.reason.message) || "The integration could not be verified.", "error");
    } else {
      setStatus(reply.message || "The app could not save the result.", "error");
    }
    finish(reply.type === "ack" ? reply.status : "error", reply);
  }, function () {
    setStatus("The app could not be reached. Check your connection, then check your integrations in the app.", "error");
    finish("error", { code: "server_error" });
  });
})();
