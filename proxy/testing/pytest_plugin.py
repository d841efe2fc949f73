"""The kit's pytest plugin: a fake Cyclr over real HTTP, and whole installs through the kit's views.

Installed with the package (``pytest11`` entry point), it needs pytest-django (the ``[test]`` extra)::

    def test_a_new_install_is_remembered(fake_cyclr, cyclr_install, django_user_model):
        user = django_user_model.objects.create_user("ada", password="pw")
        launch = cyclr_install(user)
        assert launch.status == "completed"

Fixtures:

- ``fake_cyclr``: a :class:`~proxy.testing.fake_cyclr.FakeCyclr` serving on ``127.0.0.1`` (another origin
  than the test client's ``testserver``), with ``settings.CYCLR_PROXY`` pointed at it (your own keys kept,
  see :func:`proxy.testing.wiring.cyclr_proxy_for`) and the kit's Launch Complete snippet configured on it.
- ``cyclr_install``: ``cyclr_install(user, **options) -> Launch``, see
  :func:`proxy.testing.install.install_through_views`. Requests the ``db`` fixture; works with
  ``transactional_db`` too.
- ``fake_cyclr_options`` (dict of ``FakeCyclr`` arguments) and ``fake_cyclr_settings`` (dict of
  ``CYCLR_PROXY`` keys that win over yours): override them in your ``conftest.py`` to shape the fake.

Nothing here imports Django at import time: pytest loads plugins before pytest-django configures it.
"""
import pytest


@pytest.fixture
def fake_cyclr_options():
    """Keyword arguments for ``FakeCyclr`` (override in a conftest: ``marketplace_ids``, ``opener_policy``…)."""
    return {}


@pytest.fixture
def fake_cyclr_settings():
    """``CYCLR_PROXY`` keys that win over your project's while ``fake_cyclr`` runs (override in a conftest)."""
    return {}


@pytest.fixture
def fake_cyclr(settings, fake_cyclr_options, fake_cyclr_settings):
    """A fake Cyclr over real HTTP, with ``CYCLR_PROXY`` pointed at it and the snippet configured on it."""
    from proxy.cyclr import CyclrClient
    from proxy.testing.fake_cyclr import FakeCyclr
    from proxy.testing.wiring import cyclr_proxy_for, launch_complete_html, marketplace_ids_for

    project = getattr(settings, "CYCLR_PROXY", None)
    options = {"host": "127.0.0.1", "port": 0, **fake_cyclr_options}
    # The fake serves the Marketplaces the project may open (MARKETPLACE_ID and the MARKETPLACE_IDS allow-list).
    options.setdefault("marketplace_ids", marketplace_ids_for({**(project or {}), **fake_cyclr_settings}))
    with FakeCyclr(**options) as fake:
        settings.CYCLR_PROXY = cyclr_proxy_for(fake, project, **fake_cyclr_settings)
        fake.set_complete_html(launch_complete_html(settings.CYCLR_PROXY["HOST_ORIGINS"]))
        CyclrClient.forget_tokens()  # a token of another test's fake is no good here
        yield fake
        CyclrClient.forget_tokens()


@pytest.fixture
def cyclr_install(fake_cyclr, db):
    """``cyclr_install(user, **options)``: a whole install through the kit's real views; returns the ``Launch``.

    Options: ``mode`` (``popup``, ``inline``, ``redirect``), ``marketplace``, ``launch`` (a preset),
    ``package_id``, ``api_key``, ``start_cycles``, ``client``. Receivers of ``install_completed`` and
    ``install_failed`` have run when it returns.
    """
    from proxy.testing.install import install_through_views

    return install_through_views
