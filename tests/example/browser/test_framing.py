"""Where the framed Marketplace cannot work, the default Connect still ends in a completed install.

The fake Cyclr signs in as Cyclr does (``session_cookie=True``: the sign-in sets a ``SameSite=None; Secure``
cookie the next page needs), and Debian's headless Chromium blocks third-party cookies by default: framed,
the Marketplace shows "session expired" and never installs. Or it refuses to be framed (``refuse_framing``).
The proxy page then carries the same launch to the Marketplace at top level (proxy:top_level): through its
control ``[data-proxy-top-level]``, and by itself where this browser needed it before. One launch, one
record, one signal; the host page's promise resolves (docs/framing.md).
"""
from selenium.webdriver.common.by import By

from proxy.models import Launch
from proxy.testing.browser import ALLOW_THIRD_PARTY_COOKIES

from .base import WindowTestCase

CONTROL = "[data-proxy-top-level]"


class FramingTestCase(WindowTestCase):
    def setUp(self):
        super().setUp()
        # The proxy page remembers, per browser, that the frame did not work: each test starts without that.
        self.driver.execute_script("localStorage.clear();")

    def proxy_page_in_popup(self):
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.popup())
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")

    def proxy_page_inline(self):
        self.driver.find_element(By.ID, "connect").click()
        frame = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#inline-marketplace iframe"),
                          what="the inline proxy page")[0]
        self.driver.switch_to.frame(frame)
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")

    def assert_session_expired_in_the_frame(self):
        """The blocking is real: framed, the Marketplace lost the session its sign-in set."""
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.wait(lambda d: d.find_elements(By.ID, "session-expired"), what="'session expired' in the frame")
        self.assertFalse(self.driver.find_elements(By.ID, "marketplace-title"))
        self.driver.switch_to.parent_frame()

    def use_the_control(self):
        control = self.wait(lambda d: [c for c in d.find_elements(By.CSS_SELECTOR, CONTROL) if c.is_displayed()],
                            timeout=30, what="the top-level control")[0]
        self.assertEqual(self.driver.execute_script("return window.proxyTest.state;"), "waiting")
        return control

    def assert_one_launch_moved_to_top_level(self):
        launch = self.assert_recorded_once(Launch.Mode.REDIRECT)  # the same launch, now at top level
        self.assertEqual(launch.source, "http")  # by proxy:complete, as redirect mode's result
        minted = [m for m in self.fake.marketplace_requests if m["account_api_id"] == launch.account_api_id]
        self.assertEqual([m["body"]["InlineOAuth"] for m in minted], [False, True])  # framed, then re-minted
        return launch

    def in_popup_mode(self, *, expired_in_frame):
        self.integrations_page("popup")
        self.proxy_page_in_popup()
        if expired_in_frame:
            self.assert_session_expired_in_the_frame()
        popup = self.driver.current_window_handle
        control = self.use_the_control()
        self.assertEqual(control.text, "Open the Marketplace in this window")
        control.click()
        # The same window goes on to the Marketplace at top level, where its cookie is first-party.
        self.install_at_top_level(1)
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: popup not in d.window_handles, what="the window to close itself")
        return self.assert_one_launch_moved_to_top_level()

    def in_inline_mode(self, *, expired_in_frame):
        self.integrations_page("inline")
        self.proxy_page_inline()
        if expired_in_frame:
            self.assert_session_expired_in_the_frame()
        control = self.use_the_control()
        self.assertEqual(control.text, "Open the Marketplace in a new window")
        control.click()
        # Inline, the proxy page is a frame of the host page: the Marketplace gets a window of its own.
        self.assertEqual(self.wait_js("window.proxyTest.state == 'elsewhere' && window.proxyTest.state"), "elsewhere")
        self.assertFalse(self.driver.find_elements(By.ID, "proxy-frame"))
        self.driver.switch_to.window(self.popup())
        self.install_at_top_level(2)
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the Marketplace window to close itself")
        launch = self.assert_one_launch_moved_to_top_level()
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, "#inline-marketplace iframe"))
        return launch


class ThirdPartyCookiesBlockedTests(FramingTestCase):
    """Chromium's default here: the framed Marketplace loses its session cookie."""

    fake_options = {"session_cookie": True}

    def test_popup_mode(self):
        self.in_popup_mode(expired_in_frame=True)

    def test_inline_mode(self):
        self.in_inline_mode(expired_in_frame=True)

    def test_once_needed_the_popup_goes_to_top_level_by_itself(self):
        self.in_popup_mode(expired_in_frame=True)
        first = Launch.objects.get(user=self.user)
        self.integrations_page("popup")
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.popup())
        # No click: the proxy page knows this browser needs it, and moves before the frame spends its URL.
        self.install_at_top_level(2)
        self.driver.switch_to.window(self.main_window)
        self.wait_js("window.__hostkitTest.state === 'completed'", timeout=30)
        second = self.wait(lambda d: Launch.objects.filter(user=self.user, signal_sent_at__isnull=False)
                           .exclude(pk=first.pk).first(), timeout=30, what="the second launch, signalled")
        self.assertEqual((second.mode, second.status), (Launch.Mode.REDIRECT, Launch.Status.COMPLETED))
        self.assertEqual(self.driver.execute_script("return window.hostkitEvents;"), ["hostkit:completed"])


    def test_once_needed_inline_offers_the_control_at_once(self):
        # Inline cannot open a window without a click: where this browser needed it before, the control shows
        # at once, well before its data-after (6 s) would.
        self.driver.execute_script("localStorage.setItem('proxy.topLevel', '1');")
        self.integrations_page("inline")
        self.proxy_page_inline()
        self.assertGreaterEqual(int(self.driver.find_element(By.ID, "proxy-top-level").get_attribute("data-after")), 6000)
        self.wait(lambda d: [c for c in d.find_elements(By.CSS_SELECTOR, CONTROL) if c.is_displayed()],
                  timeout=3, what="the top-level control, at once")
        self.driver.find_element(By.CSS_SELECTOR, CONTROL).click()
        self.driver.switch_to.window(self.popup())
        self.install_at_top_level(1)
        self.driver.switch_to.window(self.main_window)
        self.assert_one_launch_moved_to_top_level()


class ThirdPartyCookiesBlockedCoopTests(FramingTestCase):
    """The same, with a Marketplace that sends COOP: same-origin (the popup's handle reads closed)."""

    fake_options = {"session_cookie": True, "coop": True}

    def test_popup_mode(self):
        self.in_popup_mode(expired_in_frame=True)

    def test_inline_mode(self):
        self.in_inline_mode(expired_in_frame=True)


class FramingRefusedTests(FramingTestCase):
    """A Cyclr account without iframe embedding: X-Frame-Options: DENY, frame-ancestors 'none'."""

    fake_options = {"refuse_framing": True}

    def test_popup_mode(self):
        self.in_popup_mode(expired_in_frame=False)

    def test_inline_mode(self):
        self.in_inline_mode(expired_in_frame=False)


class FramingRefusedCoopTests(FramingTestCase):
    fake_options = {"refuse_framing": True, "coop": True}

    def test_popup_mode(self):
        self.in_popup_mode(expired_in_frame=False)


class ThirdPartyCookiesAllowedTests(FramingTestCase):
    """Where the browser lets the framed Marketplace keep its cookie, the framed flow works as before."""

    fake_options = {"session_cookie": True}
    browser_prefs = ALLOW_THIRD_PARTY_COOKIES

    def test_popup_mode_installs_in_the_frame(self):
        self.integrations_page("popup")
        self.open_marketplace()
        self.install(1)
        self.driver.switch_to.window(self.main_window)
        launch = self.assert_recorded_once(Launch.Mode.POPUP)
        self.assertEqual(len([m for m in self.fake.marketplace_requests
                              if m["account_api_id"] == launch.account_api_id]), 1)  # nothing re-minted

    def test_inline_mode_installs_in_the_frame(self):
        self.integrations_page("inline")
        self.driver.find_element(By.ID, "connect").click()
        self.open_inline_marketplace()
        self.install(2)
        self.driver.switch_to.default_content()
        self.assert_recorded_once(Launch.Mode.INLINE)
