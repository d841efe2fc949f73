/*
 * Redirect and direct modes: name the launch to the host page while it can still be reached, keep
 * {launch, nonce} for proxy:complete in this tab's sessionStorage (it survives the navigation to the
 * Marketplace and back, and a page on another site cannot plant it), cut window.opener in redirect mode,
 * then load the Marketplace here, at top level.
 *
 * States: loading --(config read)--> leaving (to the Marketplace) | broken (no config).
 * ES2017 syntax, no dependencies.
 */
(() => {
  "use strict";

  const OPENED = "proxy.launch.opened";
  const test = window.proxyTest = { state: "loading" };
  let config = null;
  try { config = JSON.parse(document.getElementById("redirect-config").textContent); } catch (e) { /* below */ }
  if (!config || typeof config.url != "string") { test.state = "broken"; return; }

  // window.name is the host's name for this call (Hostkit sets it); it lets the host recognise this
  // launch's later news on BroadcastChannel even once window.opener is gone.
  const opened = { type: OPENED, launch: config.launch, ref: window.name, origin: new URL(config.url).origin };
  if (window.opener) {
    try { window.opener.postMessage(opened, location.origin); } catch (e) { /* the host went away */ }
  }
  try {
    sessionStorage.setItem("proxy.launch", JSON.stringify({ launch: config.launch, nonce: config.nonce, ref: window.name }));
  } catch (e) { /* storage off: proxy:complete then relies on the signed completeParameter */ }
  // Persistent across the navigation below: the Marketplace finds window.opener === null.
  if (config.cutOpener) { window.opener = null; }
  test.state = "leaving";
  location.replace(config.url);
})();
