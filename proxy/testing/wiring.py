"""Aiming a Django project at a fake Cyclr: the ``CYCLR_PROXY`` values and the Launch Complete snippet.

Shared by the pytest plugin (``fake_cyclr``), the live-server test base (``proxy.testing.live``) and
``manage.py proxy_fake_cyclr``, so the three agree on what "pointed at the fake" means.
"""
from django.urls import NoReverseMatch, reverse

from proxy.exceptions import ProxyError
from proxy.snippet import render_launch_complete_html

# The origin of Django's test client (``django.test.Client`` sends ``Host: testserver``).
TEST_CLIENT_ORIGIN = "http://testserver"


def cyclr_proxy_for(fake, base=None, **overrides):
    """``CYCLR_PROXY`` for a project that talks to ``fake``.

    ``base`` (the project's own ``CYCLR_PROXY``, such as its ``ACCOUNT_RESOLVER`` and ``HOST_ORIGINS``) is
    kept; the parts that say *which Cyclr* are replaced: ``API_URL``, the client credentials and
    ``MARKETPLACE_ORIGINS``. ``MARKETPLACE_ID`` is the project's when the fake serves it, else the fake's
    first; ``HOST_ORIGINS`` default to the test client's origin. ``overrides`` win over everything.
    """
    values = dict(base or {})
    marketplace_ids = sorted(fake.state.marketplace_ids)
    values.update({
        "API_URL": fake.url,
        "CLIENT_ID": fake.state.client_id,
        "CLIENT_SECRET": fake.state.client_secret,
        "MARKETPLACE_ORIGINS": [fake.origin],
    })
    if values.get("MARKETPLACE_ID") not in marketplace_ids:
        values["MARKETPLACE_ID"] = marketplace_ids[0]
    if not values.get("HOST_ORIGINS"):
        values["HOST_ORIGINS"] = [TEST_CLIENT_ORIGIN]
    values.update(overrides)
    return values


def marketplace_ids_for(cyclr_proxy):
    """The Marketplace ids a fake must serve for a ``CYCLR_PROXY``: ``MARKETPLACE_ID`` and ``MARKETPLACE_IDS`` (else 1)."""
    values = cyclr_proxy or {}
    wanted = [values.get("MARKETPLACE_ID"), *(values.get("MARKETPLACE_IDS") or ())]
    ids = [i for i in wanted if isinstance(i, int) and not isinstance(i, bool) and i > 0]
    return tuple(dict.fromkeys(ids)) or (1,)


def launch_complete_html(host_origins):
    """The kit's Launch Complete snippet for ``host_origins``, as ``manage.py proxy_snippet`` makes it."""
    origins = [host_origins] if isinstance(host_origins, str) else list(host_origins)
    try:
        complete_path = reverse("proxy:complete")
    except NoReverseMatch:
        raise ProxyError("urls_not_included", 'The kit\'s URLs are not included: add path("proxy/", '
                         'include("proxy.urls")) to your ROOT_URLCONF.') from None
    return render_launch_complete_html(origins, origins[0] + complete_path)
