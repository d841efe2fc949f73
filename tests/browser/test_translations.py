"""In real Chromium: for a person whose language is French, the proxy page and hostkit.js's prompt
say it in French (their texts come from the server's catalogue; the scripts keep none of their own)."""
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from proxy.testing.browser import BrowserTestCase

PROMPT = "document.querySelector('.hostkit-prompt') && document.querySelector('.hostkit-prompt').textContent"


@pytest.mark.browser
class FrenchPagesTest(BrowserTestCase):
    def test_the_proxy_page_and_the_scripts_prompt_speak_french(self):
        user = get_user_model().objects.create_user("marie", password="marie-password")
        self.sign_in(user)
        # The language cookie, as Django's set_language view leaves it: LocaleMiddleware reads it first.
        self.driver.add_cookie({"name": settings.LANGUAGE_COOKIE_NAME, "value": "fr", "path": "/"})
        self.driver.get(self.url("/"))
        self.wait_js("window.HostkitConnectButton && window.HostkitConnectButton.ready === true && !!window.Hostkit")

        popup = self.connect()
        self.driver.switch_to.default_content()
        assert self.driver.title == "Connecter une intégration"
        assert self.wait_js("document.getElementById('proxy-status').textContent") == \
            "Choisissez et configurez votre intégration ci-dessous."

        self.driver.switch_to.window(self.main_window)
        status = self.driver.find_element("id", "hostkit-connect-1-status").text
        assert status == "Terminez dans la fenêtre de la Marketplace…"
        self.wait_js("window.__hostkitTest.state === 'pending'")
        self.driver.execute_script("window.dispatchEvent(new Event('focus'));")  # back on the host page
        prompt = self.wait_js(PROMPT)
        assert prompt == "Toujours en cours\u00a0? Rouvrir la fenêtre Annuler", prompt
        self.driver.find_element("xpath", "//p[@class='hostkit-prompt']/button[2]").click()  # Annuler
        said = "document.getElementById('hostkit-connect-1-status').textContent"
        assert self.wait_js(f"{said} !== 'Terminez dans la fenêtre de la Marketplace…' && {said}") == \
            "Annulé. Cliquez sur Connecter pour réessayer."

        self.driver.switch_to.window(popup)
        self.driver.close()
        self.driver.switch_to.window(self.main_window)
