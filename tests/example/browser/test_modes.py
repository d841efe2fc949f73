"""The other ways to open the Marketplace: inline (proxy page framed in the host page) and redirect."""
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from hostkit.models import Integration
from proxy.models import Launch

from .base import COMPLETE_STATE, NOTE_EVENTS_SOCKET, BrowserTestCase


class ModeTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.user = get_user_model().objects.create_user("erin", password="erin-password")
        self.sign_in("erin", "erin-password")

    def integrations_page(self, mode):
        self.driver.get(self.url(f"/integrations/?mode={mode}"))
        self.wait_js("window.integrationsReady === true && !!window.Hostkit")

    def assert_listed(self, launch):
        self.wait_js("document.querySelector('#connect-status').textContent.indexOf('Connected') === 0")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'#integrations li[data-launch="{launch.pk}"]'),
                  what="the integration listed")
        self.assertTrue(Integration.objects.filter(launch_id=launch.pk).exists())

    def test_inline_mode_frames_the_proxy_page_in_the_host_page(self):
        self.integrations_page("inline")
        self.driver.find_element(By.ID, "connect").click()
        self.open_inline_marketplace()
        self.install(1)
        self.driver.switch_to.default_content()

        launch = self.wait(lambda d: Launch.objects.filter(user=self.user, status=Launch.Status.COMPLETED).first(),
                           what="the completed launch")
        self.assertEqual(launch.mode, Launch.Mode.INLINE)
        self.assert_listed(launch)
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, "#inline-marketplace iframe"))

    def test_redirect_mode_runs_the_marketplace_at_top_level_without_an_opener(self):
        self.integrations_page("redirect")
        self.driver.find_element(By.ID, "connect").click()
        self.wait(lambda d: len(d.window_handles) == 2, what="the Connect popup")
        self.driver.switch_to.window(next(h for h in self.driver.window_handles if h != self.main_window))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.assertTrue(self.driver.current_url.startswith(self.fake.url + "/launch/marketplace/"))
        self.assertIs(self.driver.execute_script("return window.opener === null;"), True)
        self.install(2)
        self.assertEqual(self.wait_js(COMPLETE_STATE), "completed")

        # The complete page closes its window; the host page heard over its events socket.
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the window to close itself")
        launch = self.settled_launch()
        self.assertEqual((launch.mode, launch.status, launch.source), (Launch.Mode.REDIRECT, Launch.Status.COMPLETED, "http"))
        self.assert_listed(launch)
        (minted,) = [m for m in self.fake.marketplace_requests if m["account_api_id"] == launch.account_api_id]
        self.assertIs(minted["body"]["InlineOAuth"], True)  # at top level, connector OAuth runs in place

    def test_a_severed_opener_still_reaches_the_host_over_the_events_socket(self):
        # As under a Cross-Origin-Opener-Policy that cuts the popup off: the proxy page cannot post back.
        self.integrations_page("popup")
        self.wait_js("window.integrationsReady === true")
        self.open_marketplace()
        self.driver.switch_to.parent_frame()
        self.driver.execute_script("window.opener = null;")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.install(1)

        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the popup to close itself")
        launch = self.settled_launch()
        self.assertEqual((launch.status, launch.source), (Launch.Status.COMPLETED, "socket"))
        self.assert_listed(launch)

    def test_another_launch_finishing_does_not_settle_this_connect(self):
        self.integrations_page("popup")
        self.driver.execute_script(NOTE_EVENTS_SOCKET)  # the host page's events socket opens a second after the click
        popup = self.open_marketplace()
        self.driver.switch_to.window(self.main_window)
        self.wait_js("window.eventsOpen === true")
        self.driver.switch_to.window(popup)
        (first,) = Launch.objects.filter(user=self.user)

        # Meanwhile the same user finishes another launch in another tab.
        self.driver.switch_to.new_window("tab")
        other_tab = self.driver.current_window_handle
        self.driver.get(self.url("/proxy/launch/"))
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the second Marketplace")
        self.install(2)
        self.driver.switch_to.default_content()
        self.wait_js("window.proxyTest.state === 'done'")

        # The host page heard of it over its events socket and let it pass: not its launch.
        self.driver.switch_to.window(self.main_window)
        self.assertEqual(self.wait_js("window.__hostkitTest.ignored"), 1)
        self.assertNotIn("Connected", self.driver.find_element(By.ID, "connect-status").text)

        # Its own launch still settles it.
        if other_tab in self.driver.window_handles:
            self.driver.switch_to.window(other_tab)
            self.driver.close()
        self.driver.switch_to.window(popup)
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.install(1)
        self.driver.switch_to.window(self.main_window)
        self.assert_listed(first)
        first = self.wait(lambda d: Launch.objects.filter(pk=first.pk, signal_sent_at__isnull=False).first(),
                          what="the first launch verified and signalled")
        self.assertEqual(first.status, Launch.Status.COMPLETED)
