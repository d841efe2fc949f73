/*
 * Hostkit: the host page's side of the Cyclr Marketplace flow (docs/modes-and-windows.md: the modes, the
 * closing rules, the state machines).
 *
 *   button.addEventListener("click", () => {
 *     Hostkit.connect({ url: "/proxy/launch/", mode: "popup", fallback: "inline", container: "#box" })
 *       .then((done) => { ... done.launch, done.result ... }, (error) => { ... error.code, error.message ... });
 *   });
 *
 * Each connect() call is one state machine, and NEXT below is all of it: each state's events and the state
 * each leads to. go(event) takes the current state's transition for the event and ignores an event the state
 * has none for. The events are the last word of the messages this page reads, and what happens on the page:
 *   opened     proxy.launch.opened: a kit page names its launch (direct mode: and the Marketplace's origin)
 *   left       proxy.launch.left, and the window then reads closed (a reload says "left" too)
 *   received   proxy.install.received (or proxy:status says received): the server holds the result and is
 *              verifying it with Cyclr, so nothing is "closed" any more
 *   refused    proxy.install.refused: the claim was refused; the launch waits again for its genuine result
 *   completed  proxy.install.completed, and failed: proxy.install.failed (any other proxy.install.* too, and
 *              proxy:status failed or expired): the verified outcome
 *   focus      the host page is back while pending (the window may be open, hidden or gone): ask
 *   reopen, cancel: the person's answer to the prompt focus shows;  timeout: the call's timer ran out
 * The final states (completed, failed, closed, timeout) have no row: reaching one settles the call.
 * A window that reads `closed` proves nothing (COOP severs the handle of a window that is still open), so
 * the handle is never the verdict: every channel (the window's messages, the kit's pages over
 * BroadcastChannel or localStorage, the events socket, proxy:status) stays open until one settles the call,
 * and only a verified outcome (proxy.install.completed or .failed) does.
 * Error codes: popup_blocked, closed, timeout, install_failed, expired, origin_not_allowed (the kit's page is
 * on an origin HOST_ORIGINS does not list), invalid_options.
 * Hostkit.manage({url}) opens Cyclr's ORBIT through proxy:orbit and resolves with what changed (see manage).
 * ES2017, no dependencies, no build step; the pages serve hostkit.min.js, this file minified by
 * scripts/minify_js.py (tdewolff/minify, which renames locals).
 */
(() => {
  "use strict";

  const NEXT = {
    opening: { opened: "pending", left: "closed", received: "received", refused: "pending", completed: "completed", failed: "failed", timeout: "timeout" },
    pending: { focus: "asking", left: "closed", received: "received", refused: "pending", completed: "completed", failed: "failed", timeout: "timeout" },
    asking: { reopen: "pending", cancel: "closed", left: "closed", received: "received", refused: "pending", completed: "completed", failed: "failed", timeout: "timeout" },
    received: { refused: "pending", completed: "completed", failed: "failed", timeout: "timeout" },
  };
  const MODES = ["popup", "inline", "redirect", "direct"];
  // Sentences for what only this page can know; a server's verdict comes with the server's own sentence. They
  // come from the server in the page's language ({% hostkit_text %}, which {% hostkit_script %} includes: the JSON
  // block #hostkit-text, keys as in HOSTKIT_TEXT in proxy/templatetags/proxy.py); without it, a key names itself.
  const texts = document.getElementById("hostkit-text");
  const TEXT = texts ? JSON.parse(texts.textContent) : {};
  const text = (key) => TEXT[key] || key;
  const test = window.__hostkitTest = { ignored: 0 }; // read by the browser tests

  const id = () => Math.random().toString(36).slice(2);
  // Connect's errors end with its try-again sentence (text("again")); manage() passes again = "": its own button.
  const fail = (code, extra, message, again = " " + text("again")) =>
    Object.assign(new Error((message || text(code)) + again), { name: "HostkitError", code }, extra);
  const element = (tag, props) => Object.assign(document.createElement(tag), props);
  const popup = (url, name) => window.open(url, name, "popup,width=960,height=760");
  const modeUrl = (base, mode, next) => {
    const url = new URL(base);
    url.searchParams.set("mode", mode);
    if (next) url.searchParams.set("next", next);
    return url;
  };

  // A socket on this site (sending `hello` each time it opens), reopened until stopped; returns the stop function.
  const socket = (path, onData, hello) => {
    let ws, stopped;
    const open = () => {
      ws = new WebSocket(location.origin.replace("http", "ws") + path);
      ws.onopen = () => hello && ws.send(hello);
      ws.onmessage = (e) => onData(JSON.parse(e.data));
      ws.onclose = () => stopped || setTimeout(open, 3000);
    };
    open();
    return () => { stopped = 1; ws.close(); };
  };

  // Pre-mints (CYCLR_PROXY["PREMINT"], docs/modes-and-windows.md): a button with data-premint (and data-launch-url,
  // data-premint-url, data-csrf) has its launch minted before the click: on the intent to click ("intent": pointer
  // over it or focus) or when the page loads ("load"). ready, by launch URL: the ticket this page named its
  // pre-mint with (X-Premint), offered 200 s (the server keeps it 240 s, Cyclr's URL lasts 300 s) and taken by one
  // click, which opens proxy:launch?premint=<ticket> at once: the server waits there for a mint still under way,
  // and mints itself for a pre-mint that failed or has not begun.
  const ready = {};
  const premint = (b) => {
    b = b.closest && b.closest("[data-premint]");
    const o = b && !b.disabled && b.dataset; // disabled: its connect() is under way
    const k = o && o.launchUrl;
    if (!o || ready[k]) return;
    const t = ready[k] = id();
    setTimeout(() => ready[k] == t && delete ready[k], 2e5);
    fetch(o.premintUrl, { method: "POST", headers: { "X-CSRFToken": o.csrf, "X-Premint": t } }).catch(() => 0);
  };
  // pointerover comes first for a mouse, a pen and a touch (before pointerdown); focusin for the keyboard.
  ["pointerover", "focusin"].forEach((t) => addEventListener(t, (e) => premint(e.target)));
  addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-premint=load]").forEach(premint));

  const connect = (opts) => {
    opts = opts || {};
    let mode = opts.mode || "popup";
    const box = typeof opts.container == "string" ? document.querySelector(opts.container) : opts.container;
    if (!opts.url || !MODES.includes(mode) || ((mode == "inline" || opts.fallback == "inline") && !(box && box.nodeType))) {
      return Promise.reject(fail("invalid_options", 0, "Hostkit.connect() needs url, mode (" + MODES + ") and, for inline, container."));
    }
    const ref = "hostkit" + id(); // names the window or frame; the kit's pages echo it on BroadcastChannel

    // The executor runs synchronously, so window.open still counts as part of the click.
    return new Promise((resolve, reject) => {
      const base = new URL(opts.url, location.href);
      const open = () => popup(modeUrl(base, mode), ref);
      // A fresh pre-mint for this URL is this click's launch (Reopen mints anew).
      const first = modeUrl(base, mode);
      if (mode == "popup" && ready[opts.url]) first.searchParams.set("premint", ready[opts.url]);
      delete ready[opts.url];
      let win = mode != "inline" && popup(first, ref);
      let frame;
      if (!win) {
        if (mode != "inline") { // blocked: nothing was minted
          if (opts.fallback == "redirect") return location.assign(modeUrl(base, "redirect", location.href));
          if (opts.fallback != "inline") return reject(fail("popup_blocked"));
          mode = "inline";
        }
        box.append(frame = element("iframe", { name: ref, src: modeUrl(base, mode), className: "hostkit-inline-frame" }));
      }

      const own = {};    // every launch this call opened (Reopen may open another)
      let launch;        // the newest of them: the one polled
      let origin;        // direct mode: the Marketplace's exact origin, named by the kit's redirect page
      let delivering;
      let prompt;        // the question focus asks, shown while asking
      let state = test.state = "opening";
      const undo = [];   // what a final state takes down: listeners, sockets, timers
      const live = () => NEXT[state];

      // The one place the state changes: true if `event` moved it. A final state settles the call with
      // `error` (rejects) or `value` (resolves).
      const go = (event, error, value) => {
        const next = live() && NEXT[state][event];
        if (!next) return;
        state = test.state = next;
        if (prompt) prompt.remove();
        if (!live()) {
          undo.forEach((f) => f());
          // Direct mode's window is the Marketplace itself, and a timed-out one is abandoned: close them.
          if (mode == "direct" || next == "timeout") { try { win.close(); } catch (e) { /* severed or inline */ } }
          error ? reject(error) : resolve(value);
        }
        return 1;
      };
      const on = (type, listener) => {
        addEventListener(type, listener);
        undo.push(() => removeEventListener(type, listener));
      };

      // News about a launch: from the window or frame this call opened (trusted), from a kit page in any
      // tab that names this call (ref) or its launch, from the events socket or proxy:status (trusted).
      // Several channels carry the same news: only the first verdict counts (one DOM event, one settlement).
      const hear = (d, trusted) => {
        if (!d || !(trusted || d.ref == ref || own[d.launch]) || !live()) return;
        const type = String(d.type);
        const event = type.slice(14); // proxy.install.<event>
        if (type == "proxy.launch.opened") {
          own[launch = d.launch] = 1;
          origin = d.origin;
          go("opened");
        } else if (type == "proxy.launch.left" && win) {
          setTimeout(() => win.closed && go("left", fail("closed")), 1000);
        } else if (type.startsWith("proxy.install.")) {
          if (launch && !own[d.launch]) return test.ignored++; // another tab's launch
          if (event == "received") own[launch = d.launch] = 1; // the one to poll, even if its "opened" was missed
          if (event == "received" || event == "refused") return go(event);
          const ok = event == "completed";
          const why = Object(d.error);
          const detail = { launch: d.launch, result: d.result || null };
          document.dispatchEvent(new CustomEvent(ok ? "hostkit:completed" : "hostkit:failed",
            { detail: ok ? detail : Object.assign({ error: why }, detail) }));
          ok ? go("completed", 0, detail)
            : go("failed", fail(why.code == "expired" || why.code == "origin_not_allowed" ? why.code : "install_failed", Object.assign({ detail: why }, detail), why.message));
        }
      };
      // A launch's status (proxy:status, or the server's ack in direct mode) as news.
      const news = (s) => hear({ type: "proxy.install." + (s.status == "expired" ? "failed" : s.status), launch, result: s.result, error: s.reason || { code: s.status } }, 1);

      // The events socket opens a second after the click, not against the proxy page's request: nothing it carries
      // comes sooner (the person has not installed yet), and proxy:status polls for what it would miss.
      setTimeout(() => live() && undo.push(socket("/ws/proxy/events/", (d) => hear(d, 1))), 1e3);
      // proxy:status sits beside proxy:launch (proxy/urls.py): .../launch/ -> .../launches/<uuid>/
      const poll = () => launch && fetch(base.pathname.replace(/launch\/?$/, "launches/" + launch + "/"))
        .then((r) => r.json()).then((s) => /rec|com|fai|exp/.test(s.status) && news(s), () => { /* offline for now: the next poll tries again */ });
      const poller = setInterval(poll, 3000);
      undo.push(() => clearInterval(poller));

      // Direct mode: the snippet posts the result here. Deliver it over the launch's socket and answer the
      // snippet once the server has it (until then it re-posts, then goes to proxy:complete on its own).
      const deliver = (e) => {
        const answer = () => e.source.postMessage({ type: "cyclr.launch.ack" }, e.origin);
        if (!live()) return answer();
        if (delivering || !launch) return;
        undo.push(delivering = socket("/ws/proxy/launches/" + launch + "/", (d) => {
          if (d.type == "ack") answer(), news(d);
          else if (d.type != "error") hear(d, 1); // the verdict, pushed once the server has verified it
          else if (d.terminal) answer(), news({ status: "failed", reason: d }); // final, says the server's registry
        }, JSON.stringify({ type: "result", id: id(), result: e.data.result })));
      };

      on("message", (e) => {
        if (!e.source || (e.source != win && !(frame && e.source == frame.contentWindow))) return;
        if (e.origin == location.origin) hear(e.data, 1);
        else if (mode == "direct" && e.origin == origin && Object(e.data).type == "cyclr.launch.complete") deliver(e);
      });
      on("storage", (e) => e.key == "proxy.signal" && e.newValue && hear(JSON.parse(e.newValue)));
      try {
        const channel = new BroadcastChannel("proxy");
        channel.onmessage = (e) => hear(e.data);
        undo.push(() => channel.close());
      } catch (e) { /* none: the kit's pages signal through localStorage instead */ }

      const button = (textContent, onclick) => element("button", { type: "button", textContent, onclick });
      on("focus", () => {
        poll();
        if (!win || !go("focus")) return;
        document.body.append(prompt = element("p", { className: "hostkit-prompt", style: "position:fixed;right:1em;bottom:0;padding:1em;background:#fff;border:1px solid" }));
        prompt.append(text("asking") + " ", button(text("reopen"), () => {
          go("reopen");
          win.closed ? win = open() || win : win.focus();
        }), " ", button(text("cancel"), () => go("cancel", fail("closed", {}, text("cancelled")))));
      });

      const timer = setTimeout(() => go("timeout", fail("timeout")), opts.timeout || 18e5); // 30 minutes
      undo.push(() => clearTimeout(timer));
    });
  };

  // ORBIT (manage installed integrations): resolves with what changed ({type, session, ok, changes, errors}:
  // sentences) once the ORBIT window has gone and the server has reconciled the account. `session` names the
  // window: the server's push on the events socket carries it, and proxy:orbit_changes (<url><session>/) answers
  // it again, asked every 3 s once the window reads closed in case the push is lost; after ten answers that it
  // knows nothing (the page's close notice never came), rejects orbit_unknown.
  const manage = (o) => new Promise((ok, no) => {
    const session = id();
    const url = new URL(o.url, location.href);
    url.searchParams.set("session", session);
    const win = popup(url, "hostkit-orbit");
    if (!win) return no(fail("popup_blocked", 0, 0, ""));
    let tries = 10;
    const end = (d, error) => { stop(); clearInterval(poller); error ? no(error) : ok(d); };
    const hear = (d) => d.session == session && end(d);
    const stop = socket("/ws/proxy/events/", hear);
    const poller = setInterval(() => win.closed && (tries-- ? fetch(url.pathname + session + "/").then((r) => r.json()).then(hear, () => {})
      : end(0, fail("orbit_unknown", 0, 0, ""))), 3000);
  });

  window.Hostkit = { connect, manage };
})();
