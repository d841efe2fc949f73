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
  const ACK = "cyclr.launch.ack";         // the answer that stops the snippet re-posting
  const MODES = ["popup", "inline", "redirect", "direct"];
  const TEXT = {
    popup_blocked: "Your browser blocked the window. Allow pop-ups for this site.",
    closed: "The window was closed before the integration finished.",
    cancelled: "Connecting was cancelled.",
    timeout: "Connecting took too long, so it was stopped.",
    expired: "This connection expired.",
    install_failed: "The integration could not be installed."
  };
  const test = window.__hostkitTest = { ignored: 0 }; // read by the browser tests; handy when debugging

  const id = () => Math.random().toString(36).slice(2);
  const fail = (code, extra, text) =>
    Object.assign(new Error((text || TEXT[code]) + " Click Connect to try again."), { name: "HostkitError", code }, extra);
  const modeUrl = (url, mode, next) => {
    const u = new URL(url, location.href);
    u.searchParams.set("mode", mode);
    if (next) u.searchParams.set("next", next);
    return u.href;
  };

  // A socket on this site, reconnected until stopped; returns the stop function.
  const socket = (path, onData, onOpen) => {
    let ws, stopped, failures = 0;
    const open = () => {
      if (stopped) return;
      ws = new WebSocket(location.origin.replace("http", "ws") + path);
      ws.onopen = () => { failures = 0; onOpen(ws); };
      ws.onmessage = (e) => { try { onData(JSON.parse(e.data)); } catch (x) { /* not JSON */ } };
      ws.onclose = () => stopped || setTimeout(open, 1000 << Math.min(failures++, 4));
    };
    open();
    return () => { stopped = 1; ws.close(); };
  };

  const connect = (opts) => {
    opts = opts || {};
    let mode = opts.mode || "popup";
    const box = typeof opts.container == "string" ? document.querySelector(opts.container) : opts.container;
    if (!opts.url || MODES.indexOf(mode) < 0 || ((mode == "inline" || opts.fallback == "inline") && !(box && box.nodeType))) {
      return Promise.reject(fail("invalid_options", {}, "Hostkit.connect() needs a url, a mode (" + MODES +
        ") and, for inline, a container."));
    }
    const open = () => window.open(modeUrl(opts.url, mode), ref, "popup,width=960,height=760");
    const ref = "hostkit" + id(); // names the window or frame; the kit's pages echo it on BroadcastChannel

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
        frame = Object.assign(document.createElement("iframe"),
          { name: ref, src: modeUrl(opts.url, mode), title: "Connect an integration", className: "hostkit-inline-frame" });
        box.append(frame);
      }

      const own = {};    // every launch this call opened (Reopen may open another)
      let launch;        // the newest of them: the one polled
      let origin;        // direct mode: the Marketplace's exact origin, named by the kit's redirect page
      let stopDelivery;
      let prompt;
      let state;
      const go = (next) => { state = test.state = next; };
      const live = () => state == "opening" || state == "pending" || state == "asking";

      const finish = (next, value, error) => {
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

      // proxy.install.completed / failed, from any channel.
      const settle = (d) => {
        const detail = { launch: d.launch, result: d.result === undefined ? null : d.result };
        const why = Object(d.error);
        const code = why.code == "expired" ? "expired" : "install_failed";
        document.dispatchEvent(new CustomEvent(d.type == DONE ? "hostkit:completed" : "hostkit:failed",
          { detail: d.type == DONE ? detail : Object.assign({ error: why }, detail) }));
        d.type == DONE ? finish("completed", detail)
          : finish("failed", 0, fail(code, Object.assign({ detail: why }, detail), why.message));
      };

      // News about a launch: from the window or frame this call opened (trusted), from a kit page in any
      // tab that names this call (ref) or its launch, from the events socket or proxy:status (trusted).
      const hear = (d, trusted) => {
        if (!d || !(trusted || d.ref == ref || own[d.launch])) return;
        if (d.type == OPENED && d.launch) {
          own[launch = d.launch] = 1;
          origin = d.origin || origin;
          if (state == "opening") go("pending");
        } else if (d.type == LEFT && win) {
          // A reload says "left" too: only a window that then reads closed has gone.
          setTimeout(() => win.closed && finish("closed", 0, fail("closed")), 1000);
        } else if (d.type == DONE || d.type == FAILED) {
          if (launch && !own[d.launch]) return test.ignored++; // another tab's launch
          settle(d);
        }
      };

      const stopEvents = socket(opts.eventsPath || "/ws/proxy/events/", (d) => hear(d, 1), () => { test.events = 1; });
      const poll = () => launch && fetch(new URL(opts.url, location.href).pathname.replace(/launch\/?$/, "launches/" + launch + "/"),
        { credentials: "same-origin" }).then((r) => r.json()).then((s) => {
        if (/completed|failed|expired/.test(s.status)) {
          hear({ type: s.status == "completed" ? DONE : FAILED, launch: s.launch, result: s.result,
                 error: s.reason || { code: s.status } }, 1);
        }
      }, () => { /* offline for now: the next poll tries again */ });
      const poller = setInterval(poll, 3000);

      // Direct mode: the snippet posts the result here. Deliver it over the launch's socket and answer the
      // snippet once the server has it (until then it re-posts, then goes to proxy:complete on its own).
      const deliver = (e) => {
        const answer = () => e.source.postMessage({ type: ACK }, e.origin);
        if (!live()) return answer();
        if (stopDelivery || !launch) return;
        const message = JSON.stringify({ type: "result", id: id(), result: e.data.result });
        stopDelivery = socket("/ws/proxy/launches/" + launch + "/", (d) => {
          if (d.type == "ack" || d.code != "server_error") { // every other refusal is final
            answer();
            settle(d.type == "ack" && d.status != "failed" ? { type: DONE, launch, result: d.result }
              : { type: FAILED, launch, result: d.result, error: d.reason || d });
          }
        }, (ws) => ws.send(message));
      };

      const onMessage = (e) => {
        if (!e.source || (e.source != win && !(frame && e.source == frame.contentWindow))) return;
        if (e.origin == location.origin) hear(e.data, 1);
        else if (mode == "direct" && e.origin == origin && Object(e.data).type == RESULT) deliver(e);
      };
      const onStorage = (e) => { if (e.key == "proxy.signal" && e.newValue) hear(JSON.parse(e.newValue)); };
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
        prompt.style.cssText = "position:fixed;right:0;bottom:0;margin:1em;padding:1em;background:#fff;border:1px solid";
        prompt.append("Still connecting? ", button("Reopen the window", () => {
          prompt.remove();
          go("pending");
          win.closed ? win = open() || win : win.focus();
        }), " ", button("Cancel", () => finish("closed", 0, fail("closed", {}, TEXT.cancelled))));
        document.body.append(prompt);
      };

      addEventListener("message", onMessage);
      addEventListener("storage", onStorage);
      addEventListener("focus", onFocus);
      go("opening");
      const timeout = opts.timeout == null ? 18e5 : +opts.timeout; // 30 minutes
      const timer = timeout > 0 && setTimeout(() => {
        try { win.close(); } catch (e) { /* inline */ }
        finish("timeout", 0, fail("timeout"));
      }, Math.min(timeout, 2147483647));
    });
  };

  window.Hostkit = { version: "0.2.0", connect };
})();
