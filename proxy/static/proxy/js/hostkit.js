/*
 * Hostkit: the host page's side of the Cyclr Marketplace flow.
 *
 *   button.addEventListener("click", function () {
 *     Hostkit.connect({ url: "/proxy/launch/" }).then(function (done) { ... done.launch, done.result ... },
 *                                                     function (error) { ... error.code, error.message ... });
 *   });
 *
 * connect() opens the kit's proxy page (in a popup, or an inline iframe) and settles once, on the first of:
 * the proxy page's postMessage (same origin, from the window we opened), the server's push on the events
 * WebSocket (covers a severed window.opener), the popup being closed, or the timeout.
 * Errors carry a stable `code`: popup_blocked, closed, timeout, install_failed, expired (and
 * invalid_options for a programming mistake). No dependencies, no build step, ES2017.
 */
(function () {
  "use strict";

  var POPUP_NAME = "hostkit-connect";
  var POPUP_FEATURES = "popup,width=960,height=760";
  var DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
  var DEFAULT_EVENTS_PATH = "/ws/proxy/events/";
  var POLL_MS = 500;            // how often to look at popup.closed (there is no close event)
  var CLOSED_GRACE_MS = 2000;   // a result can still arrive over the events socket after the popup closes
  var MAX_TIMER_MS = 2147483647; // setTimeout fires at once for longer delays
  var EVENTS_RETRY_MS = [1000, 2000, 5000, 10000];
  var COMPLETED = "proxy.install.completed";
  var FAILED = "proxy.install.failed";
  var OPENED = "proxy.launch.opened"; // the launch page names its launch as it loads

  function hostkitError(code, message, extra) {
    var error = new Error(message);
    error.name = "HostkitError";
    error.code = code;
    if (extra) { Object.keys(extra).forEach(function (key) { error[key] = extra[key]; }); }
    return error;
  }

  function withMode(url, mode) {
    // Keeps the integrator's own query parameters and fragment; only `mode` is set.
    var parsed = new URL(url, window.location.href);
    parsed.searchParams.set("mode", mode);
    return parsed.href;
  }

  function findContainer(container) {
    if (typeof container === "string") { return document.querySelector(container); }
    return container && container.nodeType === 1 ? container : null;
  }

  function isObject(value) {
    return value !== null && typeof value === "object";
  }

  // The user's event stream: the server pushes proxy.install.* there for every accepted result.
  // It is only a second route, so failures are retried quietly until connect() settles.
  function openEventsSocket(path, onData) {
    if (typeof WebSocket !== "function") { return { close: function () {} }; }
    var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + path;
    var socket = null;
    var stopped = false;
    var failures = 0;
    var timer = null;

    function open() {
      if (stopped) { return; }
      try { socket = new WebSocket(url); } catch (e) { retry(); return; }
      socket.onopen = function () { window.hostkitEventsOpen = true; };
      socket.onmessage = function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        onData(data);
      };
      socket.onclose = function () {
        socket = null;
        window.hostkitEventsOpen = false;
        retry();
      };
    }
    function retry() {
      if (stopped) { return; }
      timer = setTimeout(open, EVENTS_RETRY_MS[Math.min(failures++, EVENTS_RETRY_MS.length - 1)]);
    }

    open();
    return {
      close: function () {
        stopped = true;
        clearTimeout(timer);
        if (socket) { try { socket.close(); } catch (e) { /* already closing */ } }
      }
    };
  }

  function connect(options) {
    var opts = options || {};
    var mode = opts.mode || "popup";
    var timeout = opts.timeout == null ? DEFAULT_TIMEOUT_MS : Number(opts.timeout);
    var eventsPath = opts.eventsPath || DEFAULT_EVENTS_PATH;

    if (!opts.url) {
      return Promise.reject(hostkitError("invalid_options",
        "Hostkit.connect() needs a url: the address of the kit's launch page."));
    }
    if (mode !== "popup" && mode !== "inline" && mode !== "redirect") {
      return Promise.reject(hostkitError("invalid_options",
        "Hostkit.connect() mode must be \"popup\", \"inline\" or \"redirect\"."));
    }
    var container = mode === "inline" ? findContainer(opts.container) : null;
    if (mode === "inline" && !container) {
      return Promise.reject(hostkitError("invalid_options",
        "Hostkit.connect() in inline mode needs a container: an element or a selector that matches one."));
    }

    // The executor runs synchronously, so window.open below still counts as part of the click.
    return new Promise(function (resolve, reject) {
      var popup = null;
      var frame = null;

      // Redirect mode opens the same kind of window; the result then comes over the events socket,
      // because the launch page cuts the window's opener before loading the Marketplace.
      if (mode !== "inline") {
        popup = window.open(withMode(opts.url, mode), POPUP_NAME, POPUP_FEATURES);
        if (!popup) {
          reject(hostkitError("popup_blocked",
            "Your browser blocked the window that connects the integration. Allow pop-ups for this site, then try again."));
          return;
        }
      } else {
        frame = document.createElement("iframe");
        frame.className = "hostkit-inline-frame";
        frame.title = "Connect an integration";
        frame.src = withMode(opts.url, "inline");
        container.appendChild(frame);
      }

      var settled = false;
      var pollTimer = null;
      var graceTimer = null;
      var timeoutTimer = null;
      var events = null;

      function settle() {
        if (settled) { return false; }
        settled = true;
        clearInterval(pollTimer);
        clearTimeout(graceTimer);
        clearTimeout(timeoutTimer);
        window.removeEventListener("message", onMessage);
        if (events) { events.close(); }
        return true;
      }

      function fail(error) {
        if (settle()) { reject(error); }
      }

      function onInstallMessage(data) {
        if (!isObject(data) || (data.type !== COMPLETED && data.type !== FAILED) || !settle()) { return; }
        var launch = data.launch;
        var result = data.result === undefined ? null : data.result;
        if (data.type === COMPLETED) {
          document.dispatchEvent(new CustomEvent("hostkit:completed", { detail: { launch: launch, result: result } }));
          resolve({ launch: launch, result: result });
          return;
        }
        var detail = isObject(data.error) ? data.error : {};
        var code = detail.code === "expired" ? "expired" : "install_failed";
        var message = typeof detail.message === "string" && detail.message ? detail.message
          : "The integration could not be installed. Try again, or contact support if it keeps happening.";
        document.dispatchEvent(new CustomEvent("hostkit:failed",
          { detail: { launch: launch, result: result, error: detail } }));
        reject(hostkitError(code, message, { launch: launch, result: result, detail: detail }));
      }

      // The launch this call opened, once its page announces it: the events socket carries all of
      // the user's launches (another tab's too), so only this one may settle this call.
      var ownLaunch = null;

      function onMessage(event) {
        // Only the kit's proxy page (same origin) in the window this call opened may settle it.
        if (event.origin !== window.location.origin) { return; }
        var expected = popup || (frame && frame.contentWindow);
        if (!expected || event.source !== expected) { return; }
        if (isObject(event.data) && event.data.type === OPENED && typeof event.data.launch === "string") {
          ownLaunch = event.data.launch;
          return;
        }
        onInstallMessage(event.data);
      }

      function onEvent(data) {
        if (ownLaunch && isObject(data) && data.launch !== ownLaunch) {
          window.hostkitIgnoredEvents = (window.hostkitIgnoredEvents || 0) + 1; // for tests and debugging
          return;
        }
        onInstallMessage(data);
      }

      window.addEventListener("message", onMessage);
      events = openEventsSocket(eventsPath, onEvent);

      if (popup) {
        pollTimer = setInterval(function () {
          if (!popup.closed) { return; }
          clearInterval(pollTimer);
          graceTimer = setTimeout(function () {
            fail(hostkitError("closed",
              "The window was closed before the integration finished. Click Connect to try again."));
          }, CLOSED_GRACE_MS);
        }, POLL_MS);
      }

      if (timeout > 0 && isFinite(timeout)) {
        timeoutTimer = setTimeout(function () {
          if (popup && !popup.closed) { try { popup.close(); } catch (e) { /* already gone */ } }
          fail(hostkitError("timeout",
            "Connecting the integration took too long, so it was stopped. Click Connect to try again."));
        }, Math.min(timeout, MAX_TIMER_MS));
      }
    });
  }

  window.Hostkit = { version: "0.1.0", connect: connect };
  window.hostkitReady = true;
})();
