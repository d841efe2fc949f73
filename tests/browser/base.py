"""Real Chromium driving the example host and the fake Cyclr: the shipped browser base plus the host's own pages."""
import os

import pytest
from selenium.webdriver.common.by import By

from proxy.testing import browser
from proxy.testing.browser import missing_browser

from ..live import LiveCyclrTestCase

# proxy:complete's final state (window.proxyTest.state), once it has one.
COMPLETE_STATE = "window.proxyTest && window.proxyTest.state !== 'sending' && window.proxyTest.state"


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

    def install(self, package_id, *, start_cycles=True):
        self.install_in_marketplace(package_id, start_cycles=start_cycles)

    def back_to_host(self):
        """The popup closes itself after the ack; the host page is left."""
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the popup to close itself")
        self.wait_js("document.querySelector('#connect-status').textContent.indexOf('Connected') === 0")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#integrations li.integration"), what="the integration listed")
