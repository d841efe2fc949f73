"""The example host's settings plus the signal log (see the package's docstring)."""
from hostkit.settings import *  # noqa: F401,F403
from hostkit.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.example.scaleout_worker"]
