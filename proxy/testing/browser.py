"""Real headless Chromium for tests, offline (Debian's chromium and chromedriver, never a download), and
``BrowserTestCase``: the Connect flow in Chromium against a real ASGI server and the fake Cyclr."""
import os
import shutil
import tempfile
from pathlib import Path

from .live import LiveCyclrTestCase

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1100,820",
)


# Chromium's cookie controls: 0 allows third-party cookies, 1 blocks them (Debian's headless default, measured
# on Chromium 156: a cookie set by a cross-site frame with SameSite=None; Secure is not sent back to it).
ALLOW_THIRD_PARTY_COOKIES = {"profile.cookie_controls_mode": 0}


def missing_browser():
    """A sentence naming what is missing, or "" when Chromium and its driver are installed."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if not missing:
        return ""
    return (f"Browser tests need {' and '.join(missing)}: install the Debian packages "
            "`chromium` and `chromium-driver` (apt-get install chromium chromium-driver).")


class Browser:
    """A Chromium driven by Selenium, with a fresh profile that is removed on ``quit()``.

    ChromeDriver turns Chromium's popup blocker off; ``block_popups=True`` keeps it on, so that
    ``window.open`` outside a user gesture returns null, as it does for people. ``prefs`` are profile
    preferences: Debian's Chromium blocks third-party cookies by default (a cookie a cross-site frame sets is
    not sent back to it), and ``ALLOW_THIRD_PARTY_COOKIES`` turns that off (docs/framing.md).
    """

    def __init__(self, extra_flags=(), *, block_popups=False, prefs=None):
        os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="hostkit-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, *extra_flags, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if block_popups:
            options.add_experimental_option("excludeSwitches", ["disable-popup-blocking"])
        if prefs:
            options.add_experimental_option("prefs", dict(prefs))
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)

    def wait_for_js(self, expression, timeout=20, message=""):
        """Wait until the JavaScript ``expression`` is truthy in the current window; return its value."""
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(
            lambda d: d.execute_script(f"return ({expression}) || null;"),
            message or f"waited {timeout}s for {expression}",
        )

    def wait_for(self, condition, timeout=20, message=""):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(condition, message)

    def console(self):
        """The browser console so far, for a failure's diagnosis."""
        try:
            return "\n".join(f"{e['level']} {e['message']}" for e in self.driver.get_log("browser"))
        except Exception as exc:  # the window may be gone
            return f"(no console: {exc!r})"

    def screenshot(self, name):
        """Save a PNG under $HOSTKIT_SCREENSHOTS (default var/screenshots); return its path."""
        folder = Path(os.environ.get("HOSTKIT_SCREENSHOTS", "var/screenshots"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


# --- a live-server test base with a browser -------------------------------------------------------


class BrowserTestCase(LiveCyclrTestCase):
    """``proxy.testing.live.LiveCyclrTestCase`` plus one headless Chromium for the class.

    Helpers for the Connect flow on any host page: ``sign_in(user)`` (a session cookie, no login form),
    ``connect()`` (click the Connect button, switch into the popup's Marketplace), ``install_in_marketplace()``
    and ``wait_for_launch()``. A missing Chromium skips the class with a sentence saying what to install.
    """

    browser_flags = ()
    browser_prefs = None  # profile preferences, such as ALLOW_THIRD_PARTY_COOKIES
    block_popups = False  # True: window.open outside a user gesture returns null, as for people

    @classmethod
    def setUpClass(cls):
        problem = missing_browser()
        if problem:
            import unittest

            raise unittest.SkipTest(problem)
        super().setUpClass()
        try:
            cls.browser = Browser(cls.browser_flags, block_popups=cls.block_popups, prefs=cls.browser_prefs)
        except Exception:
            super().tearDownClass()
            raise
        cls.driver = cls.browser.driver

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        super().tearDownClass()

    def url(self, path):
        return self.live_server_url + path

    def diagnosis(self):
        return f"\n--- browser console ---\n{self.browser.console()}"

    def wait_js(self, expression, timeout=20):
        """Wait for a flag the page sets; on time-out fail with the browser console attached."""
        from selenium.common.exceptions import TimeoutException

        try:
            return self.browser.wait_for_js(expression, timeout)
        except TimeoutException:
            self.fail(f"Timed out after {timeout}s waiting for {expression}{self.diagnosis()}")

    def wait(self, condition, timeout=20, what="a condition"):
        from selenium.common.exceptions import TimeoutException

        try:
            return self.browser.wait_for(condition, timeout)
        except TimeoutException:
            self.fail(f"Timed out after {timeout}s waiting for {what}{self.diagnosis()}")

    def sign_in(self, user):
        """Sign ``user`` in by session cookie (no login form needed); the browser stays on this origin."""
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        self.driver.get(self.url("/"))  # a cookie can only be set for the page's own origin
        self.driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "path": "/"})
        self.main_window = self.driver.current_window_handle

    def connect(self, selector="[data-hostkit-connect]"):
        """Click the Connect button, switch to the popup, then into the Marketplace iframe; return the popup's handle."""
        from selenium.webdriver.common.by import By

        self.main_window = self.driver.current_window_handle
        self.driver.find_element(By.CSS_SELECTOR, selector).click()
        self.wait(lambda d: len(d.window_handles) == 2, what="the Connect popup")
        popup = next(h for h in self.driver.window_handles if h != self.main_window)
        self.driver.switch_to.window(popup)
        self.wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        self.driver.switch_to.frame(self.driver.find_element(By.ID, "proxy-frame"))
        self.wait(lambda d: d.find_elements(By.ID, "marketplace-title"), what="the Marketplace inside the iframe")
        return popup

    def install_in_marketplace(self, package_id=1, *, api_key="demo-api-key", start_cycles=True):
        """In the (fake) Marketplace: pick the package, authenticate its connector, install."""
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, f'[data-package-id="{package_id}"] a.install').click()
        self.wait(lambda d: d.find_elements(By.ID, "connector-auth"), what="the connector form")
        self.driver.find_element(By.ID, "api_key").send_keys(api_key)
        if not start_cycles:
            self.driver.find_element(By.ID, "start_cycles").click()
        self.driver.find_element(By.ID, "install-button").click()

    def back_to_host_page(self):
        """Wait for the popup to close itself after the server's ack, and switch back to the host page."""
        self.driver.switch_to.window(self.main_window)
        self.wait(lambda d: len(d.window_handles) == 1, what="the popup to close itself")

    def wait_for_launch(self, user, status="completed", timeout=20):
        """Wait until one of ``user``'s launches has ``status`` (the server process writes it); return the newest such."""
        from proxy.models import Launch

        def settled(driver):
            return Launch.objects.filter(user=user, status=status).order_by("-created_at").first()

        return self.wait(settled, timeout, what=f"{user}'s launch to be {status}")
