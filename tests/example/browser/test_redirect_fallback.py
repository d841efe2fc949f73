"""Redirect mode: a Launch Complete page with no parent and no opener still delivers its result to proxy:complete.

The window that opened the launch keeps {launch, nonce}; proxy:complete takes the result only with it.
"""
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse
from selenium.webdriver.common.by import By

from hostkit.models import Integration
from proxy.launches import open_launch
from proxy.models import Arrival, Launch

from .base import COMPLETE_STATE, BrowserTestCase

WEBHOOK_SECRET = "whsec-browser-modes-0123456789"


class RedirectFallbackTests(BrowserTestCase):
    def test_the_result_travels_by_redirect_to_the_complete_page(self):
        user = get_user_model().objects.create_user("carol", password="carol-password")
        self.sign_in("carol", "carol-password")

        # The launch page in this very tab (no opener): it keeps the launch's nonce and goes to the Marketplace.
        self.driver.get(self.url("/proxy/launch/?mode=redirect"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.install(1)
        state = self.wait_js(COMPLETE_STATE)
        self.assertEqual(state, "completed", self.driver.find_element(By.ID, "complete-status").text)
        # The fragment (webhook URLs are secrets) is gone from the address bar.
        self.assertEqual(self.driver.current_url, self.url("/proxy/complete/"))
        self.assertIn("Integration connected", self.driver.find_element(By.ID, "complete-status").text)

        launch = self.settled_launch(user)
        self.assertEqual((launch.mode, launch.status, launch.source), (Launch.Mode.REDIRECT, Launch.Status.COMPLETED, "http"))
        self.assertEqual(list(Arrival.objects.filter(launch=launch).values_list("source", flat=True)), ["http"])
        self.assertTrue(Integration.objects.filter(launch_id=launch.pk).exists())

    def test_same_tab_redirect_goes_back_to_next(self):
        user = get_user_model().objects.create_user("gina", password="gina-password")
        self.sign_in("gina", "gina-password")

        next_page = "/integrations/?back=1"
        self.driver.get(self.url(f"/proxy/launch/?mode=redirect&next={quote(next_page, safe='')}"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace in this tab")
        self.install(2)
        self.assertEqual(self.wait_js(COMPLETE_STATE), "completed")
        self.wait(lambda d: d.current_url == self.url(next_page), what="the way back to the next page")
        self.wait_js("window.integrationsReady === true")

        launch = self.settled_launch(user)
        self.assertEqual((launch.status, launch.next_url), (Launch.Status.COMPLETED, next_page))

    def test_a_result_sent_here_for_a_popup_launch_changes_nothing(self):
        # A page elsewhere sends the person's browser to proxy:complete with a result for their
        # pending popup launch (here the Marketplace itself, at top level with no opener, does it).
        user = get_user_model().objects.create_user("hank", password="hank-password")
        self.sign_in("hank", "hank-password")
        request = RequestFactory().get("/proxy/launch/")
        request.user = user
        launch, marketplace_url = open_launch(request)

        self.driver.get(marketplace_url)
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.install(1)
        self.assertEqual(self.wait_js(COMPLETE_STATE), "error")
        self.assertEqual(self.driver.execute_script("return window.proxyTest.detail.code;"), "unbound")
        launch.refresh_from_db()
        self.assertEqual(launch.status, Launch.Status.PENDING)
        self.assertFalse(Arrival.objects.exists())

    def test_the_complete_page_without_a_result_says_so_and_writes_nothing(self):
        get_user_model().objects.create_user("dave", password="dave-password")
        self.sign_in("dave", "dave-password")
        self.driver.get(self.url("/proxy/complete/#result=%7Bnot%20json"))
        self.assertEqual(self.wait_js(COMPLETE_STATE), "broken")
        self.assertIn("did not receive an integration result", self.driver.find_element(By.ID, "complete-status").text)
        self.assertFalse(Arrival.objects.exists())


class SlowCoopMarketplaceTests(BrowserTestCase):
    """A Marketplace that sends COOP (the popup's opener is cut for good) and takes seconds to finish, while
    Cyclr's notification reaches the server first: the window's own post is the same install, not an error."""

    fake_options = {"coop": True, "complete_delay": 2}
    proxy_overrides = {**BrowserTestCase.proxy_overrides, "WEBHOOK_SECRET": WEBHOOK_SECRET}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake.set_notification_url(f"{cls.host_origin}{reverse('proxy:webhook', args=[WEBHOOK_SECRET])}")

    def setUp(self):
        super().setUp()
        self.user = get_user_model().objects.create_user("ivy", password="ivy-password")
        self.sign_in("ivy", "ivy-password")

    def run_mode(self, mode):
        self.driver.get(self.url(f"/integrations/?mode={mode}"))
        self.wait_js("window.integrationsReady === true && !!window.Hostkit")
        sent_before = len(self.fake.notifications)
        if mode == "redirect":
            self.driver.find_element(By.ID, "connect").click()
        else:  # the launch page itself in a popup of the host page, as Hostkit.connect opens it
            self.driver.execute_script("window.open(arguments[0], 'connect', 'popup,width=600,height=700');",
                                       self.url(f"/proxy/launch/?mode={mode}"))
        self.wait(lambda d: len(d.window_handles) == 2, what="the Connect popup")
        self.driver.switch_to.window(next(h for h in self.driver.window_handles if h != self.main_window))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.assertIs(self.driver.execute_script("return window.opener === null;"), True)  # COOP cut it
        self.install(1)
        self.wait(lambda d: d.find_elements(By.ID, "finishing-install"), what="the Marketplace's finishing page")
        # Cyclr's notification is sent at install time: it is recorded before Launch Complete even shows.
        self.assertTrue(self.fake.wait_for_notifications(sent_before + 1, timeout=20))
        launch = self.settled_launch()  # verified after the webhook's answer, in the server process
        self.assertEqual((launch.status, launch.source), (Launch.Status.COMPLETED, "webhook"))

        self.assertEqual(self.wait_js(COMPLETE_STATE), "completed",
                         self.driver.find_element(By.ID, "complete-status").text)
        self.assertEqual(self.driver.execute_script("return window.proxyTest.detail.status;"), "completed")
        self.assertEqual(list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")),
                         [("webhook", False), ("http", True)])
        self.assertEqual(Integration.objects.filter(launch_id=launch.pk).count(), 1)
        return launch

    def test_redirect_mode_with_the_notification_first(self):
        self.assertEqual(self.run_mode("redirect").mode, Launch.Mode.REDIRECT)

    def test_direct_mode_with_its_opener_cut_falls_back_to_complete_with_the_notification_first(self):
        self.assertEqual(self.run_mode("direct").mode, Launch.Mode.DIRECT)
