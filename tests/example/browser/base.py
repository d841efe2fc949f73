"""Real Chromium driving the example host and the fake Cyclr: the shipped browser base plus the host's own pages."""
import os

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from hostkit.models import Integration
from proxy.models import Arrival, Launch
from proxy.testing import browser
from proxy.testing.browser import missing_browser

from ...live import LiveCyclrTestCase

# proxy:complete's final state (window.proxyTest.state), once it has one.
COMPLETE_STATE = ("window.proxyTest && window.proxyTest.state !== 'sending' && window.proxyTest.state !== 'verifying'"
                  " && window.proxyTest.state")


def require_browser():
    problem = missing_browser()
    if problem:
        # In CI a skipped browser test would hide a broken set-up: fail instead.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(problem)


@pytest.mark.browser
class BrowserTestCase(LiveCyclrTestCase, browser.BrowserTestCase):
    """The shipped ``proxy.testing.browser.BrowserTestCase`` on this suite's live base, for the example host's pages."""

    proxy_overrides = {"ACCOUNT_RESOLVER": "hostkit.accounts.resolve_account"}

    @classmethod
    def setUpClass(cls):
        require_browser()
        super().setUpClass()

    def settled_launch(self, user=None, timeout=30):
        """``user``'s only launch once the server settled it and its signal went out (verification runs after
        the ack, in the server process, so a page may say "done" a moment before the row does)."""
        user = user or self.user
        launch = self.wait(lambda d: Launch.objects.filter(user=user, signal_sent_at__isnull=False).first(),
                           timeout, what=f"{user}'s launch to be verified and signalled")
        self.assertEqual(Launch.objects.filter(user=user).count(), 1)
        return launch

    def setUp(self):
        super().setUp()
        # One browser serves the class: start each test from a single window with no session.
        handles = self.driver.window_handles
        for handle in handles[1:]:
            self.driver.switch_to.window(handle)
            self.driver.close()
        self.driver.switch_to.window(handles[0])
        self.driver.get(self.url("/login/"))
        self.driver.delete_all_cookies()
        self.main_window = handles[0]

    def sign_in(self, username, password):
        self.driver.get(self.url("/login/"))
        self.driver.find_element("id", "id_username").send_keys(username)
        self.driver.find_element("id", "id_password").send_keys(password)
        self.driver.find_element("id", "login-button").click()
        self.wait_js("window.integrationsReady === true && !!window.Hostkit")
        self.main_window = self.driver.current_window_handle

    def open_marketplace(self):
        """Click Connect, switch to the popup, and into the Marketplace iframe."""
        self.driver.find_element(By.ID, "connect").click()
        self.wait(lambda d: len(d.window_handles) == 2, what="the Connect popup")
        popup = next(h for h in self.driver.window_handles if h != self.main_window)
        self.driver.switch_to.window(popup)
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        frame = self.driver.find_element(By.ID, "proxy-frame")
        self.driver.switch_to.frame(frame)
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace inside the iframe")
        return popup

    def open_inline_marketplace(self):
        """After Connect in inline mode (or its fallback): into the proxy page framed in the host page (no popup),
        and into the Marketplace framed in it."""
        proxy_frame = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#inline-marketplace iframe"),
                                what="the inline proxy page")[0]
        self.assertEqual(len(self.driver.window_handles), 1)  # no popup
        self.driver.switch_to.frame(proxy_frame)
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace two frames down")

    def install(self, package_id, *, start_cycles=True):
        self.install_in_marketplace(package_id, start_cycles=start_cycles)

    def back_to_host(self):
        """The popup closes itself after the ack; the host page is left."""
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the popup to close itself")
        self.wait_js("document.querySelector('#connect-status').textContent.indexOf('Connected') === 0")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#integrations li.integration"), what="the integration listed")


CONNECTED = "document.querySelector('#connect-status').textContent.indexOf('Connected') === 0"
# Run on the host page before the click: hostkit.js opens the events socket a second after it, and this sets
# window.eventsOpen once that socket is open (wait for "window.eventsOpen === true").
NOTE_EVENTS_SOCKET = """
    const Real = window.WebSocket;
    window.WebSocket = function (url, protocols) {
      const ws = new Real(url, protocols);
      if (String(url).endsWith("/ws/proxy/events/")) {
        ws.addEventListener("open", () => { window.eventsOpen = true; });
      }
      return ws;
    };
"""
FAILURE_CODE = "document.querySelector('#connect-status').getAttribute('data-code')"


class WindowTestCase(BrowserTestCase):
    """A signed-in user on the example Integrations page, in any mode; asserts an install recorded once."""

    def setUp(self):
        super().setUp()
        self.user = get_user_model().objects.create_user("frank", password="frank-password")
        self.sign_in("frank", "frank-password")

    def integrations_page(self, mode):
        self.driver.get(self.url(f"/integrations/?mode={mode}"))
        self.wait_js("window.integrationsReady === true && !!window.Hostkit && window.__hostkitTest !== undefined")
        # Several channels carry the same news; the page must hear it once.
        self.driver.execute_script(
            "window.hostkitEvents = [];"
            "['hostkit:completed', 'hostkit:failed'].forEach(function (name) {"
            "  document.addEventListener(name, function () { window.hostkitEvents.push(name); }); });")

    def popup(self):
        self.wait(lambda d: len(d.window_handles) == 2, what="the Connect popup")
        return next(h for h in self.driver.window_handles if h != self.main_window)

    def install_at_top_level(self, package_id):
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.install(package_id)

    def assert_recorded_once(self, mode):
        self.wait_js(CONNECTED, timeout=30)
        launch = self.settled_launch()
        self.assertEqual((launch.mode, launch.status), (mode, Launch.Status.COMPLETED))
        self.assertEqual(Arrival.objects.filter(launch=launch, duplicate=False).count(), 1)
        self.assertEqual(Integration.objects.filter(launch_id=launch.pk).count(), 1)
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'#integrations li[data-launch="{launch.pk}"]'),
                  what="the integration listed")
        self.assertIsNone(self.driver.execute_script(f"return {FAILURE_CODE};"))
        if self.driver.execute_script("return window.hostkitEvents !== undefined;"):  # not after a same-tab redirect
            self.assertEqual(self.driver.execute_script("return window.hostkitEvents;"), ["hostkit:completed"])
        return launch
