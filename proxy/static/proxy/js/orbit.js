/*
 * The ORBIT page: it frames Cyclr's ORBIT (manage installed integrations). When it goes away it tells the
 * server, which reconciles the account with Cyclr's API and pushes what changed to the person's pages.
 * No dependencies, no build step, ES2017, no secure-context-only API.
 */
(function () {
  "use strict";
  var config;
  try { config = JSON.parse(document.getElementById("orbit-config").textContent); } catch (e) { config = null; }
  if (!config || typeof config.closeUrl !== "string") { return; }
  var told = false;

  function tellServer() {
    if (told) { return; }
    told = true;
    // session: the name Hostkit.manage() gave this window, which the answer carries back to it.
    var body = new URLSearchParams({ csrfmiddlewaretoken: config.csrfToken || "", session: config.session || "" });
    // A beacon outlives the page; fetch with keepalive is the fallback where sendBeacon is missing.
    if (navigator.sendBeacon && navigator.sendBeacon(config.closeUrl, body)) { return; }
    try {
      fetch(config.closeUrl, { method: "POST", body: body, credentials: "same-origin", keepalive: true });
    } catch (e) { /* the next proxy_reconcile run repairs the records anyway */ }
  }

  window.addEventListener("pagehide", tellServer);
  window.orbitReady = true;
})();
