"""A whole install through the kit's real views, without a browser: what ``cyclr_install`` runs.

``install_through_views(user)`` signs ``user`` in with Django's test client, opens ``proxy:launch`` (which
mints a real Marketplace URL from the fake Cyclr), installs a package in the fake Marketplace over HTTP,
and delivers the Launch Complete page's ``result`` through the kit's HTTP fallback (``proxy:result``, or
``proxy:complete`` in redirect mode), exactly as the proxy page would. It returns the ``Launch`` after the
kit verified the result and sent ``install_completed`` / ``install_failed`` to your receivers.
"""
import uuid
from urllib.parse import urlencode

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.test import Client, TestCase
from django.urls import NoReverseMatch, reverse

from proxy.conf import proxy_settings
from proxy.models import Launch
from proxy.settlement import drain

from .marketplace import install_over_http, launch_over_http


class InstallFailed(AssertionError):
    """A step of ``install_through_views`` did not go as a real install would; the message says which."""


def install_through_views(user, *, mode="popup", marketplace=None, launch=None, package_id=1,
                          api_key="demo-key", start_cycles=True, client=None):
    """Install for ``user`` through ``proxy:launch``, the fake Marketplace and the HTTP fallback; return the ``Launch``.

    ``mode`` is ``proxy:launch``'s ``?mode=`` (``popup``, ``inline``, ``redirect`` or ``direct``), ``marketplace`` its
    ``?marketplace=`` and ``launch`` its ``?launch=`` preset; ``package_id``, ``api_key`` and ``start_cycles``
    are what the person picks in the Marketplace (``start_cycles=False`` gives an install with errors).
    ``client`` is a ``django.test.Client`` to use (default: a new one, signed in as ``user``).

    The kit verifies results and sends its signals after commit, outside the door that took the result. Inside
    a test's transaction (pytest-django's ``db``, Django's ``TestCase``) nothing commits, so the delivery runs
    under ``TestCase.captureOnCommitCallbacks(execute=True)`` and the kit settles it at once, in this thread;
    with a transactional database it settles in the kit's threads (``CYCLR_PROXY["TASK_BACKEND"]`` None),
    and this waits for them.
    """
    client = client or Client()
    client.force_login(user)
    query = {"mode": mode}
    if marketplace is not None:
        query["marketplace"] = marketplace
    if launch is not None:
        query["launch"] = launch
    try:
        launch_url = reverse("proxy:launch")
    except NoReverseMatch:
        raise InstallFailed('proxy:launch has no URL: add path("proxy/", include("proxy.urls")) to your '
                            "ROOT_URLCONF.") from None
    page = client.get(f"{launch_url}?{urlencode(query)}")
    launch_id, marketplace_url, nonce = _opened_launch(page)
    if launch is not None:  # a LAUNCH preset: Cyclr's LAUNCH page installs what the preset's tags choose
        result = launch_over_http(marketplace_url, api_key=api_key)
    else:
        result = install_over_http(marketplace_url, package_id=package_id, api_key=api_key, start_cycles=start_cycles)

    message = {"type": "result", "id": uuid.uuid4().hex, "result": result}
    if nonce:  # redirect and direct modes end on proxy:complete, bound by what the window kept
        delivery_url = reverse("proxy:complete")
        message.update(launch=str(launch_id), nonce=nonce)
    else:
        delivery_url = reverse("proxy:result", args=[launch_id])
    with _run_on_commit_callbacks():
        answer = client.post(delivery_url, message, content_type="application/json")
    if answer.status_code != 200 or answer.json().get("type") != "ack":
        raise InstallFailed(f"The kit refused the install's result ({answer.status_code}): {answer.content.decode()[:500]}")
    # The door answered "received"; the kit settles the result after the ack (in its own threads by default).
    if not drain(timeout=60):
        raise InstallFailed("The kit was still verifying the result with the fake Cyclr after 60 s.")
    settled = Launch.objects.get(pk=launch_id)
    if settled.status == Launch.Status.RECEIVED and not settled.last_attempt_error_code:
        if proxy_settings.TASK_BACKEND is not None:
            raise InstallFailed(
                f"The result was stored and its settling enqueued on the task backend "
                f"{proxy_settings.TASK_BACKEND!r}, whose worker this test does not run, so no receiver ran. "
                'Set CYCLR_PROXY["TASK_BACKEND"] to None (settle in this process) or to an ImmediateBackend '
                "alias of TASKS in your test settings.")
        raise InstallFailed(
            "The result was stored but never verified, so no receiver ran: the kit settles it after commit, "
            "and the transaction that holds this test never committed. Use pytest-django's "
            "db or transactional_db fixture (or django_db mark), not a transaction of your own around cyclr_install."
        )
    return settled


def _opened_launch(page):
    """``(launch id, Marketplace URL, nonce or None)`` from ``proxy:launch``'s answer, or ``InstallFailed`` saying why not."""
    if page.status_code in (301, 302):
        raise InstallFailed(f"proxy:launch redirected to {page.get('Location')}: is the user active, and is "
                            "LOGIN_URL a page that exists?")
    if page.status_code != 200:
        raise InstallFailed(f"proxy:launch answered {page.status_code}: {page.content.decode()[:500]}")
    context = page.context
    if context is None:
        raise InstallFailed("The test client kept no template context: call cyclr_install from a test run by "
                            "pytest-django or Django's test runner (they set up the test environment).")
    if context.get("redirect_config"):
        config = context["redirect_config"]
        return uuid.UUID(config["launch"]), config["url"], config.get("nonce")
    return context["launch"].pk, context["marketplace_url"], None


def in_test_case_transaction(using=DEFAULT_DB_ALIAS):
    """True if the transactions open on ``using`` are only the test case's own (pytest-django's ``db``, Django's
    ``TestCase``), not one the test opened itself.

    Django lets a durable atomic block (``atomic(durable=True)``) open right inside a test case's transaction,
    as if it were outermost, and raises ``RuntimeError`` inside any other atomic block: that tells them apart.
    """
    if not connections[using].in_atomic_block:
        return False
    try:
        with transaction.atomic(using=using, durable=True):
            pass
    except RuntimeError:  # "A durable atomic block cannot be nested within another atomic block."
        return False
    return True


class _run_on_commit_callbacks:
    """Run the block's on-commit callbacks at its end when it sits in a test case's transaction (which never commits)."""

    def __init__(self, using=DEFAULT_DB_ALIAS):
        self.using = using
        self._capture = None

    def __enter__(self):
        # Only the test's own transaction: callbacks of a transaction the test opened itself run when it
        # commits, and running them here too would settle the launch inside that transaction.
        if in_test_case_transaction(self.using):
            self._capture = TestCase.captureOnCommitCallbacks(using=self.using, execute=True)
            self._capture.__enter__()
        return self

    def __exit__(self, *exc_info):
        if self._capture is not None:
            return self._capture.__exit__(*exc_info)
        return None
