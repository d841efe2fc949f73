"""tests/example/: the example host's own tests (its pages, receivers and models, its production settings, its
daphne workers), run under ``hostkit.settings`` by a pytest invocation of their own; the kit's tests run in
``tests.settings``, a minimal host that does not import hostkit. ``make test`` runs both."""
import os

import pytest

if os.environ.get("DJANGO_SETTINGS_MODULE") != "hostkit.settings":
    raise pytest.UsageError("tests/example/ runs under the example host's settings: "
                            "python -m pytest --ds=hostkit.settings tests/example")


@pytest.fixture
def signal_log(tmp_path):
    """The file the workers' receivers append ``<signal> <launch> <pid>`` lines to (``workers.signals_sent``)."""
    path = tmp_path / "signals.log"
    path.touch()
    return path
