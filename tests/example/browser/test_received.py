"""A `received` ack is not a completed install: the pages wait for Cyclr's verdict, and closing is no cancel.

Cyclr's API fails while the result arrives (the fake's ``api_down``), so the server acks ``received`` and keeps
the launch unverified (``verification_pending``: waiting, not failed); then the API comes back and the test settles the launch, as
``manage.py proxy_replay`` would. The settling runs in this process: the pages learn the verdict from
proxy:status (and, with a shared channel layer, from the push on their sockets).
"""
from selenium.webdriver.common.by import By

from proxy.models import Launch
from proxy.services import settle_launch

from .base import COMPLETE_STATE, WindowTestCase

# What the host page heard from the kit's window, in order (recorded by the test, not by Hostkit).
RECORD_POPUP_NEWS = (
    "window.fromPopup = [];"
    "window.addEventListener('message', function (e) {"
    "  if (e.origin === location.origin && e.data && e.data.type) window.fromPopup.push(e.data.type); });")
VERIFYING = "Received — verifying with Cyclr…"


class ReceivedAckTests(WindowTestCase):
    def setUp(self):
        super().setUp()
        self.addCleanup(setattr, self.fake, "api_down", False)

    def install_while_cyclr_is_down(self, package_id):
        """Install in the Marketplace (already on screen) while Cyclr's API fails verification."""
        self.fake.api_down = True
        self.install(package_id)

    def received_launch(self):
        launch = self.wait(lambda d: Launch.objects.filter(user=self.user, status=Launch.Status.RECEIVED).first(),
                           what="the launch stored as received")
        self.assertEqual((launch.failure_code, launch.last_attempt_error_code), ("", "cyclr_api_error"))
        return launch

    def cyclr_comes_back(self, launch):
        self.fake.api_down = False
        self.assertEqual(settle_launch(launch.pk).status, Launch.Status.COMPLETED)

    def open_popup_marketplace(self):
        self.integrations_page("popup")
        self.driver.execute_script(RECORD_POPUP_NEWS)
        self.driver.find_element(By.ID, "connect").click()
        popup = self.popup()
        self.driver.switch_to.window(popup)
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace inside the iframe")
        return popup

    def assert_verifying(self):
        self.driver.switch_to.default_content()
        self.wait_js("window.proxyTest.state === 'verifying'")
        status = self.driver.find_element(By.ID, "proxy-status")
        self.assertEqual((status.text, status.get_attribute("data-state")), (VERIFYING, "working"))
        # The server owns the result: the outbox is empty.
        self.assertEqual(self.driver.execute_script(
            "return Object.keys(localStorage).filter(function (k) { return k.indexOf('proxy.outbox.') === 0; });"), [])

    def test_the_proxy_page_waits_for_the_verdict_and_the_host_resolves_once(self):
        self.open_popup_marketplace()
        self.install_while_cyclr_is_down(1)
        self.assert_verifying()
        launch = self.received_launch()

        self.driver.switch_to.window(self.main_window)
        self.wait_js("window.__hostkitTest.state === 'received'")
        self.assertEqual(self.driver.execute_script("return window.hostkitEvents;"), [])  # not completed yet
        self.assertIsNone(self.driver.execute_script("return document.querySelector('.hostkit-prompt');"))

        self.cyclr_comes_back(launch)
        # The proxy page heard the verdict (proxy:status), told the host page and closed itself.
        self.wait(lambda d: len(d.window_handles) == 1, what="the popup to close itself after the verdict", timeout=30)
        news = self.driver.execute_script("return window.fromPopup;")
        self.assertIn("proxy.install.received", news)
        self.assertIn("proxy.install.completed", news)
        self.assertLess(news.index("proxy.install.received"), news.index("proxy.install.completed"))
        self.assertNotIn("proxy.install.failed", news)
        self.assert_recorded_once("popup")
        self.assertEqual(self.driver.execute_script("return window.__hostkitTest.state;"), "completed")

    def test_closing_the_popup_after_a_received_ack_is_not_a_cancel(self):
        popup = self.open_popup_marketplace()
        self.install_while_cyclr_is_down(2)
        self.assert_verifying()
        launch = self.received_launch()

        self.driver.close()  # the person closes the window while Cyclr is being asked
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: popup not in d.window_handles, what="the popup closed")
        self.wait_js("window.__hostkitTest.state === 'received'")
        # Back on the host page: no "Still connecting?" prompt, nothing to cancel.
        self.driver.execute_script("window.dispatchEvent(new Event('focus'));")
        self.assertIsNone(self.driver.execute_script("return document.querySelector('.hostkit-prompt');"))
        # Even a kit page saying it left (a window that then reads closed) is no verdict now: Hostkit's rule
        # gives the window 1 s to show it was a reload; the page flags when that has passed.
        self.driver.execute_script(
            "var c = new BroadcastChannel('proxy');"
            "c.postMessage({type: 'proxy.launch.left', launch: arguments[0], ref: 'any'}); c.close();"
            "setTimeout(function () { window.leftRuleDone = true; }, 1500);", str(launch.pk))
        self.wait_js("window.leftRuleDone === true")
        self.assertEqual(self.driver.execute_script("return window.__hostkitTest.state;"), "received")
        self.assertIsNone(self.driver.execute_script(
            "return document.querySelector('#connect-status').getAttribute('data-code');"))

        self.cyclr_comes_back(launch)
        self.assert_recorded_once("popup")  # resolved by proxy:status, with the verified result, once
        self.assertEqual(self.driver.execute_script("return window.__hostkitTest.state;"), "completed")

    def test_redirect_mode_waits_for_the_verdict_too(self):
        self.integrations_page("redirect")
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.popup())
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.install_while_cyclr_is_down(1)
        # proxy:complete got the received ack: it says so and polls proxy:status.
        self.wait_js("window.proxyTest && window.proxyTest.state === 'verifying'")
        self.assertEqual(self.driver.find_element(By.ID, "complete-status").text, VERIFYING)
        launch = self.received_launch()

        self.cyclr_comes_back(launch)
        self.assertEqual(self.wait_js(COMPLETE_STATE, timeout=30), "completed")
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the window to close itself")
        self.assert_recorded_once("redirect")
