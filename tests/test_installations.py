"""The installation records over an integration's whole life: notifications from the real fake Cyclr
(sent over HTTP to a live server in this process), reconciliation against its API, and the signals."""
import io
import json
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from proxy import signals
from proxy.cyclr import CyclrClient
from proxy.installations import CycleState, IntegrationEvent, apply_event, send_change_signal
from proxy.models import Installation, InstallationChange, InstallationCycle, Launch, ReceiverFailure
from proxy.reconcile import reconcile
from proxy.replay import replay_change
from proxy.services import accept_result

from .conftest import FAKE_CYCLR_OPTIONS

# What verification decides, not where it runs: settled at once, in the caller (an ImmediateBackend alias).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("immediate_tasks")]

SECRET = "whsec-lifecycle-0123456789abcdef"
LIFECYCLE = ("integration_uninstalled", "integration_started", "integration_stopped")


@pytest.fixture
def lifecycle_receivers():
    """An autospec'd receiver on each lifecycle signal, by signal name."""
    handlers = {}
    for name in LIFECYCLE:
        handler = mock.create_autospec(lambda sender, **kwargs: None)
        getattr(signals, name).connect(handler, dispatch_uid=f"test-{name}")
        handlers[name.removeprefix("integration_")] = handler
    yield handlers
    for name in LIFECYCLE:
        getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")


def calls(handlers):
    return {name: handler.call_count for name, handler in handlers.items()}


@pytest.fixture
def installed_receiver():
    """An autospec'd receiver on ``integration_installed``: installs no launch explains."""
    handler = mock.create_autospec(lambda sender, **kwargs: None)
    signals.integration_installed.connect(handler, dispatch_uid="test-integration_installed")
    yield handler
    signals.integration_installed.disconnect(dispatch_uid="test-integration_installed")


@pytest.fixture
def notifying(cyclr, settings, live_server):
    """The kit with a webhook secret, and the fake Cyclr sending its notifications to the live server."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    cyclr.set_notification_url(live_server.url + reverse("proxy:webhook", args=[SECRET]))
    return cyclr


@pytest.fixture
def installed_launch(installed, user, cyclr):
    """An install accepted and verified through accept_result; returns (launch, the fake's install id)."""

    def install(**kwargs):
        launch, data = installed(**kwargs)
        cyclr.notifier.join(timeout=15)  # the fake's own "installed" notification, if it sent one, has landed
        accept_result(launch.pk, data, source="socket", user=user)
        launch.refresh_from_db()
        assert launch.status == Launch.Status.COMPLETED, launch.failure_message
        return launch, cyclr.installs[-1]["id"]

    return install


def test_a_verified_install_is_recorded_with_its_cycles(installed_launch, cyclr):
    launch, install_id = installed_launch(package_id=2)

    installation = Installation.objects.get()
    assert (installation.cyclr_account_id, installation.package_id, installation.state) == (launch.cyclr_account_id, 2, "installed")
    assert installation.launch_id == launch.pk
    fake_cycles = {c["cycleId"]: c for c in cyclr.installs[-1]["cycles"]}
    assert {c.cycle_id: (c.status, c.template_id) for c in installation.cycles.all()} == {
        cycle_id: ("Active", c["templateId"]) for cycle_id, c in fake_cycles.items()}
    assert list(installation.changes.values_list("kind", "source")) == [("installed", "install")]


def last_answer(fake):
    """The kit's JSON answer to the fake's last notification."""
    return json.loads(fake.notifications[-1]["response"])


def test_stop_stop_start_uninstall_uninstall_signal_each_change_once(installed_launch, notifying, lifecycle_receivers, user):
    _, install_id = installed_launch()

    assert notifying.stop_install(install_id) == 200
    assert last_answer(notifying) == {"status": "recorded", "changes": ["stopped"]}
    assert notifying.send_notification(install_id, "stopped") == 200  # Cyclr repeating itself
    assert last_answer(notifying) == {"status": "recorded", "changes": []}
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 1}
    assert notifying.start_install(install_id) == 200
    assert notifying.send_notification(install_id, "started") == 200
    assert last_answer(notifying) == {"status": "recorded", "changes": []}
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 1, "stopped": 1}
    assert notifying.uninstall(install_id) == 200
    assert last_answer(notifying) == {"status": "recorded", "changes": ["uninstalled"]}
    assert notifying.send_notification(install_id, "uninstalled") == 200
    assert last_answer(notifying) == {"status": "recorded", "changes": []}
    assert calls(lifecycle_receivers) == {"uninstalled": 1, "started": 1, "stopped": 1}

    installation = Installation.objects.get()
    assert installation.state == "uninstalled" and installation.changed_by == "webhook"
    assert not installation.cycles.filter(removed_at__isnull=True).exists()
    kwargs = lifecycle_receivers["stopped"].call_args.kwargs
    assert kwargs["installation"].pk == installation.pk and kwargs["source"] == "webhook"
    event = kwargs["event"]
    assert isinstance(event, IntegrationEvent)
    assert (event.status, event.account_id, event.package_id) == ("stopped", installation.cyclr_account_id, 1)
    assert event.account_api_id == installation.account_api_id == f"user-{user.pk}"
    assert [c.status for c in event.cycles] == ["Stopped"] and event.raw["Status"] == "stopped"
    assert list(InstallationChange.objects.order_by("created_at").values_list("kind", flat=True)) == [
        "installed", "stopped", "started", "uninstalled"]


def test_a_reinstall_after_uninstall_is_installed_again(installed_launch, notifying, lifecycle_receivers):
    _, install_id = installed_launch()
    notifying.uninstall(install_id)
    _, install_id = installed_launch()

    installation = Installation.objects.get()
    assert installation.state == "installed"
    assert installation.cycles.filter(removed_at__isnull=True).count() == 1
    assert calls(lifecycle_receivers) == {"uninstalled": 1, "started": 0, "stopped": 0}


def test_an_install_no_launch_explains_sends_integration_installed_once(installed, cyclr, settings, live_server, user,
                                                                       installed_receiver, lifecycle_receivers):
    # Installed in Cyclr, but its launch expired before Cyclr's word came: no install_completed will ever report it.
    launch, _ = installed(package_id=2)
    Launch.objects.filter(pk=launch.pk).update(status=Launch.Status.EXPIRED, expires_at=timezone.now())
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    cyclr.set_notification_url(live_server.url + reverse("proxy:webhook", args=[SECRET]))
    install_id = cyclr.installs[-1]["id"]

    assert cyclr.send_notification(install_id, "installed") == 200
    assert last_answer(cyclr) == {"status": "recorded", "changes": ["installed"]}
    assert cyclr.send_notification(install_id, "installed") == 200  # Cyclr repeating itself
    assert last_answer(cyclr) == {"status": "recorded", "changes": []}

    installation = Installation.objects.get()
    assert installed_receiver.call_count == 1
    kwargs = installed_receiver.call_args.kwargs
    assert kwargs["installation"].pk == installation.pk and kwargs["source"] == "webhook"
    assert (kwargs["event"].status, kwargs["event"].package_id) == ("installed", 2)
    assert kwargs["event"].account_api_id == f"user-{user.pk}"
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 0}
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.EXPIRED
    assert InstallationChange.objects.get().signal_sent_at is not None
    assert run_replay() == 0 and installed_receiver.call_count == 1  # sent, so the sweeper has nothing to send


def test_a_launchs_own_install_sends_install_completed_and_no_integration_installed(installed_launch, installed_receiver,
                                                                                    completed_receiver):
    installed_launch()

    change = InstallationChange.objects.get()
    assert (change.kind, change.source, change.signal_sent_at) == ("installed", "install", None)
    assert completed_receiver.call_count == 1 and installed_receiver.call_count == 0
    # Neither the sweeper nor the admin's Replay sends it later.
    assert run_replay() == 0
    assert replay_change(change) == "no signal of its own: install_completed reports a launch's install"
    assert installed_receiver.call_count == 0 and completed_receiver.call_count == 1


def run_replay():
    try:
        call_command("proxy_replay", stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit as exc:
        return exc.code
    return 0


def test_two_installs_of_one_package_each_uninstalled_in_turn(installed_launch, notifying, lifecycle_receivers):
    """One account, one package, installed twice: one installation holding both installs' cycles."""
    _, first = installed_launch()
    _, second = installed_launch()
    first_cycle, second_cycle = (notifying.state.get_install(i)["cycles"][0]["cycleId"] for i in (first, second))
    installation = Installation.objects.get()
    assert set(installation.cycles.values_list("cycle_id", flat=True)) == {first_cycle, second_cycle}

    assert notifying.uninstall(first) == 200

    installation.refresh_from_db()
    assert installation.state == "installed" and installation.is_running
    assert list(installation.cycles.filter(removed_at__isnull=True).values_list("cycle_id", flat=True)) == [second_cycle]
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 0}
    assert run_reconcile()[1].startswith("Reconciled 1 account(s): made 0 change(s)")  # Cyclr agrees

    assert notifying.uninstall(second) == 200

    installation.refresh_from_db()
    assert installation.state == "uninstalled" and not installation.cycles.filter(removed_at__isnull=True).exists()
    assert calls(lifecycle_receivers) == {"uninstalled": 1, "started": 0, "stopped": 0}
    event = lifecycle_receivers["uninstalled"].call_args.kwargs["event"]
    assert [c.cycle_id for c in event.cycles] == [second_cycle]
    code, out, _ = run_reconcile()
    assert code == 0 and "made 0 change(s)" in out
    assert calls(lifecycle_receivers) == {"uninstalled": 1, "started": 0, "stopped": 0}
    assert list(InstallationChange.objects.order_by("created_at").values_list("kind", flat=True)) == [
        "installed", "uninstalled"]


def test_two_installs_of_one_package_the_installation_runs_while_either_does(installed_launch, notifying, lifecycle_receivers):
    _, first = installed_launch()
    _, second = installed_launch()

    assert notifying.stop_install(first) == 200  # the other install still runs: the integration did not stop
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 0}
    assert sorted(InstallationCycle.objects.values_list("status", flat=True)) == ["Active", "Stopped"]
    assert notifying.stop_install(second) == 200
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 1}
    assert notifying.start_install(first) == 200
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 1, "stopped": 1}
    assert notifying.uninstall(first) == 200  # what ran is gone, what is left is stopped: it stopped running
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 1, "stopped": 2}
    assert Installation.objects.get().state == "installed" and not Installation.objects.get().is_running
    assert run_reconcile()[0] == 0 and calls(lifecycle_receivers) == {"uninstalled": 0, "started": 1, "stopped": 2}


def test_a_new_install_that_starts_a_stopped_installation_says_so(installed_launch, lifecycle_receivers):
    installed_launch(start_cycles=False)  # installed, nothing running
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 0}

    launch, _ = installed_launch()  # the same package again, started: now the installation runs

    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 1, "stopped": 0}
    kwargs = lifecycle_receivers["started"].call_args.kwargs
    assert kwargs["source"] == "install" and kwargs["installation"].launch_id == launch.pk


def test_an_uninstall_that_names_no_cycle_uninstalls_the_package(installed_launch, lifecycle_receivers):
    installed_launch()
    installation = Installation.objects.get()
    # As Cyclr's notification names the account: by its API id (its GUID beside it, which the kit may not know yet).
    package_only = IntegrationEvent(status="uninstalled", account_id=installation.cyclr_account_id,
                                    account_api_id=installation.account_api_id, package_id=installation.package_id)

    changes = apply_event(package_only, source="webhook")

    assert [change.kind for change in changes] == ["uninstalled"]
    assert Installation.objects.get().state == "uninstalled" and installation.cycles.get().removed_at is not None
    assert calls(lifecycle_receivers)["uninstalled"] == 1
    assert apply_event(package_only, source="webhook") == []  # a repeat changes nothing
    assert calls(lifecycle_receivers)["uninstalled"] == 1


def test_a_lifecycle_signal_goes_out_after_commit_and_never_for_a_rollback(installed_launch, lifecycle_receivers):
    installed_launch()
    installation = Installation.objects.get()
    cycle = installation.cycles.get()
    stopped = IntegrationEvent(status="stopped", account_id=installation.cyclr_account_id,
                               account_api_id=installation.account_api_id, package_id=installation.package_id,
                               cycles=(CycleState(cycle_id=cycle.cycle_id, status="Stopped"),))

    with pytest.raises(RuntimeError), transaction.atomic():  # the caller's transaction fails after the change
        assert [c.kind for c in apply_event(stopped, source="webhook")] == ["stopped"]
        raise RuntimeError("the caller failed")

    assert calls(lifecycle_receivers)["stopped"] == 0  # the change never happened: no signal for it
    assert InstallationCycle.objects.get().status == "Active" and not InstallationChange.objects.filter(kind="stopped").exists()

    during = []
    with transaction.atomic():
        apply_event(stopped, source="webhook")
        during.append(calls(lifecycle_receivers)["stopped"])
    assert during == [0]  # not while the change could still be rolled back
    assert calls(lifecycle_receivers)["stopped"] == 1  # once it committed
    assert InstallationChange.objects.get(kind="stopped").signal_sent_at is not None


def test_proxy_replay_exits_1_while_a_lifecycle_receiver_is_still_failing(installed_launch, notifying):
    # The exit code means the same for every command (proxy_reconcile exits 1 on errors).
    _, install_id = installed_launch()

    def down(sender, **kwargs):
        raise RuntimeError("the CRM is down")

    signals.integration_stopped.connect(down, dispatch_uid="test-down")
    try:
        notifying.stop_install(install_id)
        change = ReceiverFailure.objects.get().change
        err = io.StringIO()
        with mock.patch("proxy.replay.import_string", return_value=down), pytest.raises(SystemExit) as exited:
            call_command("proxy_replay", stdout=io.StringIO(), stderr=err)
    finally:
        signals.integration_stopped.disconnect(dispatch_uid="test-down")
    assert exited.value.code == 1
    assert f"error: installation change {change.pk}: a receiver is still failing" in err.getvalue()


def test_a_failing_lifecycle_receiver_is_recorded_and_replayed(installed_launch, notifying):
    _, install_id = installed_launch()
    seen = []

    def flaky(sender, **kwargs):
        seen.append(kwargs["event"].status)
        if len(seen) == 1:
            raise RuntimeError("the CRM is down")

    signals.integration_stopped.connect(flaky, dispatch_uid="test-flaky")
    try:
        notifying.stop_install(install_id)
        failure = ReceiverFailure.objects.get()
        assert failure.change.kind == "stopped" and failure.launch is None and "the CRM is down" in failure.traceback
        # A module-level name is what replay imports; point it at this receiver.
        with mock.patch("proxy.replay.import_string", return_value=flaky):
            assert replay_change(failure.change) == "1 receiver(s) rerun, 0 still failing"
    finally:
        signals.integration_stopped.disconnect(dispatch_uid="test-flaky")
    failure.refresh_from_db()
    assert failure.resolved_at is not None and seen == ["stopped", "stopped"]


def test_a_process_dying_before_a_change_signal_went_out_loses_no_signal(installed_launch, notifying, lifecycle_receivers):
    _, install_id = installed_launch()
    with mock.patch("proxy.installations.send_change_signal"):  # dies right after the change committed
        assert notifying.stop_install(install_id) == 200
    change = InstallationChange.objects.get(kind="stopped")
    assert change.signal_sent_at is None and calls(lifecycle_receivers)["stopped"] == 0

    out = io.StringIO()
    call_command("proxy_replay", stdout=out)
    assert calls(lifecycle_receivers)["stopped"] == 1, out.getvalue()
    change.refresh_from_db()
    assert change.signal_sent_at is not None and change.signal_claimed_at is not None
    call_command("proxy_replay", stdout=io.StringIO())  # sent and marked: not again
    assert calls(lifecycle_receivers)["stopped"] == 1


def test_a_process_dying_while_a_change_signal_runs_leaves_it_to_the_sweeper_once_its_claim_is_stale(
        installed_launch, notifying, lifecycle_receivers):
    _, install_id = installed_launch()
    with mock.patch("proxy.installations.send_change_signal"):
        notifying.stop_install(install_id)
    change = InstallationChange.objects.get(kind="stopped")
    with mock.patch("proxy.installations.run_receivers", side_effect=SystemExit("killed")), pytest.raises(SystemExit):
        send_change_signal(change.pk)  # claimed, then the process dies among the receivers
    change.refresh_from_db()
    assert change.signal_claimed_at is not None and change.signal_sent_at is None  # not marked: not lost

    assert replay_change(change) == "signal being sent by another process"  # a fresh claim: maybe still running
    call_command("proxy_replay", stdout=io.StringIO())
    assert calls(lifecycle_receivers)["stopped"] == 0

    InstallationChange.objects.filter(pk=change.pk).update(signal_claimed_at=timezone.now() - timedelta(minutes=10))
    call_command("proxy_replay", stdout=io.StringIO())  # its sender is taken for dead: sent
    assert calls(lifecycle_receivers)["stopped"] == 1
    change.refresh_from_db()
    assert change.signal_sent_at is not None


# --- reconciliation ------------------------------------------------------------------------------------


def run_reconcile(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("proxy_reconcile", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_reconcile_repairs_status_drift_once_and_is_idempotent(installed_launch, cyclr, lifecycle_receivers):
    _, install_id = installed_launch()
    cyclr.stop_install(install_id)  # no Notification URL: the kit never heard of it

    code, out, _ = run_reconcile()

    assert code == 0 and "is Stopped in Cyclr, recorded as Active" in out
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 1}
    assert lifecycle_receivers["stopped"].call_args.kwargs["source"] == "reconcile"
    assert InstallationCycle.objects.get().status == "Stopped"
    code, out, _ = run_reconcile()
    assert code == 0 and "made 0 change(s)" in out
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 1}


def test_reconcile_repairs_drift_towards_started(installed_launch, cyclr, lifecycle_receivers):
    _, install_id = installed_launch(start_cycles=False)  # installed stopped, and recorded so
    assert InstallationCycle.objects.get().status == "Stopped"
    cyclr.start_install(install_id)  # started in Cyclr; no Notification URL, so the kit never heard of it

    code, out, _ = run_reconcile()

    assert code == 0 and "is Active in Cyclr, recorded as Stopped" in out
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 1, "stopped": 0}
    kwargs = lifecycle_receivers["started"].call_args.kwargs
    assert kwargs["source"] == "reconcile" and kwargs["event"].status == "started"
    assert [c.status for c in kwargs["event"].cycles] == ["Active"]
    assert InstallationCycle.objects.get().status == "Active" and Installation.objects.get().is_running
    assert "made 0 change(s)" in run_reconcile()[1] and calls(lifecycle_receivers)["started"] == 1


def test_one_account_cyclr_cannot_read_does_not_stop_the_others_repairs(installed, cyclr, user, other_user, lifecycle_receivers):
    accepted = []
    for owner in (user, other_user):
        launch, data = installed(owner)
        accept_result(launch.pk, data, source="socket", user=owner)
        accepted.append((Launch.objects.get(pk=launch.pk), cyclr.installs[-1]["id"]))
    (mine, my_install), (theirs, their_install) = accepted
    for install_id in (my_install, their_install):
        cyclr.stop_install(install_id)  # both drifted
    cyclr.failing_accounts.add(theirs.account_api_id)  # Cyclr answers 500 for that account alone

    code, out, err = run_reconcile()

    assert code == 1
    assert f"error: {theirs.account_api_id}: Cyclr answered 500" in err
    assert f"{mine.account_api_id}: cycle " in out and "is Stopped in Cyclr" in out
    assert out.rstrip().endswith(f"1 error(s). Not reconciled: {theirs.account_api_id}.")
    assert "Reconciled 2 account(s): made 1 change(s)" in out
    statuses = dict(InstallationCycle.objects.values_list("installation__account_api_id", "status"))
    assert statuses == {mine.account_api_id: "Stopped", theirs.account_api_id: "Active"}  # theirs: next run
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 1}
    assert lifecycle_receivers["stopped"].call_args.kwargs["installation"].account_api_id == mine.account_api_id

    cyclr.failing_accounts.clear()
    code, out, _ = run_reconcile()
    assert code == 0 and "made 1 change(s)" in out and calls(lifecycle_receivers)["stopped"] == 2


def test_reconcile_puts_back_a_cycle_recorded_as_uninstalled_that_cyclr_still_lists(installed_launch, notifying, lifecycle_receivers):
    _, install_id = installed_launch()
    assert notifying.send_notification(install_id, "uninstalled") == 200  # said, but not done: Cyclr still has it
    assert Installation.objects.get().state == "uninstalled"

    code, out, _ = run_reconcile()

    assert code == 0 and "1 cycle in Cyclr is recorded as uninstalled: Sync Salesforce contacts." in out
    installation = Installation.objects.get()
    assert installation.state == "installed" and installation.cycles.get().removed_at is None
    assert installation.changes.order_by("-created_at").values_list("kind", "source")[0] == ("installed", "reconcile")
    assert calls(lifecycle_receivers) == {"uninstalled": 1, "started": 0, "stopped": 0}
    assert "made 0 change(s)" in run_reconcile()[1]


def test_reconcile_uninstalls_what_cyclr_no_longer_lists(installed_launch, cyclr, lifecycle_receivers):
    _, install_id = installed_launch(package_id=2)
    cyclr.uninstall(install_id)

    code, out, _ = run_reconcile()

    assert code == 0 and "2 cycles of package 2" in out
    assert Installation.objects.get().state == "uninstalled"
    assert calls(lifecycle_receivers) == {"uninstalled": 1, "started": 0, "stopped": 0}
    assert run_reconcile()[0] == 0 and calls(lifecycle_receivers)["uninstalled"] == 1


def test_reconcile_records_cycles_it_had_no_record_of(installed, cyclr, lifecycle_receivers, installed_receiver):
    launch, _ = installed(package_id=3)  # installed in Cyclr; the result never reached the kit
    Launch.objects.filter(pk=launch.pk).update(status=Launch.Status.FAILED)  # the kit knows the account only

    code, out, _ = run_reconcile("--account", launch.account_api_id)

    assert code == 0 and "1 cycle in Cyclr had no record: Hourly Slack summary" in out
    cycle = InstallationCycle.objects.get()
    assert cycle.cycle_id == cyclr.installs[-1]["cycles"][0]["cycleId"] and cycle.status == "Active"
    assert cycle.installation.package_id == 0 and cycle.name == "Hourly Slack summary"
    assert calls(lifecycle_receivers) == {"uninstalled": 0, "started": 0, "stopped": 0}
    # An install the kit learns of only from Cyclr's list: integration_installed, once, from reconcile.
    assert installed_receiver.call_count == 1
    assert installed_receiver.call_args.kwargs["source"] == "reconcile"
    assert installed_receiver.call_args.kwargs["installation"].pk == cycle.installation.pk
    assert "made 0 change(s)" in run_reconcile()[1]
    assert installed_receiver.call_count == 1


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(installed_launch, launch_for, user, cyclr, lifecycle_receivers):
    _, install_id = installed_launch()
    cyclr.stop_install(install_id)
    stale, _ = launch_for(user)  # opened, never used
    Launch.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    code, out, _ = run_reconcile("--dry-run")

    assert code == 0 and "would make 1 change(s); would close 1 expired launch(es)" in out
    assert InstallationCycle.objects.get().status == "Active"
    assert Launch.objects.get(pk=stale.pk).status == "pending"
    assert not any(calls(lifecycle_receivers).values())


def test_reconcile_closes_expired_launches_and_verifies_unverified_results(installed, launch_for, cyclr, user, completed_receiver):
    stale, _ = launch_for(user)  # opened, never used
    Launch.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    launch, data = installed()
    cyclr.api_down = True  # verification cannot ask Cyclr
    accept_result(launch.pk, data, source="socket", user=user)
    cyclr.api_down = False
    assert Launch.objects.get(pk=launch.pk).last_attempt_error_code == "cyclr_api_error"

    code, out, _ = run_reconcile()  # within its backoff: left alone, and its cycle left for it to record

    assert code == 0 and "closed 1 expired launch(es); settled 0 unverified result(s), 0 left" in out
    assert Launch.objects.get(pk=launch.pk).status == "received" and not Installation.objects.exists()
    Launch.objects.filter(pk=launch.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))  # it passed

    code, out, _ = run_reconcile()

    assert code == 0 and "closed 0 expired launch(es); settled 1 unverified result(s), 0 left" in out
    assert Launch.objects.get(pk=stale.pk).status == "expired"
    assert Launch.objects.get(pk=launch.pk).status == "completed"
    assert completed_receiver.call_count == 1
    assert Installation.objects.get().launch_id == launch.pk


def test_an_expired_launch_refuses_a_late_result(installed, user):
    launch, data = installed()
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    run_reconcile()
    from proxy.exceptions import LaunchRejected

    with pytest.raises(LaunchRejected) as refused:
        accept_result(launch.pk, data, source="socket", user=user)
    assert refused.value.code == "expired"


def test_reconcile_exits_1_and_says_why_when_cyclr_cannot_be_asked(installed_launch, settings):
    installed_launch()
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "API_URL": "http://127.0.0.1:9", "API_TIMEOUT": 0.5}
    CyclrClient.forget_tokens()

    code, out, err = run_reconcile()

    assert code == 1 and "error: " in err and "could not be reached" in err
    assert "1 error(s)" in out
    assert Installation.objects.get().state == "installed"


@pytest.mark.parametrize("fake_cyclr_options", [{**FAKE_CYCLR_OPTIONS, "max_page_size": 1}])
def test_reconcile_is_bounded_in_api_calls(installed_launch, cyclr):
    installed_launch(package_id=2)  # two cycles; this Cyclr lists one a page
    report = reconcile(max_pages=1)
    assert not report.ok and "on all 1 pages read for this account without an empty one" in report.errors[0]


@pytest.mark.parametrize("fake_cyclr_options", [{**FAKE_CYCLR_OPTIONS, "max_page_size": 1}])
def test_a_cyclr_that_gives_shorter_pages_than_asked_loses_no_install(installed_launch, cyclr):
    # No maximum pageSize is documented: a page shorter than asked is not the last, only an empty one is.
    installed_launch(package_id=2)  # two cycles; this Cyclr lists one a page, whatever pageSize says
    before = len(cyclr.api_calls)
    report = reconcile()
    assert report.ok and report.changes == 0, report.lines
    assert cycle_calls(cyclr, before)[0] == 3  # two pages of one, then the empty one
    assert not InstallationCycle.objects.filter(removed_at__isnull=False).exists()
    assert Installation.objects.get().state == "installed"


def cycle_calls(fake, since=0):
    """The fake's Partner API calls since the ``since``-th: ``(cycle list pages, single-cycle reads)``."""
    made = fake.api_calls[since:]
    return (sum(1 for method, path in made if (method, path) == ("GET", "/v1.0/cycles")),
            sum(1 for method, path in made if method == "GET" and path.startswith("/v1.0/cycles/")))


@pytest.mark.parametrize("max_pages, pages_read, ok", [(1, 1, False), (2, 2, False), (3, 3, True)])
def test_max_pages_bounds_the_cycle_list_calls_per_account(installed_launch, cyclr, monkeypatch, max_pages, pages_read, ok):
    installed_launch(package_id=2)  # two cycles: with pages of one, a third page (empty) says the list is complete
    monkeypatch.setattr("proxy.reconcile.PAGE_SIZE", 1)
    before = len(cyclr.api_calls)

    code, out, err = run_reconcile("--max-pages", str(max_pages))

    assert cycle_calls(cyclr, before)[0] == pages_read
    assert (code == 0) is ok
    if not ok:  # a partial list would make the unlisted cycle look uninstalled: nothing is changed
        assert f"on all {max_pages} pages read" in err and "made 0 change(s)" in out
        assert not InstallationCycle.objects.filter(removed_at__isnull=False).exists()


def test_reconcile_settles_at_most_max_settlements_due_results_and_says_how_many_are_left(installed, cyclr, user):
    launches = []
    for _ in range(4):
        launch, data = installed()
        cyclr.api_down = True  # verification cannot reach Cyclr: each stays received, with a backoff
        accept_result(launch.pk, data, source="socket", user=user)
        cyclr.api_down = False
        launches.append(Launch.objects.get(pk=launch.pk))
    assert {(launch.failure_code, launch.last_attempt_error_code) for launch in launches} == {("", "cyclr_api_error")}
    due, waiting = launches[:3], launches[3]
    Launch.objects.filter(pk__in=[launch.pk for launch in due]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))  # their backoff has passed; the last one's has not
    before = len(cyclr.api_calls)

    code, out, _ = run_reconcile("--max-settlements", "2")

    assert code == 0 and "settled 2 unverified result(s), 1 left for the next run" in out
    assert cycle_calls(cyclr, before)[1] == 2  # one verification call per settled result (one cycle each), no more
    assert [Launch.objects.get(pk=launch.pk).status for launch in launches] == ["completed", "completed", "received", "received"]
    assert Launch.objects.get(pk=waiting.pk).settle_attempts == 1  # within its backoff: not tried again

    before = len(cyclr.api_calls)
    code, out, _ = run_reconcile("--max-settlements", "2")

    assert code == 0 and "settled 1 unverified result(s), 0 left for the next run" in out
    assert cycle_calls(cyclr, before)[1] == 1
    assert Launch.objects.get(pk=launches[2].pk).status == "completed"
    assert Launch.objects.get(pk=waiting.pk).status == "received"


def test_reconcile_leaves_a_result_in_flight_elsewhere_alone(installed, cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "TASK_BACKEND": None}  # settled in the kit's threads
    launch, data = installed()
    cyclr.cycle_gate.close()  # that settlement is asking Cyclr right now
    try:
        accept_result(launch.pk, data, source="socket", user=user)
        assert cyclr.cycle_gate.wait_for_held(1)
        before = len(cyclr.api_calls)
        code, out, _ = run_reconcile()
        assert code == 0 and "settled 0 unverified result(s), 0 left" in out
        assert cycle_calls(cyclr, before)[1] == 0  # no second verification of the same result
    finally:
        cyclr.cycle_gate.open()


def test_max_settlements_must_be_at_least_one(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="less than 1"):
        call_command("proxy_reconcile", "--max-settlements", "0")


def test_reconcile_when_cyclr_lists_no_cycles_for_an_unknown_account(cyclr, installed):
    launch, _ = installed()
    code, out, err = run_reconcile("--account", "nobody-here")
    assert code == 1 and "nobody-here" in err


# --- the client's cycle calls ----------------------------------------------------------------------------


def test_the_client_stops_and_starts_a_cycle_and_lists_every_page(installed_launch, cyclr, notifying, lifecycle_receivers):
    launch, _ = installed_launch(package_id=2)
    client = CyclrClient()
    cycles = client.account_cycles(account=launch.x_cyclr_account, page_size=1)
    assert len(cycles) == 2 and {c["Status"] for c in cycles} == {"Active"}

    client.deactivate_cycle(cycles[0]["Id"], account=launch.x_cyclr_account)
    assert cyclr.cycles[cycles[0]["Id"]]["Status"] == "Stopped"
    client.activate_cycle(cycles[0]["Id"], account=launch.x_cyclr_account, interval=60, run_once=False)
    assert cyclr.cycles[cycles[0]["Id"]]["Status"] == "Active"
    assert cyclr.activations == [{"cycle_id": cycles[0]["Id"], "account_id": cyclr.accounts[launch.account_api_id]["Id"],
                                  "body": {"Interval": 60, "RunOnce": False}}]
    assert cyclr.wait_for_notifications(2)


@pytest.mark.parametrize("act", [
    lambda client, cycle_id, account: client.activate_cycle(cycle_id, account=account, interval=15),
    lambda client, cycle_id, account: client.deactivate_cycle(cycle_id, account=account),
], ids=["activate", "deactivate"])
def test_acting_on_a_cycle_cyclr_does_not_know_is_cycle_not_found(cyclr, installed_launch, act):
    from proxy import errors
    from proxy.exceptions import CyclrAPIError

    launch, install_id = installed_launch()
    cyclr.uninstall(install_id)  # gone from Cyclr since the host last looked
    (gone,) = [c["cycleId"] for c in cyclr.installs[-1]["cycles"]]

    with pytest.raises(CyclrAPIError) as missing:
        act(CyclrClient(), gone, launch.x_cyclr_account)

    assert (missing.value.code, missing.value.status) == ("cycle_not_found", 404)
    assert "Cycle not found" in missing.value.message  # Cyclr's own Message, for the log
    assert errors.status_of("cycle_not_found") == 404 and "Cyclr does not know this cycle" in errors.default_message("cycle_not_found")
    assert cyclr.activations == []


def test_another_cyclr_error_on_a_cycle_stays_cyclr_api_error(cyclr, installed_launch):
    from proxy.exceptions import CyclrAPIError

    launch, install_id = installed_launch()
    cycle_id = cyclr.installs[-1]["cycles"][0]["cycleId"]
    cyclr.failing_accounts.add(launch.account_api_id)

    with pytest.raises(CyclrAPIError) as failed:
        CyclrClient().deactivate_cycle(cycle_id, account=launch.x_cyclr_account)

    assert (failed.value.code, failed.value.status) == ("cyclr_api_error", 500)
    assert cyclr.cycles[cycle_id]["Status"] == "Active"


# --- the admin ---------------------------------------------------------------------------------------------


def test_the_admin_lists_installations_with_their_cycles_and_changes(installed_launch, admin_client):
    installed_launch()
    installation = Installation.objects.get()

    listing = admin_client.get(reverse("admin:proxy_installation_changelist"))
    page = admin_client.get(reverse("admin:proxy_installation_change", args=[installation.pk]))

    assert listing.status_code == 200 and installation.account_api_id in listing.content.decode()
    assert page.status_code == 200 and installation.cycles.get().cycle_id in page.content.decode()
    change = installation.changes.get()
    assert admin_client.get(reverse("admin:proxy_installationchange_change", args=[change.pk])).status_code == 200


def test_the_admin_lists_installation_changes_and_replays_a_signal_that_never_went_out(
        installed_launch, admin_client, lifecycle_receivers):
    installed_launch()
    installation = Installation.objects.get()
    stopped = IntegrationEvent(status="stopped", account_id=installation.cyclr_account_id,
                               account_api_id=installation.account_api_id, package_id=installation.package_id,
                               cycles=(CycleState(cycle_id=installation.cycles.get().cycle_id, status="Stopped"),))
    with mock.patch("proxy.installations.send_change_signal"):  # the process died before the signal went out
        (change,) = apply_event(stopped, source="webhook")
    changelist = reverse("admin:proxy_installationchange_changelist")

    listing = admin_client.get(changelist)

    assert listing.status_code == 200
    page = listing.content.decode()
    assert str(installation) in page and ">Stopped<" in page and ">Installed<" in page
    assert calls(lifecycle_receivers)["stopped"] == 0

    replayed = admin_client.post(changelist, {"action": "replay", "_selected_action": [change.pk]}, follow=True)

    assert replayed.status_code == 200
    assert f"Change {change.pk}: signal sent, 0 receiver(s) failing" in [str(m) for m in replayed.context["messages"]]
    assert calls(lifecycle_receivers)["stopped"] == 1
    assert lifecycle_receivers["stopped"].call_args.kwargs["event"] == stopped
    change.refresh_from_db()
    assert change.signal_sent_at is not None

    again = admin_client.post(changelist, {"action": "replay", "_selected_action": [change.pk]}, follow=True)
    assert f"Change {change.pk}: 0 receiver(s) rerun, 0 still failing" in [str(m) for m in again.context["messages"]]
    assert calls(lifecycle_receivers)["stopped"] == 1  # sent once


# --- LAUNCH and ORBIT at the fake Cyclr, through the client ------------------------------------------------


def test_a_launch_url_installs_the_tagged_template_and_gives_a_launch_result(cyclr):
    from proxy.results import InstallResult
    from proxy.testing.marketplace import launch_over_http

    minted = CyclrClient().mint_launch_url("acct-launch", tags=["email"], complete_parameter="signed-id")
    result = launch_over_http(minted.url)

    parsed = InstallResult.parse(result)
    assert parsed.flow == "launch" and parsed.complete_parameter == "signed-id"
    assert len(parsed.cycles) == 1 and parsed.cycles[0].status == "Active"
    assert all(isinstance(url, str) for url in result["webhooks"]) and result["webhooks"]
    assert cyclr.cycles[result["cycleId"]]["Name"] == "Add customers to Mailchimp"
    assert minted.account_id == "acct-launch"  # the API id, as the LAUNCH pages show (CustomerXYZ)
    assert result["accountApiId"] == "acct-launch" and result["accountId"] == cyclr.accounts["acct-launch"]["Id"]


def test_a_launch_url_works_once(cyclr):
    import requests

    from proxy.testing.marketplace import launch_over_http

    minted = CyclrClient().mint_launch_url("acct-launch", tags=["crm"], complete_parameter="x")
    launch_over_http(minted.url)
    assert requests.get(minted.url, timeout=10).status_code == 403


def test_launch_refuses_missing_tags(cyclr):
    from proxy.exceptions import CyclrAPIError

    with pytest.raises(CyclrAPIError) as refused:
        CyclrClient().mint_launch_url("acct-launch", tags=[], complete_parameter="x")
    assert refused.value.status == 400 and "Tags" in refused.value.message


def test_orbit_stops_starts_and_uninstalls_and_notifies(installed_launch, notifying, lifecycle_receivers):
    from proxy.testing.marketplace import orbit_over_http

    launch, install_id = installed_launch()
    for action, expected in (("stop", "stopped"), ("start", "started"), ("uninstall", "uninstalled")):
        orbit = CyclrClient().mint_orbit_url(launch.account_api_id)
        orbit_over_http(orbit.url, action=action, install_id=install_id)
        notifying.notifier.join(timeout=15)  # the notification ORBIT's change sent has been answered
        assert lifecycle_receivers[expected].call_count == 1
    assert Installation.objects.get().state == "uninstalled"
    assert notifying.cycles == {}


# --- proxy:orbit ---------------------------------------------------------------------------------------------


def test_the_orbit_page_frames_a_fresh_orbit_url_under_the_kits_csp(cyclr, user, client):
    client.force_login(user)

    response = client.get(reverse("proxy:orbit"))

    assert response.status_code == 200
    page = response.content.decode()
    assert f'src="{cyclr.url}/account/signinwithtoken?token=' in page and "returnUrl=%2Forbit" in page
    csp = response["Content-Security-Policy"]
    assert f"frame-src {cyclr.origin}" in csp and "script-src 'nonce-" in csp
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_orbit_page_needs_a_signed_in_person(cyclr, client):
    response = client.get(reverse("proxy:orbit"))
    assert response.status_code == 302 and "login" in response["Location"]


def orbit_close(client, body, content_type="application/x-www-form-urlencoded", **headers):
    """POST ``proxy:orbit`` as the ORBIT page's beacon does (a form, by default)."""
    return client.generic("POST", reverse("proxy:orbit"), body, content_type=content_type, **headers)


def test_closing_orbit_reconciles_the_account_and_reports_the_changes(installed_launch, cyclr, user, client, lifecycle_receivers):
    from proxy.testing.marketplace import orbit_over_http

    launch, install_id = installed_launch()
    orbit_over_http(CyclrClient().mint_orbit_url(launch.account_api_id).url, action="stop", install_id=install_id)
    client.force_login(user)

    answer = orbit_close(client, "").json()

    assert answer["type"] == "proxy.integrations.changed" and answer["ok"] is True
    assert any("is Stopped in Cyclr" in line for line in answer["changes"])
    assert lifecycle_receivers["stopped"].call_count == 1
    assert orbit_close(client, "").json()["changes"] == []


def test_closing_orbit_in_french_says_what_changed_in_french(installed_launch, cyclr, user, client):
    from django.utils import translation

    from proxy.testing.marketplace import orbit_over_http

    launch, install_id = installed_launch()
    orbit_over_http(CyclrClient().mint_orbit_url(launch.account_api_id).url, action="stop", install_id=install_id)
    client.force_login(user)

    try:
        answer = orbit_close(client, "", HTTP_ACCEPT_LANGUAGE="fr").json()
    finally:
        translation.deactivate()  # LocaleMiddleware left French active on this thread

    assert any(" est Stopped dans Cyclr, enregistré comme Active." in line for line in answer["changes"]), answer


def test_closing_orbit_answers_the_errors_sentences_not_a_count(installed_launch, cyclr, user, client):
    # Hostkit.manage() resolves with this answer, and a count told the person nothing.
    launch, _ = installed_launch()
    cyclr.failing_accounts.add(launch.account_api_id)  # Cyclr answers 500 for this account
    client.force_login(user)

    answer = orbit_close(client, "").json()

    assert answer["ok"] is False and answer["changes"] == []
    (error,) = answer["errors"]
    assert isinstance(error, str) and launch.account_api_id in error


def test_closing_orbit_is_csrf_protected(cyclr, user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    for body in ("", "csrfmiddlewaretoken=not-the-token"):
        answer = orbit_close(strict, body)
        assert answer.status_code == 403 and answer.json()["code"] == "csrf_failed"


def test_orbits_beacon_with_the_pages_token_is_taken_with_csrf_enforced(cyclr, user):
    """What orbit.js sends: a small form carrying the page's CSRF token (sendBeacon cannot set a header)."""
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    page = strict.get(reverse("proxy:orbit"))
    token = page.context["orbit_config"]["csrfToken"]

    answer = orbit_close(strict, f"csrfmiddlewaretoken={token}")
    with_header = orbit_close(strict, "", HTTP_X_CSRFTOKEN=token)

    assert answer.status_code == 200 and answer.json()["type"] == "proxy.integrations.changed"
    assert with_header.status_code == 200 and with_header.json()["type"] == "proxy.integrations.changed"


def test_the_orbit_window_s_answer_can_be_asked_again_by_its_session(installed_launch, cyclr, user, client):
    """If the push is lost, Hostkit.manage() asks proxy:orbit_changes for the answer its ORBIT window's close got."""
    from proxy.testing.marketplace import orbit_over_http

    launch, install_id = installed_launch()
    client.force_login(user)
    page = client.get(reverse("proxy:orbit"), {"session": "k3x9a"})
    assert page.context["orbit_config"]["session"] == "k3x9a"
    asked = client.get(reverse("proxy:orbit_changes", args=["k3x9a"]))
    assert asked.status_code == 404 and asked.json()["code"] == "orbit_unknown"  # not closed yet
    orbit_over_http(CyclrClient().mint_orbit_url(launch.account_api_id).url, action="stop", install_id=install_id)

    answer = orbit_close(client, "session=k3x9a").json()

    assert answer["session"] == "k3x9a" and any("is Stopped in Cyclr" in line for line in answer["changes"])
    assert client.get(reverse("proxy:orbit_changes", args=["k3x9a"])).json() == answer
    other = client.get(reverse("proxy:orbit_changes", args=["other1"]))
    assert other.status_code == 404 and other.json()["code"] == "orbit_unknown"


def test_the_orbit_answer_is_only_its_owner_s(installed_launch, cyclr, user, other_user, client):
    from django.test import Client

    installed_launch()
    client.force_login(user)
    orbit_close(client, "session=k3x9a")
    stranger = Client()
    stranger.force_login(other_user)

    assert stranger.get(reverse("proxy:orbit_changes", args=["k3x9a"])).status_code == 404
    signed_out = Client().get(reverse("proxy:orbit_changes", args=["k3x9a"]))
    assert signed_out.status_code == 302 and "login" in signed_out["Location"]


@pytest.mark.parametrize("session", ["", "UPPER", "a" * 33, "a-b", "é", "a\x00b"])
def test_an_orbit_session_that_is_not_one_is_dropped_and_nothing_is_kept(cyclr, user, client, session):
    from urllib.parse import quote

    client.force_login(user)
    page = client.get(reverse("proxy:orbit"), {"session": session})
    answer = orbit_close(client, "session=" + quote(session))

    assert page.context["orbit_config"]["session"] == "" and answer.json()["session"] == ""
    assert "proxy_orbit" not in client.session


@pytest.mark.parametrize("body, content_type, status, code", [
    ("&".join(["f"] * 1001), "application/x-www-form-urlencoded", 400, "malformed"),  # DATA_UPLOAD_MAX_NUMBER_FIELDS
    ("csrfmiddlewaretoken=t&pad=" + "x" * 5000, "application/x-www-form-urlencoded", 413, "too_large"),
    ('--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n1\r\n--b', "multipart/form-data; boundary=zz", 415,
     "unsupported_media_type"),
    ('{"csrfmiddlewaretoken": "t"}', "application/json", 415, "unsupported_media_type"),
    ("csrfmiddlewaretoken=caf\xe9", "application/x-www-form-urlencoded; charset=latin-1", 403, "csrf_failed"),
])
def test_a_bad_close_notice_gets_a_coded_json_refusal_and_reconciles_nothing(cyclr, user, body, content_type, status,
                                                                              code):
    """Django's CSRF middleware used to parse these as a form first and answer with its HTML 400."""
    from django.test import Client

    strict = Client(enforce_csrf_checks=True, raise_request_exception=False)
    strict.force_login(user)
    calls_before = len(cyclr.api_calls)

    answer = orbit_close(strict, body.encode("latin-1"), content_type)

    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert answer.json()["message"] and len(cyclr.api_calls) == calls_before


def test_closing_orbit_signed_out_or_with_another_method_is_answered_in_json(cyclr, client):
    signed_out = orbit_close(client, "csrfmiddlewaretoken=t")
    assert signed_out.status_code == 401 and signed_out.json()["code"] == "unauthenticated"
    put = client.put(reverse("proxy:orbit"))
    assert put.status_code == 405 and put.json()["code"] == "method_not_allowed" and put["Allow"] == "GET, POST"


def test_orbit_on_an_unlisted_origin_is_refused_with_a_page(cyclr, user, client, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_ORIGINS": ["https://elsewhere.example"]}
    client.force_login(user)
    response = client.get(reverse("proxy:orbit"))
    assert response.status_code == 500 and "not set up to manage integrations" in response.content.decode()
