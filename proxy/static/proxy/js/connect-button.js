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

  // Disables the button while `promise` (a Hostkit call) is under way, then says `said(outcome)` or its error.
  function run(button, promise, said) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    say(button, text(button, "pending"));
    function settle(message) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      say(button, message);
    }
    promise.then(function (outcome) { settle(said(outcome)); },
      function (error) { settle((error && error.message) || text(button, "failed")); });
  }

  function onClick(event) {
    var button = event.target.closest && event.target.closest("[data-hostkit-connect], [data-hostkit-manage]");
    if (!button || button.disabled) { return; }
    if (!window.Hostkit) { // hostkit.js is not on the page ({% hostkit_script %} includes both)
      say(button, text(button, "missing"));
      return;
    }
    if (button.hasAttribute("data-hostkit-manage")) {
      // ORBIT: Hostkit.manage() resolves once the window has gone and the account is reconciled.
      return run(button, window.Hostkit.manage({ url: button.getAttribute("data-orbit-url") }), function (outcome) {
        var lines = (outcome.changes || []).concat(outcome.errors || []);
        return lines.length ? lines.join(" ") : text(button, "done");
      });
    }
    var data = button.dataset; // an empty or missing attribute leaves its option to Hostkit.connect's default
    // Hostkit.connect opens the popup synchronously: it must run inside this click handler.
    run(button, window.Hostkit.connect({ url: data.launchUrl, mode: data.mode || "popup",
      container: data.container || null, fallback: data.fallback }), function () { return text(button, "done"); });
  }

  document.addEventListener("click", onClick);
  window.HostkitConnectButton = { ready: true };
}());
