"""Redirect mode: a Launch Complete page with no parent and no opener still delivers its result."""
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from selenium.webdriver.common.by import By

from hostkit.models import Integration
from proxy.launches import open_launch
from proxy.models import Arrival, Launch

from .base import BrowserTestCase


class RedirectFallbackTests(BrowserTestCase):
    def test_the_result_travels_by_redirect_to_the_complete_page(self):
        user = get_user_model().objects.create_user("carol", password="carol-password")
        self.sign_in("carol", "carol-password")

        # Open a launch as proxy:launch does, but keep its single-use Marketplace URL for a top-level window.
        request = RequestFactory().get("/proxy/launch/")
        request.user = user
        _, marketplace_url = open_launch(request)

        # The Marketplace at top level, with no opener: the snippet's last resort is the redirect.
        self.driver.get(marketplace_url)
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace at top level")
        self.install(1)
        state = self.wait_js("window.completeState")
        self.assertEqual(state, "completed", self.driver.find_element(By.ID, "complete-status").text)
        # The fragment (webhook URLs are secrets) is gone from the address bar.
        self.assertEqual(self.driver.current_url, self.url("/proxy/complete/"))
        self.assertIn("Integration connected", self.driver.find_element(By.ID, "complete-status").text)

        launch = Launch.objects.get(user=user)
        self.assertEqual(launch.status, Launch.Status.COMPLETED)
        self.assertEqual(launch.source, "http")
        self.assertEqual(list(Arrival.objects.filter(launch=launch).values_list("source", flat=True)), ["http"])
        self.assertTrue(Integration.objects.filter(launch_id=launch.pk).exists())

    def test_the_complete_page_without_a_result_says_so_and_writes_nothing(self):
        get_user_model().objects.create_user("dave", password="dave-password")
        self.sign_in("dave", "dave-password")
        self.driver.get(self.url("/proxy/complete/#result=%7Bnot%20json"))
        self.assertEqual(self.wait_js("window.completeState"), "error")
        self.assertIn("did not receive an integration result", self.driver.find_element(By.ID, "complete-status").text)
        self.assertFalse(Arrival.objects.exists())
