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
  // Kept for proxy:complete (same origin, same tab), which posts it with the result to bind it to this launch.
  try {
    window.sessionStorage.setItem("proxy.launch", JSON.stringify({ launch: config.launch, nonce: config.nonce }));
  } catch (e) { /* storage disabled: a result can then only be bound by a signed completeParameter */ }
  if (config.cutOpener !== false) { window.opener = null; }  // direct mode keeps it, as Cyclr's sample does
  window.location.replace(config.url);
})();
