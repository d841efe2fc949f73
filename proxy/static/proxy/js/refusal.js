/*
 * The kit's error page when proxy:launch refuses (Cyclr unreachable, a Marketplace origin not in
 * MARKETPLACE_ORIGINS, too many launches…): no launch was opened, so nothing else would ever settle the host
 * page's Hostkit.connect() call. Tell it, as the proxy page tells a failure: proxy.install.failed with the
 * refusal's code and the sentence this page shows (#launch-error), to the window that opened this one (popup,
 * direct) or the page that frames it (inline), on this origin only, and over BroadcastChannel("proxy") with
 * `ref` (this window's name, which Hostkit chose) for a host page the window lost touch with.
 * ES2017, no dependencies; the page serves refusal.min.js (scripts/minify_js.py).
 */
(() => {
  "use strict";
  const shown = document.getElementById("launch-error");
  const code = shown && shown.getAttribute("data-code");
  if (!code) return;
  const news = { type: "proxy.install.failed", launch: null, ref: window.name, result: null,
    error: { code, message: shown.textContent } };
  [window.opener, window.parent != window && window.parent].forEach((to) => {
    try { if (to) to.postMessage(news, location.origin); } catch (e) { /* severed, or another origin */ }
  });
  try {
    const channel = new BroadcastChannel("proxy");
    channel.postMessage(news);
    channel.close();
  } catch (e) { // none: the host page listens on localStorage too
    try { localStorage.setItem("proxy.signal", JSON.stringify(news)); localStorage.removeItem("proxy.signal"); } catch (e2) { /* blocked */ }
  }
  window.proxyTest = { state: "refused", told: code }; // read by the browser tests
})();
