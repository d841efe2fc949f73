/* The kit's Connect button ({% connect_button %}): one delegated click listener that calls Hostkit.connect(),
 * and for the Manage button ({% orbit_button %}) Hostkit.manage(), saying what changed and any error's sentence.
 *
 * It reads the button's data- attributes (launch URL, mode, container, fallback), says how the install went in
 * the button's live region, and keeps the button disabled while a connect is under way. What it says comes from
 * the button's data-text-* attributes (pending, done, failed, missing), translated by its template. Host pages still
 * receive hostkit:completed / hostkit:failed on document from hostkit.js. No dependencies, no build step.
 */
(function () {
  "use strict";

  if (window.HostkitConnectButton) { return; } // the script was included twice: one listener is enough

  // The button's own text for ``key`` (its template's data-text-<key>), or null.
  function text(button, key) {
    return button.getAttribute("data-text-" + key);
  }

  function say(button, message) {
    var region = document.getElementById(button.getAttribute("data-status") || "");
    if (region) { region.textContent = message || ""; }
  }

  function settle(button) {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }

  function failed(button) {
    return function (error) {
      settle(button);
      say(button, (error && error.message) || text(button, "failed"));
    };
  }

  // ORBIT: Hostkit.manage() resolves once the window has gone and the account is reconciled.
  function manage(button) {
    var managing = window.Hostkit.manage({ url: button.getAttribute("data-orbit-url") });
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    say(button, text(button, "pending"));
    managing.then(function (outcome) {
      var lines = (outcome.changes || []).concat(outcome.errors || []);
      settle(button);
      say(button, lines.length ? lines.join(" ") : text(button, "done"));
    }, failed(button));
  }

  function onClick(event) {
    var button = event.target.closest && event.target.closest("[data-hostkit-connect], [data-hostkit-manage]");
    if (!button || button.disabled) { return; }
    var managing = button.hasAttribute("data-hostkit-manage");
    if (!window.Hostkit || typeof window.Hostkit[managing ? "manage" : "connect"] !== "function") {
      say(button, text(button, "missing"));
      return;
    }
    if (managing) { return manage(button); }
    var mode = button.getAttribute("data-mode") || "popup";
    var options = { url: button.getAttribute("data-launch-url"), mode: mode };
    if (button.getAttribute("data-container")) { options.container = button.getAttribute("data-container"); }
    if (button.getAttribute("data-fallback")) { options.fallback = button.getAttribute("data-fallback"); }
    // Hostkit.connect opens the popup synchronously: it must run inside this click handler.
    var connecting = window.Hostkit.connect(options);
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    say(button, text(button, "pending"));
    connecting.then(function () {
      settle(button);
      say(button, text(button, "done"));
    }, failed(button));
  }

  document.addEventListener("click", onClick);
  window.HostkitConnectButton = { ready: true };
}());
