"""A Marketplace origin the settings do not allow: proxy:launch refuses, and the host page is told.

``CYCLR_PROXY["MARKETPLACE_ORIGINS"]`` names an https origin while the fake Cyclr mints its Marketplace URL on
plain http (the wrong scheme, as a set-up copied from another environment would). ``proxy:launch`` refuses before
framing anything (``origin_not_allowed``, the kit's error page), so no launch exists: before the fix the popup
explained and the host page's ``Hostkit.connect()`` waited for ever. Now the error page tells it
(``refusal.js``): the promise rejects with the code and ``hostkit:failed`` fires, once.
"""
from selenium.webdriver.common.by import By

from proxy.models import Launch

from .base import FAILURE_CODE, WindowTestCase


class LaunchRefusedTests(WindowTestCase):
    proxy_overrides = {**WindowTestCase.proxy_overrides, "MARKETPLACE_ORIGINS": ["https://127.0.0.1"]}

    def test_a_marketplace_origin_not_allowed_rejects_the_host_pages_promise_with_the_code(self):
        self.assertFalse(self.fake.origin.startswith("https:"))
        self.integrations_page("popup")
        self.driver.find_element(By.ID, "connect").click()
        self.driver.switch_to.window(self.popup())
        error = self.wait(lambda d: d.find_elements(By.ID, "launch-error"), what="the kit's error page")[0]
        self.assertEqual(error.get_attribute("data-code"), "origin_not_allowed")
        self.assertIn("tell the site's administrator", error.text)  # the popup explains

        self.driver.switch_to.window(self.main_window)
        self.assertEqual(self.wait_js(FAILURE_CODE), "origin_not_allowed")
        self.assertIn("tell the site's administrator", self.driver.find_element(By.ID, "connect-status").text)
        self.assertEqual(self.driver.execute_script("return window.hostkitEvents;"), ["hostkit:failed"])
        self.assertEqual(self.driver.execute_script("return window.__hostkitTest.state;"), "failed")
        self.assertFalse(Launch.objects.exists())

    def test_inline_the_framed_refusal_rejects_the_promise_too(self):
        self.integrations_page("inline")
        self.driver.find_element(By.ID, "connect").click()
        self.assertEqual(self.wait_js(FAILURE_CODE), "origin_not_allowed")
        self.assertIn("tell the site's administrator", self.driver.find_element(By.ID, "connect-status").text)
        self.assertEqual(self.driver.execute_script("return window.hostkitEvents;"), ["hostkit:failed"])
        self.assertEqual(len(self.driver.window_handles), 1)  # no popup
        self.assertFalse(Launch.objects.exists())
