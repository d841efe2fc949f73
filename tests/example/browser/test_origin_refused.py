"""A proxy page on an origin HOST_ORIGINS does not list says so, and Hostkit.connect rejects with the code.

The server is up on http://localhost:<port> (its HOST_ORIGINS); this browser uses http://127.0.0.1:<port>, the same
server under a name ALLOWED_HOSTS accepts but HOST_ORIGINS does not, as a site served without the port HOST_ORIGINS
names would be. Before the fix the popup said "Connecting…" for ever: its socket was refused at the handshake.
"""
from django.conf import settings
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from .base import FAILURE_CODE, BrowserTestCase


class RefusedOriginTests(BrowserTestCase):

    def url(self, path):
        return self.live_server_url.replace("//localhost:", "//127.0.0.1:") + path

    def test_the_page_says_its_origin_is_not_allowed_and_the_promise_rejects_with_the_code(self):
        origin = self.url("")
        self.assertNotIn(origin, settings.CYCLR_PROXY["HOST_ORIGINS"])
        get_user_model().objects.create_user("olga", password="olga-password")
        self.sign_in("olga", "olga-password")

        self.driver.find_element(By.ID, "connect").click()
        self.wait(lambda d: len(d.window_handles) == 2, what="the Connect popup")
        popup = next(h for h in self.driver.window_handles if h != self.main_window)
        self.driver.switch_to.window(popup)
        self.wait_js("window.proxyTest && window.proxyTest.state === 'refused'")
        status = self.driver.find_element(By.ID, "proxy-status")
        self.assertEqual(status.get_attribute("data-state"), "error")
        self.assertIn(origin, status.text)
        self.assertIn("HOST_ORIGINS", status.text)

        self.driver.switch_to.window(self.main_window)
        self.assertEqual(self.wait_js(FAILURE_CODE), "origin_not_allowed")
        message = self.driver.find_element(By.ID, "connect-status").text
        self.assertIn("HOST_ORIGINS", message)
