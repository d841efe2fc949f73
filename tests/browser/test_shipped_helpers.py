"""proxy.testing.browser.BrowserTestCase and {% connect_button %} in real Chromium, as an integrator uses them."""
import pytest
from django.contrib.auth import get_user_model

from proxy.testing.browser import BrowserTestCase


@pytest.mark.browser
class ShippedBrowserHelpersTest(BrowserTestCase):
    def test_the_connect_button_installs_through_the_popup(self):
        user = get_user_model().objects.create_user("grace", password="grace-password")
        self.sign_in(user)
        self.driver.get(self.url("/"))  # tests/templates/home.html: the tags, as docs/quickstart.md has them
        self.wait_js("window.HostkitConnectButton && window.HostkitConnectButton.ready === true && !!window.Hostkit")
        button = self.driver.find_element("id", "hostkit-connect-1")
        assert button.text == "Connect your CRM" and button.get_attribute("type") == "button"

        self.connect()
        self.install_in_marketplace(2)
        self.back_to_host_page()
        self.wait_js("document.getElementById('hostkit-connect-1-status').textContent === 'Connected.'")
        assert self.driver.find_element("id", "hostkit-connect-1").is_enabled()

        launch = self.wait_for_launch(user, "completed")
        assert launch.result["marketplace_package_id"] == 2

    def test_the_orbit_button_says_what_changed_once_orbit_closes(self):
        # {% orbit_button %} runs Hostkit.manage(), which resolves with the changes' sentences.
        user = get_user_model().objects.create_user("hedy", password="hedy-password")
        self.sign_in(user)
        self.driver.get(self.url("/"))
        self.wait_js("window.HostkitConnectButton && window.HostkitConnectButton.ready === true && !!window.Hostkit")
        self.connect()
        self.install_in_marketplace(2)
        self.back_to_host_page()
        self.wait_for_launch(user, "completed")

        self.driver.find_element("id", "hostkit-manage-1").click()
        self.wait(lambda d: len(d.window_handles) == 2, what="the ORBIT popup")
        orbit = next(h for h in self.driver.window_handles if h != self.main_window)
        self.driver.switch_to.window(orbit)
        self.driver.switch_to.frame(self.driver.find_element("id", "orbit-frame"))
        self.wait(lambda d: d.find_elements("css selector", "button.orbit-stop"), what="ORBIT in the frame")
        self.driver.find_element("css selector", "button.orbit-stop").click()
        self.wait(lambda d: d.find_elements("css selector", '.orbit-install[data-status="Stopped"]'), what="ORBIT to stop it")
        self.driver.switch_to.default_content()
        self.driver.close()  # its beacon asks the server to reconcile; the push resolves Hostkit.manage()
        self.driver.switch_to.window(self.main_window)

        status = "document.getElementById('hostkit-manage-1-status').textContent"
        said = self.wait_js(f"{status}.indexOf('Stopped in Cyclr') >= 0 && {status}", timeout=30)
        assert "recorded as Active" in said, said
        assert self.driver.find_element("id", "hostkit-manage-1").is_enabled()

    def test_the_orbit_button_says_what_changed_when_the_push_is_lost(self):
        # No events socket on the host page: Hostkit.manage() asks proxy:orbit_changes once ORBIT's window has gone.
        user = get_user_model().objects.create_user("ada", password="ada-password")
        self.sign_in(user)
        self.driver.get(self.url("/"))
        self.wait_js("window.HostkitConnectButton && window.HostkitConnectButton.ready === true && !!window.Hostkit")
        self.connect()
        self.install_in_marketplace(2)
        self.back_to_host_page()
        self.wait_for_launch(user, "completed")
        # Every socket this page opens from now on never connects, so the push cannot arrive.
        self.driver.execute_script(
            "window.socketsTried = 0;"
            "window.WebSocket = function () { window.socketsTried++; return { send() {}, close() {} }; };")

        self.driver.find_element("id", "hostkit-manage-1").click()
        self.wait(lambda d: len(d.window_handles) == 2, what="the ORBIT popup")
        orbit = next(h for h in self.driver.window_handles if h != self.main_window)
        self.driver.switch_to.window(orbit)
        self.driver.switch_to.frame(self.driver.find_element("id", "orbit-frame"))
        self.wait(lambda d: d.find_elements("css selector", "button.orbit-stop"), what="ORBIT in the frame")
        self.driver.find_element("css selector", "button.orbit-stop").click()
        self.wait(lambda d: d.find_elements("css selector", '.orbit-install[data-status="Stopped"]'), what="ORBIT to stop it")
        self.driver.switch_to.default_content()
        self.driver.close()
        self.driver.switch_to.window(self.main_window)

        status = "document.getElementById('hostkit-manage-1-status').textContent"
        said = self.wait_js(f"{status}.indexOf('Stopped in Cyclr') >= 0 && {status}", timeout=30)
        assert "recorded as Active" in said, said
        assert self.driver.execute_script("return window.socketsTried") == 1  # the events socket, which never opened

    def test_manage_refuses_in_its_own_words_when_the_browser_blocks_its_window(self):
        # Connect's errors end "Click Connect to try again."; Manage has its own button, so its errors do not.
        user = get_user_model().objects.create_user("alan", password="alan-password")
        self.sign_in(user)
        self.driver.get(self.url("/"))
        self.wait_js("!!window.Hostkit")
        self.driver.execute_script(
            "window.open = () => null;"
            "Hostkit.manage({url: '/proxy/orbit/'}).catch((e) => { window.refused = [e.code, e.message]; });")
        code, message = self.wait_js("window.refused")
        assert code == "popup_blocked"
        assert message == "The browser blocked the window: allow pop-ups for this site.", message
