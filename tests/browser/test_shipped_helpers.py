"""proxy.testing.browser.BrowserTestCase and {% connect_button %} in real Chromium, as an integrator uses them."""
import pytest
from django.contrib.auth import get_user_model

from proxy.testing.browser import BrowserTestCase


@pytest.mark.browser
class ShippedBrowserHelpersTest(BrowserTestCase):
    def test_the_connect_button_installs_through_the_popup(self):
        user = get_user_model().objects.create_user("grace", password="grace-password")
        self.sign_in(user)
        self.driver.get(self.url("/"))  # tests/templates/home.html: the tags, as README step 4 has them
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
