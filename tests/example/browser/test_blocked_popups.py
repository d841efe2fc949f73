"""A blocked popup rejects at once, before anything is minted, or falls back."""
from selenium.webdriver.common.by import By

from proxy.models import Launch

from .base import WindowTestCase


class BlockedPopupTests(WindowTestCase):
    """Chromium blocks window.open outside a user gesture: connect() from a script, not a click."""

    block_popups = True

    def connect_from_script(self, **options):
        self.driver.execute_script(
            "var options = Object.assign({url: arguments[0]}, arguments[1]);"
            "window.outcome = null;"
            "Hostkit.connect(options).then(function (done) { window.outcome = {launch: done.launch}; },"
            "  function (error) { window.outcome = {code: error.code}; });",
            self.url("/proxy/launch/"), options)

    def test_a_blocked_popup_rejects_at_once_and_mints_nothing(self):
        self.integrations_page("popup")
        self.connect_from_script(mode="popup")
        self.assertEqual(self.wait_js("window.outcome"), {"code": "popup_blocked"})
        self.assertEqual(len(self.driver.window_handles), 1)
        self.assertFalse(Launch.objects.filter(user=self.user).exists())

    def test_the_inline_fallback_frames_the_proxy_page(self):
        self.integrations_page("popup")
        self.connect_from_script(mode="redirect", fallback="inline", container="#inline-marketplace")
        self.open_inline_marketplace()
        self.install(1)
        self.driver.switch_to.default_content()
        outcome = self.wait_js("window.outcome")
        launch = self.settled_launch()
        self.assertEqual(outcome, {"launch": str(launch.pk)})
        self.assertEqual((launch.mode, launch.status), (Launch.Mode.INLINE, Launch.Status.COMPLETED))

    def test_the_redirect_fallback_runs_in_this_tab_and_comes_back(self):
        self.integrations_page("popup")
        page = self.driver.current_url
        self.connect_from_script(mode="popup", fallback="redirect")
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace in this tab")
        self.assertEqual(len(self.driver.window_handles), 1)
        self.install(2)
        self.wait(lambda d: d.current_url == page, what="the way back to the page that called connect()")
        self.wait_js("window.integrationsReady === true")
        launch = self.settled_launch()
        self.assertEqual((launch.mode, launch.status, launch.next_url), (Launch.Mode.REDIRECT, Launch.Status.COMPLETED, page))
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'#integrations li[data-launch="{launch.pk}"]'),
                  what="the integration listed")
