"""Only Cyclr settles a launch, in Chromium: a page that gets the redirect-mode tab, or a window it opens, can send
proxy:complete a forged result with the tab's {launch, nonce}; Cyclr does not confirm it, so it is refused, the
page says so, and the genuine install still completes once."""
import json
import uuid
from urllib.parse import quote

from selenium.webdriver.common.by import By

from proxy.models import Arrival, Launch

from .base import CONNECTED, COMPLETE_STATE, WindowTestCase


class ForgedClaimTests(WindowTestCase):
    def forged_complete_url(self):
        """proxy:complete with a result naming a cycle Cyclr never made, as a hostile page would send the tab."""
        launch = Launch.objects.get(user=self.user)
        forged = {"accountId": launch.account_api_id, "accountApiId": launch.account_api_id,
                  "cycles": [{"cycleId": str(uuid.uuid4()), "status": "Active"}], "errors": []}
        return self.url("/proxy/complete/#result=" + quote(json.dumps(forged), safe=""))

    def assert_refused_here(self):
        self.assertEqual(self.wait_js(COMPLETE_STATE, timeout=30), "refused")
        self.assertIn("did not confirm", self.driver.find_element(By.ID, "complete-status").text)
        launch = Launch.objects.get(user=self.user)
        self.assertEqual((launch.status, launch.failure_code), (Launch.Status.PENDING, ""))
        self.assertEqual(list(Arrival.objects.filter(launch=launch).values_list("refused_code", flat=True)),
                         ["unknown_cycle"])

    def assert_completed_once(self):
        launch = self.settled_launch()
        self.assertEqual(launch.status, Launch.Status.COMPLETED)
        arrivals = list(Arrival.objects.filter(launch=launch).order_by("received_at").values_list("refused_code", "duplicate"))
        self.assertEqual(arrivals[0], ("unknown_cycle", False))
        self.assertEqual([a for a in arrivals[1:] if not a[1]], [("", False)])  # one genuine arrival taken
        return launch

    def test_a_page_that_gets_the_tab_cannot_fail_the_launch(self):
        next_page = "/integrations/?back=1"
        self.driver.get(self.url(f"/proxy/launch/?mode=redirect&next={quote(next_page, safe='')}"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace in this tab")

        # A page loaded in this tab (a connector's OAuth page, a link followed) sends it on with a forged result.
        self.driver.get(self.forged_complete_url())
        self.assert_refused_here()

        # The person goes back to the Marketplace and finishes: the genuine result completes the launch.
        self.driver.back()
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace again")
        self.install(1)
        self.assertEqual(self.wait_js(COMPLETE_STATE), "completed")
        self.wait(lambda d: d.current_url == self.url(next_page), what="the way back to the next page")
        self.assert_completed_once()

    def test_a_window_opened_from_the_marketplace_cannot_fail_the_launch(self):
        self.integrations_page("redirect")
        self.driver.find_element(By.ID, "connect").click()
        marketplace = self.popup()
        self.driver.switch_to.window(marketplace)
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")

        # A page in the Marketplace's window opens another window (it inherits the tab's sessionStorage) on
        # proxy:complete with a forged result.
        self.driver.execute_script("window.open(arguments[0], 'elsewhere');", self.forged_complete_url())
        self.wait(lambda d: len(d.window_handles) == 3, what="the hostile page's window")
        opened = next(h for h in self.driver.window_handles if h not in (self.main_window, marketplace))
        self.driver.switch_to.window(opened)
        self.assert_refused_here()
        self.driver.close()

        # The host page did not take the refusal as a verdict; the genuine install completes it once.
        self.driver.switch_to.window(self.main_window)
        self.assertIsNone(self.driver.execute_script("return document.querySelector('#connect-status').getAttribute('data-code');"))
        self.driver.switch_to.window(marketplace)
        self.install(2)
        self.driver.switch_to.window(self.main_window)
        self.wait_js(CONNECTED, timeout=30)
        self.assert_completed_once()
        self.assertEqual(self.driver.execute_script("return window.hostkitEvents;"), ["hostkit:completed"])

    def test_a_forged_result_from_the_frame_leaves_the_proxy_page_waiting_for_the_genuine_one(self):
        # Popup mode: only the framed Marketplace can post to the proxy page; here script in it sends a forgery first.
        self.integrations_page("popup")
        popup = self.open_marketplace()
        launch = Launch.objects.get(user=self.user)
        forged = {"accountId": launch.account_api_id, "cycles": [{"cycleId": str(uuid.uuid4()), "status": "Active"}]}
        self.driver.execute_script("window.parent.postMessage(arguments[0], '*');", json.dumps(forged))
        self.driver.switch_to.window(popup)
        # Refused (pushed, or read from proxy:status): waiting again, saying why (before the forgery: "ready").
        self.wait_js("window.proxyTest.state === 'waiting' && "
                     "document.getElementById('proxy-status').getAttribute('data-state') === 'error'", timeout=30)
        self.assertIn("did not confirm", self.driver.find_element(By.ID, "proxy-status").text)
        self.assertEqual(Launch.objects.get(pk=launch.pk).status, Launch.Status.PENDING)

        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.install(1)
        self.back_to_host()
        self.assert_completed_once()
        self.assertEqual(self.driver.execute_script("return window.hostkitEvents;"), ["hostkit:completed"])
