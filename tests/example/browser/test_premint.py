"""Pre-minting in Chromium (CYCLR_PROXY["PREMINT"] = "intent", the default): the pointer on Connect mints the
launch, the click opens that very launch, and the install completes it; one click, one launch, one mint."""
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from proxy.models import Launch

from .base import WindowTestCase


class PremintTests(WindowTestCase):
    def point_at_connect(self):
        ActionChains(self.driver).move_to_element(self.driver.find_element(By.ID, "connect")).perform()

    def mints(self):
        account = f"hostkit-user-{self.user.pk}"
        return [m for m in self.fake.marketplace_requests if m["account_api_id"] == account]

    def test_the_pointer_on_connect_mints_and_the_click_opens_that_launch(self):
        self.integrations_page("popup")
        self.assertEqual(self.driver.find_element(By.ID, "connect").get_attribute("data-premint"), "intent")
        self.point_at_connect()
        premint = self.wait(lambda d: Launch.objects.filter(user=self.user).first(), what="the pre-minted launch")
        self.assertEqual(len(self.mints()), 1)
        self.open_marketplace()
        self.install(1)
        self.driver.switch_to.window(self.main_window)
        launch = self.assert_recorded_once(Launch.Mode.POPUP)
        self.assertEqual(launch.pk, premint.pk)
        self.assertEqual(len(self.mints()), 1)  # the click made no mint of its own

    def test_a_click_while_the_mint_is_under_way_opens_at_once_on_the_premint_which_waits_for_it(self):
        self.integrations_page("popup")
        self.fake.mint_gate.close()
        try:
            self.point_at_connect()
            self.assertTrue(self.fake.mint_gate.wait_for_held(1), "the pointer on Connect did not start a mint")
            self.driver.find_element(By.ID, "connect").click()
            # The popup opened inside the click (no popup blocker objects) on proxy:launch?premint=<ticket>, which
            # waits for the pre-mint's mint: the click mints nothing of its own.
            popup = self.popup()
            self.assertFalse(self.fake.mint_gate.wait_for_held(2, timeout=1))
            self.assertEqual(Launch.objects.filter(user=self.user).count(), 0)
        finally:
            self.fake.mint_gate.open()
        self.driver.switch_to.window(popup)
        self.assertIn("premint=", self.driver.current_url)
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace inside the iframe")
        self.install(2)
        self.driver.switch_to.window(self.main_window)
        self.assert_recorded_once(Launch.Mode.POPUP)
        self.assertEqual(len(self.mints()), 1)


class NoPremintTests(WindowTestCase):
    proxy_overrides = {**WindowTestCase.proxy_overrides, "PREMINT": None}

    def test_without_premint_the_pointer_mints_nothing_and_the_click_mints(self):
        self.integrations_page("popup")
        connect = self.driver.find_element(By.ID, "connect")
        self.assertIsNone(connect.get_attribute("data-premint"))
        ActionChains(self.driver).move_to_element(connect).perform()
        self.driver.find_element(By.TAG_NAME, "h1").click()  # a round trip through the page: its events have run
        self.assertFalse(Launch.objects.filter(user=self.user).exists())
        self.open_marketplace()
        self.install(1)
        self.driver.switch_to.window(self.main_window)
        self.assert_recorded_once(Launch.Mode.POPUP)
