/*
 * The proxy page: it frames the Cyclr Marketplace, accepts the Launch Complete result only from the
 * Marketplace's exact origin and only from its own iframe, answers the snippet (so it stops re-posting), and
 * delivers the result to the server once: outbox (localStorage) first, then the launch's WebSocket (HTTP,
 * retried with back-off, once the socket fails or goes quiet), forgotten once the server acks it or refuses
 * it for good. An ack saying `received` means the server holds the result and is verifying it with Cyclr:
 * the page says so, tells the host page (so that closing the window is no longer a cancel), and waits for the
 * verdict, pushed on the launch's socket or read from proxy:status. The host page hears everything from here
 * (opener or parent, and the kit's BroadcastChannel) with targetOrigin = this page's own origin.
 *
 * States (docs/modes-and-windows.md, "State machines"):
 *   waiting --result from the frame--> sending --ack: completed | failed--> done
 *   sending --ack: received--> verifying --verdict (push or proxy:status)--> done
 *   verifying --refused (a claim Cyclr did not confirm: push, or proxy:status back at pending)--> waiting
 *   waiting | sending --terminal error--> refused;  sending --other error--> sending (retried)
 * The page's texts live in the template (data-* on #proxy-status), so they can be translated; its settings
 * in #proxy-config (the view writes every key). Whether a refusal is final is the server's to say (the error
 * frame's `terminal`), and so is its sentence. The script sets the iframe's src itself, once its listener
 * is in place. ES2017, no secure-context-only API (staging hosts run plain http). The page serves
 * proxy.min.js, made by scripts/minify_js.py (tdewolff/minify, which renames locals).
 *
 * Framed Marketplace without third-party cookies (docs/framing.md): no browser tells the embedding page
 * whether a cross-site frame keeps its cookies (document.hasStorageAccess answers for the calling document
 * only), nor whether the frame was refused. So the form #proxy-top-level (proxy:top_level: the same launch,
 * re-minted, at top level) shows after its data-after ms while no result came, and at once where this
 * browser needed it before (remembered in localStorage); in a popup it is then used at once, by itself.
 *   waiting --the form--> leaving (popup: this window goes) | elsewhere (inline: a window of its own)
 */
(() => {
  "use strict";

  const test = window.proxyTest = { rejected: 0 }; // read by the browser tests
  const byId = (id) => document.getElementById(id);
  const statusEl = byId("proxy-status");
  const frame = byId("proxy-frame");
  const top = byId("proxy-top-level"); // the way on to top level (below)
  const text = (key) => statusEl.getAttribute("data-" + key);
  const say = (message, tone) => {
    statusEl.textContent = message;
    statusEl.setAttribute("data-state", tone || "working");
  };
  const isObject = (v) => Object.prototype.toString.call(v) == "[object Object]"; // across realms too
  const parse = (t) => { try { return JSON.parse(t); } catch (e) { /* undefined */ } };
  const store = (f) => { try { return f(localStorage); } catch (e) { /* storage off or full */ } };

  let state;
  const go = (next) => {
    state = test.state = next;
    if (top && next != "waiting") top.hidden = true; // the way on is for a page still waiting
  };
  const config = parse((byId("proxy-config") || {}).textContent);
  if (!Object(config).launch) return go("refused"), say(text("broken"), "error");

  const launch = config.launch;
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

  // The socket (the consumers check the exact origin) and the snippet answer HOST_ORIGINS only: elsewhere
  // nothing can arrive, so say so now instead of "Connecting…" for ever, and tell the host page why.
  if (config.hostOrigins.indexOf(location.origin) < 0) {
    const error = { code: "origin_not_allowed", message: text("origin").replace("{origin}", location.origin) };
    return go("refused"), say(error.message, "error"), tell("install.failed", { result: null, error });
  }

  let held = parse(store((s) => s.getItem(outbox))); // {id, result} awaiting its ack, kept across a reload
  if (!isObject(Object(held).result)) held = 0;
  let ws;
  let overHttp;
  let retries = 0;
  let timer;
  let poller;
  const body = () => JSON.stringify({ type: "result", id: held.id, result: held.result });
  const post = (keepalive) => fetch(config.resultUrl, {
    method: "POST", keepalive, credentials: "same-origin", body: body(),
    headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken }
  });

  const send = () => {
    clearTimeout(timer);
    if (state != "sending") return;
    if (overHttp) {
      // Not the kit's JSON (a proxy's error page, no network): worth another try. The kit's own refusals,
      // a signed-out page's included, come in JSON and say whether they are terminal.
      const failed = () => ({ type: "error", message: text("unreachable") });
      post().then((r) => r.json().catch(failed), failed).then(answer);
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

  // The outbox is done with: the server holds the result (verifying, done) or will never take it (refused).
  const forget = (next) => {
    go(next);
    store((s) => s.removeItem(outbox));
    clearTimeout(timer);
    clearInterval(poller);
    if (next != "verifying") ws.close();
  };

  // What the server says: an ack or an error (socket or HTTP) while sending; while verifying, the verdict
  // pushed on the socket (proxy.install.completed or .failed) or read from proxy:status ({status, ...}).
  const answer = (m) => {
    if (!isObject(m) || state == "done" || state == "refused" || (m.id && m.id != held.id)) return;
    const status = m.status || String(m.type).slice(14); // a push's type is proxy.install.<status>
    if (m.type == "error") {
      if (state == "verifying") return; // proxy:status could not answer: the next poll asks again
      const error = { code: m.code, message: m.message || text("unreachable") };
      if (m.terminal) { // the server's verdict, from its registry of codes (proxy/errors.py)
        forget("refused");
        say(error.message, "error"); // the window stays open so the person can read it
        tell("install.failed", { result: null, error });
      } else if (held) {
        say(error.message + " " + text("retry"), "error");
        timer = setTimeout(send, 1000 << Math.min(retries++, 5));
      }
    } else if (status == "received") {
      if (state != "sending") return;
      forget("verifying");
      say(text("verifying"));
      tell("install.received");
      poller = setInterval(() => fetch(config.statusUrl).then((r) => r.json()).then(answer, () => 0), 3000);
    } else if (/^(refused|pending)$/.test(status) && state == "verifying") {
      // Cyclr did not confirm the result (a claim it disputes): the launch is open again, so wait for the
      // genuine one (the frame is still here). The server's sentence says so.
      const error = m.error || m.refusal || {};
      clearInterval(poller);
      held = 0;
      go("waiting");
      say(error.message, "error");
      tell("install.refused", { error });
    } else if (/^(completed|failed)$/.test(status) && state != "waiting") {
      forget("done");
      const error = m.reason || m.error || { code: "install_failed", message: text("failed") };
      if (status == "failed") {
        say(error.message, "error");
        tell("install.failed", { result: m.result, error });
      } else {
        say(text(popup ? "done-popup" : "done"), "done");
        tell("install.completed", { result: m.result });
      }
      if (popup) setTimeout(close, 300); // long enough to see the final status
    }
  };

  // The result in a message from the frame, or the code naming why it is not one.
  const read = (data) => {
    let t = data;
    try { if (typeof t != "string") t = JSON.stringify(t); } catch (e) { return "malformed"; } // a cyclic structured clone
    if (typeof t != "string") return "not_a_result";
    if (new Blob([t]).size > config.maxResultBytes) return "too_large";
    const m = parse(t);
    if (m === undefined) return "malformed";
    // Cyclr's own sample posts JSON.stringify(result): a bare result, recognised by its fields.
    const result = isObject(m) && (m.type == "cyclr.launch.complete" ? m.result : m.type === undefined && (m.accountId || m.cycles) && m);
    return isObject(result) ? result : "not_a_result";
  };

  addEventListener("message", (e) => {
    const result = read(e.data);
    const why = config.marketplaceOrigins.indexOf(e.origin) < 0 ? "origin" : e.source != frame.contentWindow ? "source" : typeof result == "string" && result;
    if (why) {
      test.rejected++;
      test.lastRejection = { code: why, origin: e.origin };
      return;
    }
    if (state == "waiting") {
      held = { id: Math.random().toString(36).slice(2), result };
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
    if (state == "sending" && body().length < 6e4) post(1).catch(() => 0);
    if (state == "waiting") tell("launch.left");
  });

  go(held ? "sending" : "waiting");
  if (held) say(text("restored"));
  tell("launch.opened");

  const KNOWN = "proxy.topLevel";
  const known = store((s) => s.getItem(KNOWN));
  const move = () => {
    if (state != "waiting") return false;
    store((s) => s.setItem(KNOWN, 1));
    if (popup) return go("leaving"), say(text("moving"));
    // Inline: this page is a frame of the host page. A window of its own, opened in the click itself (the
    // form goes there; if the popup was blocked, the named target opens a tab instead).
    open("", top.target = "proxy-top-level", "popup,width=960,height=760");
    go("elsewhere");
    say(text("elsewhere"), "ready");
    frame.remove();
  };
  if (top) {
    top.onsubmit = move;
    const offer = () => state == "waiting" && (say(text("stuck"), "ready"), top.hidden = false);
    setTimeout(offer, known ? 0 : +top.getAttribute("data-after"));
    if (known && popup && !held) return move(), top.submit(); // before the frame spends its URL
  }

  frame.src = frame.getAttribute("data-src"); // only now: the listener above is in place
})();
