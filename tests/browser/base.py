"""A real ASGI server (daphne, another process), a real fake Cyclr (another origin), real Chromium."""
import os

import pytest
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings

from selenium.webdriver.common.by import By

from proxy.cyclr import CyclrClient
from proxy.snippet import render_launch_complete_html
from proxy.testing.browser import Browser, missing_browser
from proxy.testing.fake_cyclr import FakeCyclr

CLIENT_ID, CLIENT_SECRET = "browser-client", "browser-secret"


def require_browser():
    problem = missing_browser()
    if problem:
        # In CI a skipped browser test would hide a broken set-up: fail instead.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(problem)


@pytest.mark.browser
class BrowserTestCase(ChannelsLiveServerTestCase):
    """Host on http://localhost:<port> (daphne), fake Cyclr on http://127.0.0.1:<port> (a thread here).

    The server process is forked when the class starts, so settings are fixed before that;
    it is another process, so tests assert on rows it wrote, not on mocks or receivers here.
    """

    browser_flags = ()
    fake_options = {}

    @classmethod
    def setUpClass(cls):
        require_browser()
        cls.fake = FakeCyclr(host="127.0.0.1", port=0, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             marketplace_ids=(1,), **cls.fake_options).start()
        cls._cyclr_settings = override_settings(CYCLR_PROXY={
            "API_URL": cls.fake.url,
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "MARKETPLACE_ID": 1,
            "MARKETPLACE_ORIGINS": [cls.fake.origin],
            "HOST_ORIGINS": ["http://localhost"],
            "ACCOUNT_RESOLVER": "hostkit.accounts.resolve_account",
            "LAUNCH_TTL": 600,
            "VERIFY_WITH_API": True,
            "MAX_RESULT_BYTES": 64 * 1024,
        })
        cls._cyclr_settings.enable()
        CyclrClient.forget_tokens()
        try:
            super().setUpClass()
        except Exception:
            cls._cyclr_settings.disable()
            cls.fake.stop()
            raise
        # The host's port is known only now: paste the kit's snippet, for this origin, into the fake console.
        host_origin = f"http://{cls.host}:{cls._port}"
        cls.fake.set_complete_html(render_launch_complete_html([host_origin], host_origin + "/proxy/complete/"))
        cls.browser = Browser(cls.browser_flags)
        cls.driver = cls.browser.driver

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        super().tearDownClass()
        cls._cyclr_settings.disable()
        cls.fake.stop()

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

    def wait_js(self, expression, timeout=20):
        """Wait for a flag the page sets; on time-out fail with the browser console attached."""
        from selenium.common.exceptions import TimeoutException

        try:
            return self.browser.wait_for_js(expression, timeout)
        except TimeoutException:
            self.fail(f"Timed out after {timeout}s waiting for {expression}{self.diagnosis()}")

    def wait(self, condition, timeout=20, what="a condition"):
        from selenium.common.exceptions import TimeoutException

        try:
            return self.browser.wait_for(condition, timeout)
        except TimeoutException:
            self.fail(f"Timed out after {timeout}s waiting for {what}{self.diagnosis()}")

    def url(self, path):
        return self.live_server_url + path

    def sign_in(self, username, password):
        self.driver.get(self.url("/login/"))
        self.driver.find_element("id", "id_username").send_keys(username)
        self.driver.find_element("id", "id_password").send_keys(password)
        self.driver.find_element("id", "login-button").click()
        self.wait_js("window.integrationsReady === true && window.hostkitReady === true")
        self.main_window = self.driver.current_window_handle

    def open_marketplace(self):
        """Click Connect, switch to the popup, and into the Marketplace iframe."""
        self.driver.find_element(By.ID, "connect").click()
        self.wait(lambda d: len(d.window_handles) == 2, what="the Connect popup")
        popup = next(h for h in self.driver.window_handles if h != self.main_window)
        self.driver.switch_to.window(popup)
        self.wait_js("window.proxyReady === true && window.proxySocketOpen === true")
        frame = self.driver.find_element(By.ID, "proxy-frame")
        self.driver.switch_to.frame(frame)
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace inside the iframe")
        return popup

    def install(self, package_id, *, start_cycles=True):
        self.driver.find_element(By.CSS_SELECTOR, f'[data-package-id="{package_id}"] a.install').click()
        self.wait(lambda d: d.find_elements(By.ID, "connector-auth"), what="the connector form")
        self.driver.find_element(By.ID, "api_key").send_keys("demo-api-key")
        if not start_cycles:
            self.driver.find_element(By.ID, "start_cycles").click()
        self.driver.find_element(By.ID, "install-button").click()

    def back_to_host(self):
        """The popup closes itself after the ack; the host page is left."""
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the popup to close itself")
        self.wait_js("document.querySelector('#connect-status').textContent.indexOf('Connected') === 0")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#integrations li.integration"), what="the integration listed")

    def diagnosis(self):
        return f"\n--- browser console ---\n{self.browser.console()}"
