/*
 * The proxy page: it frames the Cyclr Marketplace, accepts the Launch Complete result only from the
 * Marketplace's exact origin and only from its own iframe, answers the snippet (so it stops re-posting), and
 * delivers the result to the server once: outbox (localStorage) first, then the launch's WebSocket (HTTP
 * when the socket cannot be used), forgotten only when the server acks it or refuses it for good. Then it
 * tells the host page (opener or parent, and the kit's BroadcastChannel) with targetOrigin = its own origin.
 *
 * States: waiting --(result from the frame)--> sending --(ack)--> done
 *                                               sending --(terminal error)--> refused; waiting --(refused)--> refused
 * The page's texts live in the template (data-* on #proxy-status). It sets the iframe's src itself, after
 * its listener is in place. ES2017 syntax, no secure-context-only API: staging hosts run plain http.
 */
(() => {
  "use strict";

  const T = {
    complete: "cyclr.launch.complete", // Marketplace -> this page (Cyclr's bare sample result is accepted too)
    ack: "cyclr.launch.ack",           // this page -> Marketplace
    opened: "proxy.launch.opened",     // this page -> host page, on load
    left: "proxy.launch.left",         // this page -> host page, leaving without a result
    done: "proxy.install.completed",
    failed: "proxy.install.failed"
  };
  const test = window.proxyTest = { rejected: 0 }; // read by the browser tests, and handy when debugging
  const byId = (name) => document.getElementById(name);
  const statusEl = byId("proxy-status");
  const frame = byId("proxy-frame");
  const text = (key) => statusEl.getAttribute("data-" + key);
  const say = (message, tone) => {
    statusEl.textContent = message;
    statusEl.setAttribute("data-state", tone || "working");
  };
  const isObject = (v) => Object.prototype.toString.call(v) == "[object Object]"; // works across realms
  const parse = (t) => { try { return JSON.parse(t); } catch (e) { return undefined; } };
  const storage = (f) => { try { return f(localStorage); } catch (e) { return null; } }; // may be off or full

  let state;
  const go = (next) => { state = test.state = next; };
  const config = parse((byId("proxy-config") || {}).textContent);
  if (!isObject(config) || !config.launch) { go("refused"); say(text("broken"), "error"); return; }

  const origins = config.marketplaceOrigins || [];
  const terminal = config.terminalCodes || ["unauthenticated", "forbidden", "not_found", "expired",
                                            "invalid_result", "too_large", "malformed", "conflict"];
  const maxBytes = config.maxResultBytes || 65536;
  const popup = config.mode != "inline";
  const outbox = "proxy.outbox." + config.launch;
  const host = popup ? opener : parent != window && parent;
  const socketUrl = (location.protocol == "https:" ? "wss://" : "ws://") + location.host + config.socketPath;

  const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join("");

  // To the host page: directly when it can be reached, and to every same-origin page over BroadcastChannel
  // (localStorage when there is none), naming the window (ref) so a host whose opener link is cut knows it.
  const tell = (m) => {
    m.launch = config.launch;
    m.ref = window.name;
    try { host.postMessage(m, location.origin); } catch (e) { /* no host window: the channel covers it */ }
    try {
      const channel = new BroadcastChannel("proxy");
      channel.postMessage(m);
      channel.close();
    } catch (e) {
      storage((s) => { s.setItem("proxy.signal", JSON.stringify(m)); s.removeItem("proxy.signal"); });
    }
  };

  let held = parse(storage((s) => s.getItem(outbox))); // {id, result} awaiting its ack, kept across a reload
  if (!isObject(held) || !isObject(held.result)) { held = null; }
  let ws = null;
  let overHttp = false;
  let failures = 0;
  let retries = 0;
  let timer;
  const body = () => JSON.stringify({ type: "result", id: held.id, result: held.result });
  const post = (keepalive) => fetch(config.resultUrl, {
    method: "POST", keepalive: keepalive, credentials: "same-origin", body: body(),
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken }
  });

  const send = () => {
    if (state != "sending") { return; }
    clearTimeout(timer);
    if (overHttp) {
      post(false).then((r) => r.text().then((t) => {
        const m = parse(t);
        // Not the kit's JSON: the login page (signed out), Django's CSRF page, or a proxy's error page.
        return isObject(m) ? m : { type: "error", id: held.id,
          code: r.redirected ? "unauthenticated" : r.status == 403 ? "forbidden" : "server_error",
          message: text(r.redirected ? "signed-out" : "unreachable") };
      }), () => ({ type: "error", id: held.id, code: "server_error", message: text("unreachable") })).then(answer);
    } else if (ws && ws.readyState == 1) {
      ws.send(body());
      const sentOn = ws;
      timer = setTimeout(() => sentOn.close(), 15000); // an open socket that never answers counts as lost
    }
  };

  const openSocket = () => {
    if (overHttp || state == "done" || state == "refused") { return; }
    const s = ws = new WebSocket(socketUrl);
    s.onopen = () => {
      test.socketOpen = true;
      if (state == "waiting") { say(text("ready"), "ready"); }
      send();
    };
    s.onmessage = (e) => answer(parse(e.data));
    s.onclose = () => {
      if (ws != s) { return; }
      ws = null;
      test.socketOpen = false;
      if (state == "done" || state == "refused") { return; }
      if (failures > 2) { overHttp = true; send(); return; } // give up on the socket: HTTP from now on
      if (held) { say(text("reconnecting")); }
      setTimeout(openSocket, 500 << failures++);
    };
  };

  const finish = (next) => {
    go(next);
    storage((s) => s.removeItem(outbox));
    clearTimeout(timer);
    if (ws) { const s = ws; ws = null; s.close(); }
  };

  // The server's answer, over the socket or HTTP.
  const answer = (m) => {
    if (!isObject(m) || state == "done" || state == "refused") { return; }
    if (m.type == "ack" && held && m.id == held.id) {
      finish("done");
      test.ack = m;
      if (m.status == "failed") {
        const why = isObject(m.reason) ? m.reason : { code: "install_failed" };
        say(String(why.message || text("failed")), "error");
        tell({ type: T.failed, result: m.result || null, error: why });
      } else {
        say(text(popup ? "done-popup" : "done"), "done");
        tell({ type: T.done, result: m.result });
      }
      if (popup) { setTimeout(() => close(), 300); } // long enough to see the final status
    } else if (m.type == "error" && (m.id == null || (held && m.id == held.id))) {
      const error = { code: String(m.code || "server_error"), message: String(m.message || text("unreachable")) };
      test.error = error;
      if (terminal.indexOf(error.code) >= 0) {
        finish("refused");
        say(error.message, "error"); // the window stays open so the person can read it
        tell({ type: T.failed, result: null, error: error });
      } else if (held) {
        say(error.message + " " + text("retry"), "error");
        timer = setTimeout(send, Math.min(30000, 1000 << Math.min(retries++, 5)));
      }
    }
  };

  // Returns {result} for an acceptable message, or {code} naming why it is not one.
  const read = (data) => {
    let t = data;
    if (typeof data != "string") {
      try { t = JSON.stringify(data); } catch (e) { return { code: "malformed" }; } // a cyclic structured clone
      if (typeof t != "string") { return { code: "not_a_result" }; }
    }
    if (t.length > maxBytes || new Blob([t]).size > maxBytes) { return { code: "too_large" }; }
    const m = typeof data == "string" ? parse(data) : data;
    if (m === undefined) { return { code: "malformed" }; }
    if (isObject(m) && m.type == T.complete && isObject(m.result)) { return { result: m.result }; }
    // Cyclr's own sample posts JSON.stringify(result): a bare result, recognised by its fields.
    if (isObject(m) && m.type === undefined && (m.accountId || m.cycles || m.cycleId) !== undefined) {
      return { result: m };
    }
    return { code: "not_a_result" };
  };

  addEventListener("message", (e) => {
    const why = origins.indexOf(e.origin) < 0 ? "origin" : e.source != frame.contentWindow ? "source" : read(e.data).code;
    if (why) {
      test.rejected++;
      test.lastRejection = { code: why, origin: e.origin };
      return;
    }
    if (state == "waiting") {
      held = { id: newId(), result: read(e.data).result };
      storage((s) => s.setItem(outbox, JSON.stringify(held)));
      go("sending");
      say(text("saving"));
      send();
    }
    // Stored (or already sent): answer every copy, at the Marketplace's exact origin, so it stops re-posting.
    e.source.postMessage({ type: T.ack }, e.origin);
  });

  // Leaving before the ack: a keepalive POST outlives the page (the server accepts a result idempotently).
  // Leaving with no result at all: tell the host, which then knows the window was closed for real.
  addEventListener("pagehide", () => {
    if (state == "sending" && body().length < 60000) { post(true).catch(() => { /* the outbox keeps it */ }); }
    if (state == "waiting") { tell({ type: T.left }); }
  });

  go(held ? "sending" : "waiting");
  if (held) { say(text("restored")); }
  tell({ type: T.opened });
  frame.src = frame.getAttribute("data-src"); // only now: the listener above is in place
  openSocket();
})();
