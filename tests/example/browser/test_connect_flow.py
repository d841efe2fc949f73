"""End to end: sign in, Connect, the proxy page frames the fake Marketplace, install, see it listed."""
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from hostkit.models import Integration
from proxy.models import Arrival, Launch

from .base import BrowserTestCase


class ConnectFlowTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.user = get_user_model().objects.create_user("alice", password="alice-password")
        self.sign_in("alice", "alice-password")

    def test_connect_install_and_see_the_integration(self):
        self.open_marketplace()
        self.driver.switch_to.parent_frame()
        proxy_url = self.driver.current_url
        self.driver.set_window_size(1000, 720)  # a popup's size depends on the window manager; fix it for the README
        self.browser.screenshot("proxy-page")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.install(2)

        self.back_to_host()
        self.browser.screenshot("integrations")

        # The proxy page was the host's own URL; the Marketplace ran on the fake Cyclr's origin.
        self.assertTrue(proxy_url.startswith(self.live_server_url + "/proxy/launch/"))
        launch = self.settled_launch()
        self.assertEqual(launch.status, Launch.Status.COMPLETED, launch.failure_message)
        self.assertEqual(launch.source, "socket")
        self.assertEqual(launch.marketplace_origin, self.fake.origin)
        # The fake serves the whole class: pick this user's install and mint.
        account_api_id = f"hostkit-user-{self.user.pk}"
        (install,) = [i for i in self.fake.installs if i["account_api_id"] == account_api_id]
        self.assertEqual(install["package_id"], 2)
        # The account by the API id it was minted for; the result's accountId (Cyclr's GUID) is not recorded as it.
        self.assertEqual((launch.account_api_id, launch.result_raw["accountApiId"]), (account_api_id, account_api_id))
        self.assertEqual(launch.result_raw["accountId"], self.fake.accounts[account_api_id]["Id"])
        self.assertEqual(sorted(c["cycle_id"] for c in launch.result["cycles"]),
                         sorted(c["cycleId"] for c in install["cycles"]))
        self.assertEqual(list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")), [("socket", False)])

        # The example receiver ran in the server process and the page lists what it saved.
        integration = Integration.objects.get(launch_id=launch.pk)
        self.assertEqual(integration.package_id, 2)
        self.assertEqual(len(integration.cycles), 2)
        item = self.driver.find_element(By.CSS_SELECTOR, f'#integrations li[data-launch="{launch.pk}"]')
        self.assertIn("Marketplace package 2", item.text)
        for cycle in integration.cycles:
            self.assertTrue(cycle["name"])
            self.assertIn(cycle["name"], item.text)
        self.assertIn("Active", item.text)

        # What the fake Cyclr was asked: a URL for this user's account, framed, bound to the launch.
        (minted,) = [m for m in self.fake.marketplace_requests if m["account_api_id"] == account_api_id]
        self.assertIs(minted["body"]["InlineOAuth"], False)
        from proxy.launches import unsign_launch_id

        self.assertEqual(unsign_launch_id(minted["body"]["CompleteParameter"]), launch.pk)

    def test_an_install_with_errors_shows_them_as_text(self):
        self.open_marketplace()
        self.install(1, start_cycles=False)
        self.back_to_host()

        launch = self.settled_launch()
        self.assertEqual(launch.status, Launch.Status.COMPLETED)
        item = self.driver.find_element(By.CSS_SELECTOR, f'#integrations li[data-launch="{launch.pk}"]')
        errors = [e.text for e in item.find_elements(By.CSS_SELECTOR, ".install-error")]
        self.assertEqual(errors, ["Please set up all the steps correctly before starting the cycle."])
        self.assertIn("Stopped", item.text)
