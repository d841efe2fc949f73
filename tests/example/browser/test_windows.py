"""A closed-looking window is not a cancelled install; blocked popups; the snippet's handshake.

The Marketplace here sends Cross-Origin-Opener-Policy: same-origin (which severs the popup's handle: it
reads closed while open) and waits seconds between the install and Launch Complete. Every mode must still
resolve Hostkit.connect() and record the install once.
"""
from selenium.webdriver.common.by import By

from proxy.models import Launch

from .base import FAILURE_CODE, WindowTestCase

class SlowCoopMarketplaceTests(WindowTestCase):
    fake_options = {"coop": True, "complete_delay": 4}

    def test_popup_mode(self):
        self.integrations_page("popup")
        self.open_marketplace()
        self.install(1)
        self.driver.switch_to.window(self.main_window)
        self.assert_recorded_once(Launch.Mode.POPUP)

    def test_inline_mode(self):
        self.integrations_page("inline")
        self.driver.find_element(By.ID, "connect").click()
        self.open_inline_marketplace()
        self.install(2)
        self.driver.switch_to.default_content()
        self.assert_recorded_once(Launch.Mode.INLINE)

    def test_redirect_mode_survives_a_handle_that_reads_closed(self):
        self.integrations_page("redirect")
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.popup())
        self.install_at_top_level(1)
        self.driver.switch_to.window(self.main_window)
        # COOP severed the handle: it reads closed while the window is open and the person still installing.
        self.assertEqual(self.driver.execute_script("return window.__hostkitTest.state;"), "pending")
        self.assert_recorded_once(Launch.Mode.REDIRECT)

    def test_direct_mode_under_coop_falls_back_to_the_complete_page(self):
        self.integrations_page("direct")
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.popup())
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.assertIs(self.driver.execute_script("return window.opener === null;"), True)  # COOP cut it
        self.install(1)
        self.driver.switch_to.window(self.main_window)
        self.assertEqual(self.driver.execute_script("return window.__hostkitTest.state;"), "pending")
        launch = self.assert_recorded_once(Launch.Mode.DIRECT)
        self.assertEqual(launch.source, "http")  # by proxy:complete

    def test_closing_the_proxy_window_is_closed(self):
        # The kit's own page says it is leaving without a result: that, and only that, is `closed`.
        self.integrations_page("popup")
        self.open_marketplace()
        self.driver.close()
        self.driver.switch_to.window(self.main_window)
        self.assertEqual(self.wait_js(FAILURE_CODE), "closed")
        self.assertEqual(self.driver.execute_script("return window.__hostkitTest.state;"), "closed")

    def test_cancel_in_the_prompt_is_closed_and_reopen_is_not(self):
        self.integrations_page("redirect")
        self.driver.find_element(By.ID, "connect").click()
        self.popup()
        self.wait_js("window.__hostkitTest.state === 'pending'")
        # Back on the host page while pending (the focus event of a person switching back).
        self.driver.execute_script("window.dispatchEvent(new Event('focus'));")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".hostkit-prompt button"), what="the prompt")
        self.assertIn("Still connecting?", self.driver.find_element(By.CLASS_NAME, "hostkit-prompt").text)
        self.driver.find_element(By.XPATH, "//p[@class='hostkit-prompt']/button[1]").click()  # Reopen
        self.assertEqual(self.wait_js("window.__hostkitTest.state"), "pending")
        self.assertFalse(self.driver.find_elements(By.CLASS_NAME, "hostkit-prompt"))

        self.driver.execute_script("window.dispatchEvent(new Event('focus'));")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".hostkit-prompt button"), what="the prompt again")
        self.driver.find_element(By.XPATH, "//p[@class='hostkit-prompt']/button[2]").click()  # Cancel
        self.assertEqual(self.wait_js(FAILURE_CODE), "closed")
        self.assertIn("Cancelled", self.driver.find_element(By.ID, "connect-status").text)


class InstantMarketplaceTests(WindowTestCase):
    """Launch Complete is the first page the frame shows: the snippet's handshake must not lose it."""

    fake_options = {"instant_complete": True}

    def test_popup_mode_loses_nothing_to_a_fast_marketplace(self):
        self.integrations_page("popup")
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.main_window)
        self.assert_recorded_once(Launch.Mode.POPUP)


class DirectModeTests(WindowTestCase):
    """Cyclr's own pattern: the Marketplace at top level in the popup posts to its opener, the host page."""

    def test_the_snippet_posts_to_the_host_page_which_delivers_it(self):
        self.integrations_page("direct")
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.popup())
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.assertIs(self.driver.execute_script("return window.opener !== null;"), True)
        self.install(2)
        self.driver.switch_to.window(self.main_window)
        launch = self.assert_recorded_once(Launch.Mode.DIRECT)
        self.assertEqual(launch.source, "socket")  # the host page sent it over the launch's socket
        self.wait(lambda d: len(d.window_handles) == 1, what="the host page to close the popup")


class ServerRestartTests(WindowTestCase):
    """The server goes down while the person is in the Marketplace: the proxy page's outbox keeps the result
    and sends it again once the server is back."""

    def start_server(self):
        cls = type(self)
        from functools import partial

        from channels.testing.live import make_application, set_database_connection

        application = partial(make_application, static_wrapper=cls.static_wrapper if cls.serve_static else None)
        cls._server_process = cls.ProtocolServerProcess(cls.host, application, setup=set_database_connection,
                                                        port=cls._port)
        # Forking while the fake Cyclr's thread serves could deadlock the child (tests/live.py): pause it.
        self.fake.stop()
        try:
            cls._server_process.start()
            self.assertTrue(cls._server_process.ready.wait(timeout=30), "the server did not come back")
        finally:
            self.fake.start()

    def test_a_result_held_while_the_server_is_down_arrives_once_it_is_back(self):
        self.integrations_page("popup")
        popup = self.open_marketplace()
        type(self)._server_process.terminate()
        type(self)._server_process.join()
        self.install(1)
        self.driver.switch_to.window(popup)
        self.wait_js("window.proxyTest.state === 'sending' && window.proxyTest.socketOpen === false")
        self.assertIn("proxy.outbox.", self.driver.execute_script("return Object.keys(localStorage).join(' ');"))
        self.assertFalse(Launch.objects.exclude(status=Launch.Status.PENDING).exists())

        self.start_server()
        self.driver.switch_to.window(self.main_window)
        launch = self.assert_recorded_once(Launch.Mode.POPUP)
        self.assertEqual(launch.source, "http")  # the socket was gone: the outbox went over HTTP
