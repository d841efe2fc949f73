"""Hostile input at the proxy page: refused in the browser or by the server, and nothing written."""
import json

from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from hostkit.models import Integration
from proxy.models import Arrival, Launch

from .base import BrowserTestCase

FORGED_CYCLE = "00000000-0000-4000-8000-000000000000"


class HostileMessageTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.user = get_user_model().objects.create_user("bob", password="bob-password")
        self.sign_in("bob", "bob-password")
        self.popup = self.open_marketplace()
        self.driver.switch_to.parent_frame()  # back on the proxy page
        self.launch = Launch.objects.get(user=self.user)

    def forged_result(self, **changes):
        return {
            "accountId": self.launch.cyclr_account_id,
            "accountApiId": self.launch.account_api_id,
            "installCompleteMessage": "Integration is now active",
            "marketplacePackageId": 1,
            "cycles": [{"cycleId": FORGED_CYCLE, "status": "Active", "webhooks": []}],
            "errors": [],
            **changes,
        }

    def assert_nothing_written(self):
        self.launch.refresh_from_db()
        self.assertEqual(self.launch.status, Launch.Status.PENDING)
        self.assertIsNone(self.launch.result_raw)
        self.assertFalse(Arrival.objects.filter(launch=self.launch).exists())

    def rejections(self):
        return self.driver.execute_script("return window.proxyTest.rejected;")

    def post_from_marketplace_frame(self, message):
        """Post to the proxy page from inside its Marketplace iframe (the right origin and source)."""
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.driver.execute_script("window.parent.postMessage(arguments[0], '*');", message)
        self.driver.switch_to.parent_frame()

    def test_a_message_from_another_origin_is_ignored(self):
        # The host's own origin is not a Marketplace origin: this is how any other page would look.
        self.driver.execute_script(
            "window.postMessage(arguments[0], '*');",
            json.dumps({"type": "cyclr.launch.complete", "result": self.forged_result()}),
        )
        rejection = self.wait_js("window.proxyTest.rejected === 1 && window.proxyTest.lastRejection")
        self.assertEqual(rejection, {"code": "origin", "origin": self.live_server_url})
        self.assert_nothing_written()

    def test_the_marketplace_origin_in_another_frame_is_ignored(self):
        # Same origin as the Marketplace, but not the proxy page's own iframe: event.source must match.
        self.driver.execute_script(
            "var f = document.createElement('iframe'); f.id = 'intruder'; f.src = arguments[0];"
            "f.onload = function () { window.intruderLoaded = true; }; document.body.appendChild(f);",
            self.fake.url + "/launch/marketplace/1?session=none",
        )
        self.wait_js("window.intruderLoaded === true")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "intruder"))
        self.driver.execute_script("window.parent.postMessage(arguments[0], '*');", json.dumps(self.forged_result()))
        self.driver.switch_to.parent_frame()
        rejection = self.wait_js("window.proxyTest.rejected === 1 && window.proxyTest.lastRejection")
        self.assertEqual(rejection, {"code": "source", "origin": self.fake.origin})
        self.assert_nothing_written()

    def test_malformed_oversized_and_foreign_messages_are_ignored(self):
        cases = [
            ("{not json", "malformed"),
            (json.dumps({"type": "something.else", "result": {}}), "not_a_result"),
            (json.dumps({"hello": "world"}), "not_a_result"),
            (json.dumps({"type": "cyclr.launch.complete", "result": "not an object"}), "not_a_result"),
            (json.dumps(self.forged_result(padding="x" * (70 * 1024))), "too_large"),
        ]
        for count, (message, code) in enumerate(cases, start=1):
            self.post_from_marketplace_frame(message)
            rejection = self.wait_js(f"window.proxyTest.rejected === {count} && window.proxyTest.lastRejection")
            self.assertEqual(rejection["code"], code, message[:60])
        self.assert_nothing_written()

    def test_a_forged_result_is_refused_and_the_popup_waits_for_the_genuine_one(self):
        # Right origin and source, but the cycle does not exist in Cyclr: the claim is refused, nothing fails.
        self.post_from_marketplace_frame({"type": "cyclr.launch.complete", "result": self.forged_result()})
        self.wait_js("window.proxyTest.state === 'waiting' && "
                     "document.getElementById('proxy-status').getAttribute('data-state') === 'error'", timeout=30)
        self.assertIn("did not confirm", self.driver.find_element(By.ID, "proxy-status").text)
        self.driver.switch_to.window(self.main_window)
        self.assertIsNone(self.driver.execute_script(
            "return document.querySelector('#connect-status').getAttribute('data-code');"))

        self.launch.refresh_from_db()
        self.assertEqual((self.launch.status, self.launch.failure_code), (Launch.Status.PENDING, ""))
        self.assertEqual(list(Arrival.objects.filter(launch=self.launch).values_list("refused_code", flat=True)),
                         ["unknown_cycle"])
        self.assertFalse(Integration.objects.filter(launch_id=self.launch.pk).exists())
