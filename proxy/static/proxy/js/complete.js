/*
 * proxy:complete, where the Launch Complete snippet sends a window it could not post from (redirect mode,
 * direct mode under COOP, the same-tab fallback). The result is in the URL fragment; {launch, nonce} are in
 * this tab's sessionStorage, left by the kit's redirect page. Post them to the server (same origin), retry
 * while the server cannot answer, then tell the person and the host page (BroadcastChannel, localStorage
 * as the fallback; the events socket covers it too), and close the window or go on to the ack's `next`.
 * An ack saying `received` means the server holds the result and is verifying it with Cyclr: the page says
 * so, tells the host page, and polls proxy:status for the verdict before doing the rest.
 *
 * States: sending --(ack)--> completed | failed; sending --(ack: received)--> verifying --(status)--> completed
 *         | failed | refused (Cyclr did not confirm the result: the launch waits again for the genuine one,
 *         so {launch, nonce} stay for it); sending --(a refusal the server calls terminal)--> error;
 *         sending --(any other error, a 5xx, no network)--> sending (after a pause); broken (no result, or no config).
 * Whether a refusal is final is the server's to say (`terminal`, from its registry): this page keeps no list.
 * Its own texts live in the template (data-* on #complete-status), so that they can be translated.
 * ES2017 syntax, no dependencies.
 */
(() => {
  "use strict";

  const T = { done: "proxy.install.completed", failed: "proxy.install.failed", received: "proxy.install.received",
    refused: "proxy.install.refused" };
  const KEY = "proxy.launch";
  const test = window.proxyTest = {};
  const statusEl = document.getElementById("complete-status");
  const text = (key) => statusEl.getAttribute("data-" + key);
  const go = (state, detail, message, tone) => {
    test.state = state;
    test.detail = detail;
    statusEl.textContent = message;
    statusEl.setAttribute("data-state", tone || "error");
  };
  const parse = (t) => { try { return JSON.parse(t); } catch (e) { return undefined; } };
  const session = (f) => { try { return f(sessionStorage); } catch (e) { return null; } };

  const config = parse((document.getElementById("complete-config") || {}).textContent);
  const match = /(?:^#|&)result=([^&]*)/.exec(location.hash);
  // Take the result out of the address bar and history at once: its webhook URLs are secrets.
  if (location.hash) { history.replaceState(null, "", location.pathname + location.search); }
  // The view always writes the config; without it (a template overridden badly) nothing could be posted
  // or followed: say so once, rather than post without a CSRF token or poll nowhere.
  if (!config || typeof config.statusUrl != "string") {
    go("broken", { code: "no_config" }, text("broken"));
    return;
  }
  let result;
  try { result = match && JSON.parse(decodeURIComponent(match[1])); } catch (e) { /* below */ }
  if (!result || typeof result != "object" || Array.isArray(result)) {
    go("broken", { code: "no_result" }, text("no-result"));
    return;
  }

  const kept = Object(parse(session((s) => s.getItem(KEY))));
  const id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => (b + 256).toString(16).slice(1)).join("");
  const body = JSON.stringify({ type: "result", id: id, result: result, launch: kept.launch, nonce: kept.nonce });
  let retries = 0;
  test.state = "sending";

  const tell = (m) => {
    m.ref = kept.ref;
    try { window.opener.postMessage(m, location.origin); } catch (e) { /* none: the channel covers it */ }
    try {
      const channel = new BroadcastChannel("proxy");
      channel.postMessage(m);
      channel.close();
    } catch (e) {
      try { localStorage.setItem("proxy.signal", JSON.stringify(m)); localStorage.removeItem("proxy.signal"); } catch (x) { /* */ }
    }
  };

  let next; // the ack's: where this tab goes back to (same-tab redirect mode), else null
  const settle = (reply) => {
    if (reply.type == "ack") next = reply.next;
    if (reply.status == "pending") { // refused: the genuine result, in this tab or another, still needs the key
      tell({ type: T.refused, launch: reply.launch, error: reply.refusal });
      go("refused", reply, Object(reply.refusal).message);
      return;
    }
    if (/^(completed|failed)$/.test(reply.status)) session((s) => s.removeItem(KEY)); // settled: no more use
    if (reply.type == "ack" && reply.status == "received") {
      // The server owns the result now: wait for Cyclr's verdict (proxy:status sits at launches/<uuid>/).
      tell({ type: T.received, launch: reply.launch });
      go("verifying", reply, text("verifying"), "working");
      const url = config.statusUrl.replace(/[0-9a-f-]{36}/, reply.launch);
      const poll = () => fetch(url, { credentials: "same-origin" }).then((r) => r.json()).then((s) => {
        if (/^(completed|failed|pending)$/.test(s.status)) return settle(Object.assign({ type: "status" }, s));
        setTimeout(poll, 3000);
      }, () => setTimeout(poll, 3000));
      setTimeout(poll, 1000);
    } else if (reply.type != "ack" && reply.type != "status") {
      tell({ type: T.failed, launch: kept.launch, result: null, error: { code: reply.code, message: reply.message } });
      go("error", reply, reply.message || text("not-saved"));
    } else if (reply.status == "failed") {
      tell({ type: T.failed, launch: reply.launch, result: reply.result, error: reply.reason });
      go("failed", reply, (reply.reason && reply.reason.message) || text("not-verified"));
    } else {
      // A duplicate (Cyclr's webhook got here first) is the same install: an ack like any other.
      tell({ type: T.done, launch: reply.launch, result: reply.result });
      go("completed", reply, text("done"), "done");
      // Long enough to read: then back to the page that started it (same tab), or close this window.
      setTimeout(() => (next ? location.replace(next) : close()), next ? 1000 : 1500);
    }
  };

  const send = () => {
    fetch(location.pathname, {
      method: "POST",
      credentials: "same-origin",
      keepalive: body.length < 60000, // a window closed mid-request still delivers
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken },
      body: body
    }).then((response) => response.json().catch(() => ( // not the kit's JSON: a proxy's error page, say
      { type: "error", message: text("http").replace("{status}", response.status) })),
    () => ({ type: "error", message: text("unreachable") })
    ).then((reply) => {
      if (reply.type == "error" && !reply.terminal) { // the server may be restarting, or asks us to slow down
        go("sending", reply, reply.message + " " + text("retry"));
        setTimeout(send, Math.min(30000, 1000 << Math.min(retries++, 5)));
        return;
      }
      settle(reply);
    });
  };
  send();
})();
