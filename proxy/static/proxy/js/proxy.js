/*
 * The proxy page: it frames the Cyclr Marketplace, accepts the Launch Complete result only from the
 * Marketplace's exact origin and only from its own iframe, and delivers it to the server once:
 * written to a same-origin outbox first, sent over the launch's WebSocket (HTTP fallback when the socket
 * cannot be used), and forgotten only when the server acknowledges it or refuses it for good.
 * Then it tells the host page (opener or parent) with targetOrigin = this page's own origin.
 *
 * No dependencies, no build step, ES2017, and no secure-context-only API: staging hosts run plain http.
 */
(function () {
  "use strict";

  var RECONNECT_DELAYS_MS = [500, 1000, 2000]; // then give up on the socket and use HTTP
  var ACK_TIMEOUT_MS = 15000;                  // an open socket that never answers counts as a lost one
  var RETRY_CAP_MS = 30000;                    // longest wait between retries after a server_error
  var KEEPALIVE_MAX_BYTES = 60000;             // browsers refuse keepalive bodies over 64 KiB
  var CLOSE_DELAY_MS = 300;                    // lets the person see the final status before the popup closes

  var statusEl = document.getElementById("proxy-status");
  var frame = document.getElementById("proxy-frame");

  function setStatus(text, state) {
    if (!statusEl) { return; }
    statusEl.textContent = text;
    statusEl.setAttribute("data-state", state || "working");
  }

  function isPlainObject(value) {
    // toString works across realms, unlike instanceof: messages come from another window.
    return Object.prototype.toString.call(value) === "[object Object]";
  }

  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return undefined; }
  }

  var config = (function () {
    var el = document.getElementById("proxy-config");
    var parsed = el ? parseJson(el.textContent) : undefined;
    return isPlainObject(parsed) && parsed.launch ? parsed : null;
  })();
  if (!config) {
    setStatus("This page is missing its settings. Close this window and start again from the Connect button.", "error");
    return;
  }

  var origins = Array.isArray(config.marketplaceOrigins) ? config.marketplaceOrigins : [];
  // Refusals that resending the same result can never fix: the server's registry (proxy/errors.py) lists them.
  var TERMINAL_CODES = Array.isArray(config.terminalCodes) ? config.terminalCodes : ["unauthenticated", "forbidden",
    "not_found", "expired", "invalid_result", "too_large", "malformed", "conflict", "replayed"];
  var maxBytes = Number(config.maxResultBytes) || 64 * 1024;
  var popupMode = config.mode !== "inline";
  var outboxKey = "proxy.outbox." + config.launch;
  var socketUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.socketPath;

  // ---- Outbox: the result survives a dropped socket or a reload until the server has it. ----------
  // localStorage can be missing or throw (private modes, storage disabled, quota): the outbox is then
  // best-effort and delivery still proceeds from memory.
  function readOutbox() {
    try {
      var entry = parseJson(window.localStorage.getItem(outboxKey));
      if (isPlainObject(entry) && typeof entry.id === "string" && isPlainObject(entry.result)) { return entry; }
    } catch (e) { /* storage unavailable */ }
    return null;
  }
  function writeOutbox(entry) {
    try { window.localStorage.setItem(outboxKey, JSON.stringify(entry)); } catch (e) { /* storage unavailable */ }
  }
  function clearOutbox() {
    try { window.localStorage.removeItem(outboxKey); } catch (e) { /* storage unavailable */ }
  }

  function newMessageId() {
    // A v4 UUID from getRandomValues, which (unlike crypto.randomUUID) also exists on plain http.
    var bytes = new Uint8Array(16);
    var cryptoObj = window.crypto || window.msCrypto;
    var i;
    if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
      cryptoObj.getRandomValues(bytes);
    } else {
      for (i = 0; i < 16; i++) { bytes[i] = Math.floor(Math.random() * 256); }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = "";
    for (i = 0; i < 16; i++) {
      hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
      if (i === 3 || i === 5 || i === 7 || i === 9) { hex += "-"; }
    }
    return hex;
  }

  // ---- Delivery state ---------------------------------------------------------------------------
  var pending = readOutbox(); // {id, result} awaiting its ack; restored after a reload
  var finished = false;       // set by the matching ack or a terminal error: nothing more to send
  var inFlight = false;       // a copy of `pending` is with the server and has not been answered yet
  var overHttp = false;       // the socket gave up: every delivery from now on uses the HTTP fallback
  var socket = null;
  var socketFailures = 0;
  var serverRetries = 0;
  var ackTimer = null;
  var retryTimer = null;

  function resultMessage(entry) {
    return JSON.stringify({ type: "result", id: entry.id, result: entry.result });
  }

  function deliver() {
    if (finished || !pending || inFlight) { return; }
    if (overHttp) { postOverHttp(); return; }
    if (!socket || socket.readyState !== WebSocket.OPEN) { return; } // sent from onopen
    inFlight = true;
    socket.send(resultMessage(pending));
    var sentOn = socket;
    clearTimeout(ackTimer);
    ackTimer = setTimeout(function () {
      if (socket === sentOn && !finished) { sentOn.close(); } // onclose reconnects and resends
    }, ACK_TIMEOUT_MS);
  }

  function openSocket() {
    if (finished || overHttp) { return; }
    var ws;
    try { ws = new WebSocket(socketUrl); } catch (e) { socketLost(); return; }
    socket = ws;
    ws.onopen = function () {
      window.proxySocketOpen = true;
      if (!pending) { setStatus("Choose and set up your integration below.", "ready"); }
      deliver();
    };
    ws.onmessage = function (event) { handleServerMessage(parseJson(event.data)); };
    // onerror is always followed by onclose, which does the bookkeeping.
    ws.onclose = function () {
      if (socket !== ws) { return; }
      socket = null;
      inFlight = false;
      clearTimeout(ackTimer);
      window.proxySocketOpen = false;
      if (!finished) { socketLost(); }
    };
  }

  function socketLost() {
    if (socketFailures >= RECONNECT_DELAYS_MS.length) {
      overHttp = true;
      if (pending) { setStatus("The live connection is unavailable, so your result is being sent another way…"); }
      deliver();
      return;
    }
    if (pending) { setStatus("Connection lost. Reconnecting…"); }
    setTimeout(openSocket, RECONNECT_DELAYS_MS[socketFailures++]);
  }

  function postResult(entry) {
    var body = JSON.stringify({ type: "result", id: entry.id, result: entry.result });
    return fetch(config.resultUrl, {
      method: "POST",
      keepalive: body.length <= KEEPALIVE_MAX_BYTES,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken },
      body: body
    });
  }

  function codeForStatus(status) {
    // Used only when the response is not the kit's JSON (a proxy's error page, Django's CSRF page).
    if (status === 401 || status === 403) { return "forbidden"; }
    if (status === 404) { return "not_found"; }
    if (status === 409) { return "conflict"; }
    if (status === 410) { return "expired"; }
    if (status === 413) { return "too_large"; }
    if (status === 400 || status === 422) { return "malformed"; }
    return "server_error";
  }

  function postOverHttp() {
    var entry = pending;
    inFlight = true;
    postResult(entry).then(function (response) {
      return response.text().then(function (text) {
        var message = parseJson(text);
        if (isPlainObject(message) && typeof message.type === "string") { return message; }
        if (response.redirected) { // login_required sent us to the login page: the session is gone
          return { type: "error", id: entry.id, code: "unauthenticated",
                   message: "You are signed out. Sign in to the app again, then click Connect." };
        }
        return { type: "error", id: entry.id, code: codeForStatus(response.status),
                 message: "The server could not take the result (HTTP " + response.status + ")." };
      });
    }, function () {
      return { type: "error", id: entry.id, code: "server_error", message: "The server could not be reached." };
    }).then(function (message) {
      inFlight = false;
      handleServerMessage(message);
    });
  }

  // ---- Answers from the server (socket or HTTP) -------------------------------------------------
  function handleServerMessage(message) {
    if (!isPlainObject(message) || finished) { return; }
    if (message.type === "ack") { onAck(message); }
    else if (message.type === "error") { onError(message); }
  }

  function onAck(ack) {
    if (!pending || ack.id !== pending.id) { return; } // an answer to something this page no longer holds
    finish();
    window.proxyAck = ack;
    var launch = ack.launch || config.launch;
    if (ack.status === "failed") {
      var reason = isPlainObject(ack.reason) ? ack.reason
        : { code: "install_failed", message: "The integration could not be installed." };
      setStatus(String(reason.message || "The integration could not be installed."), "error");
      forwardToHost({ type: "proxy.install.failed", launch: launch, result: ack.result || null, error: reason });
    } else {
      setStatus(popupMode ? "Integration connected. You can close this window." : "Integration connected.", "done");
      forwardToHost({ type: "proxy.install.completed", launch: launch, result: ack.result });
    }
    window.proxyDone = true;
    if (popupMode) { setTimeout(function () { window.close(); }, CLOSE_DELAY_MS); }
  }

  function onError(message) {
    if (message.id != null && (!pending || message.id !== pending.id)) { return; }
    var error = { code: String(message.code || "server_error"),
                  message: String(message.message || "Something went wrong on the server.") };
    window.proxyError = error;
    if (TERMINAL_CODES.indexOf(error.code) !== -1) {
      finish();
      setStatus(error.message, "error"); // the window stays open so the person can read it
      forwardToHost({ type: "proxy.install.failed", launch: config.launch, result: null, error: error });
      return;
    }
    inFlight = false;
    if (!pending) { return; } // nothing of ours to resend
    var delay = Math.min(RETRY_CAP_MS, 1000 * Math.pow(2, serverRetries++));
    setStatus(error.message + " Trying again in " + Math.round(delay / 1000) + " seconds…", "error");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(deliver, delay);
  }

  function finish() {
    finished = true;
    clearOutbox();
    clearTimeout(ackTimer);
    clearTimeout(retryTimer);
    if (socket) { var ws = socket; socket = null; ws.close(); }
  }

  function forwardToHost(message) {
    var target = popupMode ? window.opener : (window.parent !== window ? window.parent : null);
    // No reachable host window (severed opener, closed tab): the server's push on ws/proxy/events/ covers it.
    if (!target || target.closed) { return; }
    try { target.postMessage(message, location.origin); } catch (e) { /* host navigated away */ }
  }

  // ---- Messages from the Marketplace iframe ------------------------------------------------------
  function byteLength(text) {
    if (text.length > maxBytes) { return text.length; } // UTF-8 is never shorter than the UTF-16 count
    if (typeof TextEncoder === "function") { return new TextEncoder().encode(text).length; }
    return unescape(encodeURIComponent(text)).length;
  }

  // Returns {result} for an acceptable message, or {code} naming why it is not one.
  function readResult(data) {
    var text = data;
    if (typeof data !== "string") {
      try { text = JSON.stringify(data); } catch (e) { return { code: "malformed" }; }
      if (typeof text !== "string") { return { code: "not_a_result" }; }
    }
    if (byteLength(text) > maxBytes) { return { code: "too_large" }; }
    var message = data;
    if (typeof data === "string") {
      message = parseJson(data);
      if (message === undefined) { return { code: "malformed" }; }
    }
    if (!isPlainObject(message)) { return { code: "not_a_result" }; }
    if (message.type === "cyclr.launch.complete") {
      return isPlainObject(message.result) ? { result: message.result } : { code: "not_a_result" };
    }
    // Cyclr's own sample posts JSON.stringify(result): a bare result, recognised by its fields.
    if (message.type === undefined &&
        (message.accountId !== undefined || message.cycles !== undefined || message.cycleId !== undefined)) {
      return { result: message };
    }
    return { code: "not_a_result" };
  }

  function reject(code, event) {
    window.proxyRejected = (window.proxyRejected || 0) + 1;
    window.proxyLastRejection = { code: code, origin: event.origin };
  }

  window.addEventListener("message", function (event) {
    if (origins.indexOf(event.origin) === -1) { reject("origin", event); return; }
    if (!frame || event.source !== frame.contentWindow) { reject("source", event); return; }
    var read = readResult(event.data);
    if (read.code) { reject(read.code, event); return; }
    if (pending || finished) { return; } // one result per launch; the first one is already on its way
    pending = { id: newMessageId(), result: read.result };
    writeOutbox(pending);
    setStatus("Saving your integration…");
    deliver();
  });

  // Last chance when the window is closed or reloaded before the ack: a keepalive POST outlives the
  // page, and the server accepts a result idempotently, so a duplicate of an in-flight copy is harmless.
  window.addEventListener("pagehide", function () {
    if (finished || !pending || typeof fetch !== "function") { return; }
    try { postResult(pending).catch(function () { /* the outbox still holds it */ }); } catch (e) { /* ditto */ }
  });

  // Name this launch to the host page, so that its events socket settles only on this one.
  forwardToHost({ type: "proxy.launch.opened", launch: config.launch });
  window.proxyReady = true;
  if (pending) { setStatus("Sending the result saved before this page was reloaded…"); }
  openSocket();
})();
