/*
 * Redirect mode: cut this window's link to the page that opened it, then load the Marketplace here.
 * With neither a parent nor an opener, the Launch Complete snippet carries the result back to this
 * site's proxy:complete page, and the host page learns of it over its events socket.
 */
(function () {
  "use strict";
  var config;
  try { config = JSON.parse(document.getElementById("redirect-config").textContent); } catch (e) { config = null; }
  if (!config || typeof config.url !== "string") { return; }
  // Name the launch to the host page while it can still be reached, so that its events socket
  // settles only on this one; then cut the link (persistent across navigation: the Marketplace
  // will find window.opener === null).
  if (window.opener && typeof config.launch === "string") {
    try { window.opener.postMessage({ type: "proxy.launch.opened", launch: config.launch }, location.origin); } catch (e) { /* gone */ }
  }
  window.opener = null;
  window.location.replace(config.url);
})();
