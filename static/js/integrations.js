/* The example host's Integrations page: Connect button and live list. */
(function () {
  "use strict";

  var button = document.getElementById("connect");
  var statusLine = document.getElementById("connect-status");
  var list = document.getElementById("integrations");

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderIntegration(item) {
    var li = element("li", "integration");
    li.setAttribute("data-launch", item.launch);
    li.appendChild(element("strong", "", "Marketplace package " + (item.package_id === null ? "?" : item.package_id)));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(element("span", "message", item.message));
    var cycles = element("ul", "cycles");
    item.cycles.forEach(function (cycle) {
      var row = element("li", "cycle");
      row.appendChild(element("span", "cycle-name", cycle.name || cycle.id));
      row.appendChild(document.createTextNode(" "));
      row.appendChild(element("span", "status status-" + String(cycle.status).toLowerCase(), cycle.status));
      cycles.appendChild(row);
    });
    li.appendChild(cycles);
    item.errors.forEach(function (error) {
      li.appendChild(element("p", "error install-error", error));
    });
    return li;
  }

  function clearInlineFrame() {
    var holder = document.getElementById("inline-marketplace");
    while (holder && holder.firstChild) holder.removeChild(holder.firstChild);
  }

  // The list, redrawn. With `launch`, until it holds that launch's integration (a few tries): the page can
  // hear "completed" (proxy:status, the events socket) a moment before the backend's receiver has saved it.
  function refreshList(launch, tries) {
    return fetch(button.getAttribute("data-list-url"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var found = !launch || data.integrations.some(function (item) { return item.launch === launch; });
        if (!found && (tries || 0) < 10) {
          return new Promise(function (resolve) { setTimeout(resolve, 300); }).then(function () {
            return refreshList(launch, (tries || 0) + 1);
          });
        }
        while (list.firstChild) list.removeChild(list.firstChild);
        if (!data.integrations.length) list.appendChild(element("li", "", "No integrations yet."));
        data.integrations.forEach(function (item) { list.appendChild(renderIntegration(item)); });
        window.integrationsRefreshed = (window.integrationsRefreshed || 0) + 1;
      });
  }

  // The "Kept in step" table is rendered by the server: after an install, take it from a fresh copy of the page.
  function refreshInstallations() {
    return fetch(location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("installations");
        var table = document.getElementById("installations");
        if (fresh && table) table.replaceWith(fresh);
      });
  }

  function connectFrom(source) {
    statusLine.textContent = "Finish in the Marketplace window…";
    // Hostkit.connect opens the window synchronously, inside this click handler.
    var mode = button.getAttribute("data-mode") || "popup";
    window.Hostkit.connect({ url: source.getAttribute("data-launch-url"), mode: mode, container: "#inline-marketplace" })
      .then(function (outcome) {
        statusLine.textContent = "Connected. " + (outcome.result && outcome.result.install_complete_message || "");
        clearInlineFrame();
        return refreshList(outcome.launch).then(refreshInstallations);
      })
      .catch(function (error) {
        statusLine.textContent = error.message;
        clearInlineFrame();
        statusLine.setAttribute("data-code", error.code || "");
        return refreshList();
      });
  }

  button.addEventListener("click", function () { connectFrom(button); });
  // A LAUNCH preset (CYCLR_PROXY["LAUNCHES"]): the same flow, minted with Cyclr's LAUNCH call.
  var preset = document.getElementById("connect-preset");
  if (preset) preset.addEventListener("click", function () { connectFrom(preset); });

  // ORBIT: manage what is installed; the kit reconciles the account when the window closes.
  var manage = document.getElementById("manage");
  if (manage) {
    manage.addEventListener("click", function () {
      statusLine.textContent = "Manage your integrations in the window; close it when you are done.";
      window.Hostkit.manage({ url: manage.getAttribute("data-orbit-url") }).then(function (outcome) {
        statusLine.textContent = outcome.changes.length ? "Updated: " + outcome.changes.join(" ") : "Nothing changed.";
        window.orbitOutcome = outcome;
        location.reload(); // the installations table below is rendered by the server
      }, function (error) { statusLine.textContent = error.message; });
    });
  }
  window.integrationsReady = true;
})();
