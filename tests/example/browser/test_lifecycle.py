"""After the install, in Chromium: a LAUNCH preset installs and delivers once; ORBIT changes reach the records."""
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from proxy.models import Installation, InstallationChange, InstallationCycle, Launch

from .base import BrowserTestCase


class LifecycleTests(BrowserTestCase):
    proxy_overrides = {**BrowserTestCase.proxy_overrides, "LAUNCHES": {"email": {"tags": ["email"], "start": True}}}

    def setUp(self):
        super().setUp()
        self.user = get_user_model().objects.create_user("lena", password="lena-password")
        self.sign_in("lena", "lena-password")

    def popup(self):
        self.wait(lambda d: len(d.window_handles) == 2, what="the popup")
        handle = next(h for h in self.driver.window_handles if h != self.main_window)
        self.driver.switch_to.window(handle)
        return handle

    def launch_preset_install(self):
        self.driver.find_element(By.ID, "connect-preset").click()
        self.popup()
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.wait(lambda d: d.find_elements(By.ID, "launch-title"), what="Cyclr's LAUNCH page in the frame")
        self.driver.find_element(By.ID, "api_key").send_keys("demo-api-key")
        self.driver.find_element(By.ID, "install-button").click()
        self.back_to_host()

    def test_a_launch_preset_installs_and_delivers_once(self):
        self.launch_preset_install()

        launch = self.settled_launch()
        self.assertEqual((launch.status, launch.preset), (Launch.Status.COMPLETED, "email"), launch.failure_message)
        self.assertEqual(launch.result["flow"], "launch")
        self.assertEqual(launch.arrivals.filter(duplicate=False).count(), 1)
        (cycle,) = launch.result["cycles"]
        self.assertEqual(self.fake.cycles[cycle["cycle_id"]]["Name"], "Add customers to Mailchimp")
        self.assertEqual(InstallationCycle.objects.get(installation__account_api_id=f"hostkit-user-{self.user.pk}").cycle_id,
                         cycle["cycle_id"])
        # The page's "Kept in step" table shows the install without a reload.
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#installations .installation"),
                  what="the installation listed under Kept in step")
        self.assertIn("Add customers to Mailchimp", self.driver.find_element(By.ID, "installations").text)

    def test_what_is_stopped_in_orbit_reaches_the_records_when_its_window_closes(self):
        self.launch_preset_install()
        installation = Installation.objects.get(account_api_id=f"hostkit-user-{self.user.pk}")

        self.driver.find_element(By.ID, "manage").click()
        orbit = self.popup()
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "orbit-frame"))
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "button.orbit-stop"), what="ORBIT in the frame")
        self.driver.find_element(By.CSS_SELECTOR, "button.orbit-stop").click()
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, '.orbit-install[data-status="Stopped"]'), what="ORBIT to stop it")
        self.driver.switch_to.default_content()
        self.driver.close()  # the ORBIT page's beacon asks the server to reconcile
        self.driver.switch_to.window(self.main_window)

        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, '#installations .installation .status-stopped'),
                  what="the reconciled installation listed as stopped")
        self.assertEqual(InstallationCycle.objects.get(installation=installation).status, "Stopped")
        change = InstallationChange.objects.get(installation=installation, kind="stopped")
        self.assertEqual(change.source, "reconcile")
        self.assertIsNotNone(change.signal_sent_at)
        self.assertIn("Stopped", self.driver.find_element(By.ID, "installations").text)
        self.assertNotIn(orbit, self.driver.window_handles)
