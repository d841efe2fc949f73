/*
 * The proxy page: it frames the Cyclr Marketplace, accepts the Launch Complete result only from the
 * Marketplace's exact origin and only from its own iframe, answers the snippet (so it stops re-posting), and
 * delivers the result to the server once: outbox (localStorage) first, then the launch's WebSocket (HTTP,
 * retried with back-off, once the socket fails or goes quiet), forgotten only when the server acks it or
 * refuses it for good. Then it tells the host page (opener or parent, and the kit's BroadcastChannel) with
 * targetOrigin = its own origin.
 *
 * States (README, "State machines"):
 *   waiting --result from the frame--> sending --ack--> done
 *   waiting | sending --terminal error--> refused;  sending --other error--> sending (retried)
 * The page's texts live in the template (data-* on #proxy-status), so they can be translated. The script
 * sets the iframe's src itself, once its listener is in place. ES2017, no secure-context-only API (staging
 * hosts run plain http). The page serves proxy.min.js, made by rjsmin, which renames nothing: hence the
 * short names.
 */
(() => {
  "use strict";

  const RESULT = "cyclr.launch.complete"; // Marketplace -> this page (Cyclr's bare sample result is accepted too)
  const test = window.proxyTest = { rejected: 0 }; // read by the browser tests; handy when debugging
  const byId = (name) => document.getElementById(name);
  const statusEl = byId("proxy-status");
  const frame = byId("proxy-frame");
  const text = (key) => statusEl.getAttribute("data-" + key);
  const say = (message, tone) => {
    statusEl.textContent = message;
    statusEl.setAttribute("data-state", tone || "working");
  };
  const isObject = (v) => Object.prototype.toString.call(v) == "[object Object]"; // across realms too
  const parse = (t) => { try { return JSON.parse(t); } catch (e) { /* undefined */ } };
  const store = (f) => { try { return f(localStorage); } catch (e) { /* storage off or full */ } };

  let state;
  const go = (next) => { state = test.state = next; };
  const over = () => state == "done" || state == "refused";
  const config = parse((byId("proxy-config") || {}).textContent);
  if (!isObject(config) || !config.launch) return go("refused"), say(text("broken"), "error");

  const launch = config.launch;
  const terminal = config.terminalCodes || ["unauthenticated", "forbidden", "not_found", "expired",
                                            "invalid_result", "too_large", "malformed", "conflict", "replayed"];
  const max = config.maxResultBytes || 65536;
  const popup = config.mode != "inline";
  const outbox = "proxy.outbox." + launch;

  // To the host page: directly when it can be reached, and to every page of this site over
  // BroadcastChannel (localStorage when there is none), naming the window (ref), so a host whose opener
  // link is cut still recognises its call.
  const tell = (type, extra) => {
    const m = Object.assign({ type: "proxy." + type, launch, ref: name }, extra);
    try { (popup ? opener : parent != window && parent).postMessage(m, location.origin); } catch (e) { /* none */ }
    try {
      const c = new BroadcastChannel("proxy");
      c.postMessage(m);
      c.close();
    } catch (e) {
      store((s) => { s.setItem("proxy.signal", JSON.stringify(m)); s.removeItem("proxy.signal"); });
    }
  };

  let held = parse(store((s) => s.getItem(outbox))); // {id, result} awaiting its ack, kept across a reload
  if (!isObject(held) || !isObject(held.result)) held = 0;
  let ws;
  let overHttp;
  let retries = 0;
  let timer;
  const body = () => JSON.stringify({ type: "result", id: held.id, result: held.result });
  const post = (keepalive) => fetch(config.resultUrl, {
    method: "POST", keepalive, credentials: "same-origin", body: body(),
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken }
  });

  const send = () => {
    clearTimeout(timer);
    if (state != "sending") return;
    if (overHttp) {
      // Not the kit's JSON: the login page (signed out), or a proxy's error page.
      const failed = (r) => ({ type: "error", id: held.id, code: r && r.redirected ? "unauthenticated" : "server_error",
                               message: text(r && r.redirected ? "signed-out" : "unreachable") });
      post().then((r) => r.json().catch(() => failed(r)), failed).then(answer);
    } else if (ws.readyState == 1) {
      ws.send(body());
      timer = setTimeout(() => ws.close(), 15000); // an open socket that never answers counts as lost
    }
  };

  // The launch's socket; once it fails or closes before the end, HTTP carries the result instead.
  ws = new WebSocket(location.origin.replace("http", "ws") + config.socketPath);
  ws.onopen = () => {
    test.socketOpen = true;
    if (state == "waiting") say(text("ready"), "ready");
    send();
  };
  ws.onmessage = (e) => answer(parse(e.data));
  ws.onclose = () => {
    test.socketOpen = false;
    overHttp = 1;
    send();
  };

  const finish = (next) => {
    go(next);
    store((s) => s.removeItem(outbox));
    clearTimeout(timer);
    ws.close();
  };

  // The server's answer, over the socket or HTTP.
  const answer = (m) => {
    if (!isObject(m) || over() || (m.id != null && m.id != held.id)) return;
    if (m.type == "ack") {
      finish("done");
      test.ack = m;
      const why = isObject(m.reason) ? m.reason : { code: "install_failed", message: text("failed") };
      if (m.status == "failed") {
        say(why.message, "error");
        tell("install.failed", { result: m.result, error: why });
      } else {
        say(text(popup ? "done-popup" : "done"), "done");
        tell("install.completed", { result: m.result });
      }
      if (popup) setTimeout(close, 300); // long enough to see the final status
    } else if (m.type == "error") {
      const error = test.error = { code: m.code, message: m.message || text("unreachable") };
      if (terminal.indexOf(m.code) >= 0) {
        finish("refused");
        say(error.message, "error"); // the window stays open so the person can read it
        tell("install.failed", { result: null, error });
      } else if (held) {
        say(error.message + " " + text("retry"), "error");
        timer = setTimeout(send, 1000 << Math.min(retries++, 5));
      }
    }
  };

  // Returns {result} for an acceptable message, or {code} naming why it is not one.
  const read = (data) => {
    let t = data;
    if (typeof t != "string") {
      try { t = JSON.stringify(t); } catch (e) { return { code: "malformed" }; } // a cyclic structured clone
    }
    if (typeof t != "string") return { code: "not_a_result" };
    if (t.length > max || new Blob([t]).size > max) return { code: "too_large" };
    const m = parse(t);
    if (m === undefined) return { code: "malformed" };
    // Cyclr's own sample posts JSON.stringify(result): a bare result, recognised by its fields.
    const result = isObject(m) && (m.type == RESULT ? m.result : m.type === undefined && (m.accountId || m.cycles) && m);
    return isObject(result) ? { result } : { code: "not_a_result" };
  };

  addEventListener("message", (e) => {
    const got = read(e.data);
    const why = config.marketplaceOrigins.indexOf(e.origin) < 0 ? "origin" : e.source != frame.contentWindow ? "source" : got.code;
    if (why) {
      test.rejected++;
      test.lastRejection = { code: why, origin: e.origin };
      return;
    }
    if (state == "waiting") {
      held = { id: Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join(""),
               result: got.result };
      store((s) => s.setItem(outbox, JSON.stringify(held)));
      go("sending");
      say(text("saving"));
      send();
    }
    // Stored (or already sent): answer every copy, at the Marketplace's exact origin, so it stops re-posting.
    e.source.postMessage({ type: "cyclr.launch.ack" }, e.origin);
  });

  // Leaving before the ack: a keepalive POST outlives the page (the server accepts a result idempotently).
  // Leaving with no result at all: tell the host, which then knows the window was closed for real.
  addEventListener("pagehide", () => {
    if (state == "sending" && body().length < 6e4) post(1).catch(() => { /* the outbox keeps it */ });
    if (state == "waiting") tell("launch.left");
  });

  go(held ? "sending" : "waiting");
  if (held) say(text("restored"));
  tell("launch.opened");
  frame.src = frame.getAttribute("data-src"); // only now: the listener above is in place
})();
