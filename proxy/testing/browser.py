"""Real headless Chromium for tests, offline: Debian's chromium and chromedriver, never a download."""
import os
import shutil
import tempfile
from pathlib import Path

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


def missing_browser():
    """A sentence naming what is missing, or "" when Chromium and its driver are installed."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if not missing:
        return ""
    return (f"Browser tests need {' and '.join(missing)}: install the Debian packages "
            "`chromium` and `chromium-driver` (apt-get install chromium chromium-driver).")


class Browser:
    """A Chromium driven by Selenium, with a fresh profile that is removed on ``quit()``."""

    def __init__(self, extra_flags=()):
        os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="hostkit-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, *extra_flags, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
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
