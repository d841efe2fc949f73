"""Data migrations: what an upgrade does to rows an older kit stored."""
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone

from proxy.models import Launch

pytestmark = pytest.mark.django_db

attempt_error = import_module("proxy.migrations.0014_attempt_error_and_admin_help_texts")


def old_launch(user, status, failure_code="", failure_message=""):
    return Launch.objects.create(user=user, account_api_id="acct", marketplace_id=1, status=status,
                                 expires_at=timezone.now() + timedelta(minutes=5),
                                 failure_code=failure_code, failure_message=failure_message)


def test_0014_moves_verification_pending_out_of_the_failure_of_a_launch_that_did_not_fail(user):
    # Before 0014, a result Cyclr could not be asked about was stored as a failure of a launch still received.
    waiting = old_launch(user, "received", "verification_pending", "Cyclr's API could not be reached (ConnectTimeout).")
    failed = old_launch(user, "failed", "install_errors", "Cyclr reported that the install failed.")
    expired = old_launch(user, "expired", "expired", "No result arrived before the launch expired.")

    attempt_error.move_pending_out_of_failure(apps, None)

    waiting.refresh_from_db()
    assert (waiting.status, waiting.failure_code, waiting.failure_message) == ("received", "", "")
    assert waiting.last_attempt_error_code == "cyclr_api_error"
    assert waiting.last_attempt_error_message == "Cyclr's API could not be reached (ConnectTimeout)."
    for launch in (failed, expired):  # real failures stay where they are
        before = (launch.failure_code, launch.failure_message)
        launch.refresh_from_db()
        assert (launch.failure_code, launch.failure_message) == before and launch.last_attempt_error_code == ""

    attempt_error.move_pending_back(apps, None)  # the migration can be unapplied
    waiting.refresh_from_db()
    assert waiting.failure_code == "verification_pending"
    assert waiting.failure_message == "Cyclr's API could not be reached (ConnectTimeout)."
