/*
 * Hostkit: the host page's side of the Cyclr Marketplace flow (README: "Modes", "Closing rules").
 *
 *   button.addEventListener("click", () => {
 *     Hostkit.connect({ url: "/proxy/launch/", mode: "popup", fallback: "inline", container: "#box" })
 *       .then((done) => { ... done.launch, done.result ... }, (error) => { ... error.code, error.message ... });
 *   });
 *
 * Each connect() call is one state machine (README, "State machines"):
 *   opening --opened--> pending --focus--> asking --Reopen--> pending;  asking --Cancel--> closed
 *   opening | pending | asking --> completed | failed | closed (the kit's page left without a result) | timeout
 * A window that reads `closed` proves nothing (COOP severs the handle of a window that is still open), so
 * the handle is never the verdict: every channel (the window's messages, the kit's pages over
 * BroadcastChannel or localStorage, the events socket, proxy:status) stays open until one settles the call.
 * Error codes: popup_blocked, closed, timeout, install_failed, expired, invalid_options.
 * Hostkit.manage({url}) opens Cyclr's ORBIT through proxy:orbit and resolves with what changed.
 * ES2017, no dependencies, no build step; the pages serve hostkit.min.js, this file minified by rjsmin
 * (scripts/minify_js.py), which renames nothing: hence the short names.
 */
(() => {
  "use strict";

  // The messages this page reads and writes, each spelled once.
  const OPENED = "proxy.launch.opened"; // a kit page names its launch (direct mode: and the Marketplace origin)
  const LEFT = "proxy.launch.left";     // the kit's page went away without a result
  const DONE = "proxy.install.completed";
  const FAILED = "proxy.install.failed";
  const RESULT = "cyclr.launch.complete"; // the Launch Complete snippet, to the opener in direct mode
  const MODES = ["popup", "inline", "redirect", "direct"];
  const TEXT = {
    popup_blocked: "The browser blocked the window: allow pop-ups for this site.",
    closed: "The window was closed.",
    cancelled: "Cancelled.",
    timeout: "It took too long.",
    expired: "The link expired.",
    install_failed: "The integration could not be installed."
  };
  const test = window.__hostkitTest = { ignored: 0 }; // read by the browser tests; handy when debugging

  const id = () => Math.random().toString(36).slice(2);
  const fail = (code, extra, text) =>
    Object.assign(new Error((text || TEXT[code]) + " Click Connect to try again."), { name: "HostkitError", code }, extra);
  const modeUrl = (url, mode, next) => {
    url = new URL(url, location.href);
    url.searchParams.set("mode", mode);
    if (next) url.searchParams.set("next", next);
    return url.href;
  };

  // A socket on this site, reopened until stopped; returns the stop function.
  const socket = (path, onData, onOpen) => {
    let ws, stopped;
    const open = () => {
      ws = new WebSocket(location.origin.replace("http", "ws") + path);
      ws.onopen = () => onOpen(ws);
      ws.onmessage = (e) => onData(JSON.parse(e.data));
      ws.onclose = () => stopped || setTimeout(open, 3000);
    };
    open();
    return () => { stopped = 1; ws.close(); };
  };

  const connect = (opts) => {
    opts = opts || {};
    let mode = opts.mode || "popup";
    const box = typeof opts.container == "string" ? document.querySelector(opts.container) : opts.container;
    if (!opts.url || MODES.indexOf(mode) < 0 || ((mode == "inline" || opts.fallback == "inline") && !(box && box.nodeType))) {
      return Promise.reject(fail("invalid_options", {}, "Hostkit.connect() needs a url, a mode (" + MODES + ") and, for inline, a container."));
    }
    const ref = "hostkit" + id(); // names the window or frame; the kit's pages echo it on BroadcastChannel
    const open = () => window.open(modeUrl(opts.url, mode), ref, "popup,width=960,height=760");

    // The executor runs synchronously, so window.open still counts as part of the click.
    return new Promise((resolve, reject) => {
      let win = mode != "inline" && open();
      let frame;
      if (!win) {
        if (mode != "inline") { // blocked: nothing was minted
          if (opts.fallback == "redirect") return location.assign(modeUrl(opts.url, "redirect", location.href));
          if (opts.fallback != "inline") return reject(fail("popup_blocked"));
          mode = "inline";
        }
        frame = Object.assign(document.createElement("iframe"), { name: ref, src: modeUrl(opts.url, mode), className: "hostkit-inline-frame" });
        box.append(frame);
      }

      const own = {};    // every launch this call opened (Reopen may open another)
      let launch;        // the newest of them: the one polled
      let origin;        // direct mode: the Marketplace's exact origin, named by the kit's redirect page
      let stopDelivery;
      let prompt;
      let state;
      const go = (next) => { state = test.state = next; };
      const live = () => /opening|pending|asking/.test(state);

      const finish = (next, error, value) => {
        if (!live()) return;
        go(next);
        clearInterval(poller);
        clearTimeout(timer);
        stopEvents();
        if (stopDelivery) stopDelivery();
        if (channel) channel.close();
        removeEventListener("message", onMessage);
        removeEventListener("storage", onStorage);
        removeEventListener("focus", onFocus);
        if (prompt) prompt.remove();
        if (mode == "direct") { try { win.close(); } catch (e) { /* severed: its own page closes it */ } }
        error ? reject(error) : resolve(value);
      };

      // proxy.install.completed or .failed, from any channel: resolve, or reject install_failed / expired.
      // Several channels carry the same news: only the first one counts (one DOM event, one settlement).
      const settle = (d) => {
        if (!live()) return;
        const ok = d.type == DONE;
        const why = Object(d.error);
        const detail = { launch: d.launch, result: d.result || null };
        document.dispatchEvent(new CustomEvent(ok ? "hostkit:completed" : "hostkit:failed",
          { detail: ok ? detail : Object.assign({ error: why }, detail) }));
        ok ? finish("completed", 0, detail)
          : finish("failed", fail(why.code == "expired" ? "expired" : "install_failed", Object.assign({ detail: why }, detail), why.message));
      };

      // News about a launch: from the window or frame this call opened (trusted), from a kit page in any
      // tab that names this call (ref) or its launch, from the events socket or proxy:status (trusted).
      const hear = (d, trusted) => {
        if (!d || !(trusted || d.ref == ref || own[d.launch])) return;
        if (d.type == OPENED) {
          own[launch = d.launch] = 1;
          origin = d.origin;
          if (state == "opening") go("pending");
        } else if (d.type == LEFT && win) {
          // A reload says "left" too: only a window that then reads closed has gone.
          setTimeout(() => win.closed && finish("closed", fail("closed")), 1000);
        } else if (d.type == DONE || d.type == FAILED) {
          if (launch && !own[d.launch]) return test.ignored++; // another tab's launch
          settle(d);
        }
      };

      const stopEvents = socket("/ws/proxy/events/", (d) => hear(d, 1), () => { test.events = 1; });
      // proxy:status sits beside proxy:launch (proxy/urls.py): .../launch/ -> .../launches/<uuid>/
      const poll = () => launch && fetch(new URL(opts.url, location.href).pathname.replace(/launch\/?$/, "launches/" + launch + "/"))
        .then((r) => r.json()).then((s) => {
          if (/com|fai|exp/.test(s.status)) {
            hear({ type: s.status == "completed" ? DONE : FAILED, launch, result: s.result, error: s.reason || { code: s.status } }, 1);
          }
        }, () => { /* offline for now: the next poll tries again */ });
      const poller = setInterval(poll, 3000);

      // Direct mode: the snippet posts the result here. Deliver it over the launch's socket and answer the
      // snippet once the server has it (until then it re-posts, then goes to proxy:complete on its own).
      const deliver = (e) => {
        const answer = () => e.source.postMessage({ type: "cyclr.launch.ack" }, e.origin);
        if (!live()) return answer();
        if (stopDelivery || !launch) return;
        const message = JSON.stringify({ type: "result", id: id(), result: e.data.result });
        stopDelivery = socket("/ws/proxy/launches/" + launch + "/", (d) => {
          if (d.code != "server_error") { // an ack, or a refusal that is final
            answer();
            settle({ type: d.status == "completed" ? DONE : FAILED, launch, result: d.result, error: d.reason || d });
          }
        }, (ws) => ws.send(message));
      };

      const onMessage = (e) => {
        if (!e.source || (e.source != win && !(frame && e.source == frame.contentWindow))) return;
        if (e.origin == location.origin) hear(e.data, 1);
        else if (mode == "direct" && e.origin == origin && Object(e.data).type == RESULT) deliver(e);
      };
      const onStorage = (e) => e.key == "proxy.signal" && e.newValue && hear(JSON.parse(e.newValue));
      let channel;
      try {
        channel = new BroadcastChannel("proxy");
        channel.onmessage = (e) => hear(e.data);
      } catch (e) { /* none: the kit's pages signal through localStorage instead */ }

      const button = (text, onclick) => Object.assign(document.createElement("button"), { type: "button", textContent: text, onclick });
      // Back on the host page while pending: the window may be open, hidden, or gone. Ask.
      const onFocus = () => {
        poll();
        if (state != "pending" || !win) return;
        go("asking");
        prompt = document.createElement("p");
        prompt.className = "hostkit-prompt";
        prompt.style.cssText = "position:fixed;right:1em;bottom:0;padding:1em;background:#fff;border:1px solid";
        prompt.append("Still connecting? ", button("Reopen the window", () => {
          prompt.remove();
          go("pending");
          win.closed ? win = open() || win : win.focus();
        }), " ", button("Cancel", () => finish("closed", fail("closed", {}, TEXT.cancelled))));
        document.body.append(prompt);
      };

      addEventListener("message", onMessage);
      addEventListener("storage", onStorage);
      addEventListener("focus", onFocus);
      go("opening");
      const timer = setTimeout(() => {
        try { win.close(); } catch (e) { /* inline */ }
        finish("timeout", fail("timeout"));
      }, opts.timeout || 18e5); // 30 minutes
    });
  };

  // ORBIT (manage installed integrations): resolves with the server's proxy.integrations.changed push
  // ({changes, ok}), sent once the ORBIT window has gone and the account is reconciled with Cyclr.
  const manage = (o) => new Promise((ok, no) => {
    if (!window.open(o.url, "hostkit-orbit", "popup,width=960,height=760")) return no(fail("popup_blocked"));
    const stop = socket("/ws/proxy/events/", (d) => d.type == "proxy.integrations.changed" && (stop(), ok(d)), () => 0);
  });

  window.Hostkit = { version: "0.2.0", connect, manage };
})();
