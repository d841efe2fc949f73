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

    def installed_on_the_home_page(self, name):
        """A signed-in person who installed package 2 through the Connect button, on the test home page."""
        user = get_user_model().objects.create_user(name, password=f"{name}-password")
        self.sign_in(user)
        self.driver.get(self.url("/"))
        self.wait_js("window.HostkitConnectButton && window.HostkitConnectButton.ready === true && !!window.Hostkit")
        self.connect()
        self.install_in_marketplace(2)
        self.back_to_host_page()
        self.wait_for_launch(user, "completed")
        return user

    def stop_in_orbit_and_close_it(self):
        """Click Manage, stop the installed cycle in ORBIT's frame, close ORBIT's window (its beacon asks the server
        to reconcile), and come back to the host page; what the Manage button then says, once it says it."""
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
        return self.wait_js(f"{status}.indexOf('Stopped in Cyclr') >= 0 && {status}", timeout=30)

    def test_the_orbit_button_says_what_changed_once_orbit_closes(self):
        # {% orbit_button %} runs Hostkit.manage(), which resolves with the changes' sentences (the push).
        self.installed_on_the_home_page("hedy")

        said = self.stop_in_orbit_and_close_it()
        assert "recorded as Active" in said, said
        assert self.driver.find_element("id", "hostkit-manage-1").is_enabled()

    def test_the_orbit_button_says_what_changed_when_the_push_is_lost(self):
        # No events socket on the host page: Hostkit.manage() asks proxy:orbit_changes once ORBIT's window has gone.
        self.installed_on_the_home_page("ada")
        # Every socket this page opens from now on never connects, so the push cannot arrive.
        self.driver.execute_script(
            "window.socketsTried = 0;"
            "window.WebSocket = function () { window.socketsTried++; return { send() {}, close() {} }; };")

        said = self.stop_in_orbit_and_close_it()
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
