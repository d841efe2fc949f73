"""The example host's backend handlers: record each verified install, start what needs starting, log its life."""
import logging

from django.conf import settings
from django.dispatch import receiver

from proxy.cyclr import CyclrClient
from proxy.signals import install_completed, integration_started, integration_stopped, integration_uninstalled

from .models import Integration

logger = logging.getLogger(__name__)


@receiver(install_completed, dispatch_uid="hostkit.record_integration")
def record_integration(sender, launch, result, source, **kwargs):
    # The verified result carries Cyclr's name for each cycle (asked at verification): no call needed here.
    # Idempotent, as a receiver must be (the signal is sent at least once across a crash), in one statement:
    # an INSERT that updates the launch's row if it is there already (ON CONFLICT), not a read then a write.
    Integration.objects.bulk_create(
        [Integration(
            launch_id=launch.id,
            user_id=launch.user_id,
            account_api_id=launch.account_api_id,
            package_id=result.marketplace_package_id,
            message=result.install_complete_message,
            cycles=[{"id": c.cycle_id, "name": c.name, "status": c.status} for c in result.cycles],
            errors=list(result.errors),
        )],
        update_conflicts=True, unique_fields=["launch_id"],
        update_fields=["user", "account_api_id", "package_id", "message", "cycles", "errors"],
    )


@receiver(install_completed, dispatch_uid="hostkit.activate_stopped_cycles")
def activate_stopped_cycles(sender, launch, result, source, **kwargs):
    """An install whose cycles were left stopped ("Start after installing" unticked) is started here.

    Off unless ``HOSTKIT_ACTIVATE_ON_INSTALL`` is set: it shows what a host does next with the
    verified result. Cyclr then notifies ``started``, which reaches ``integration_started``.
    """
    if not getattr(settings, "HOSTKIT_ACTIVATE_ON_INSTALL", False):
        return
    client = CyclrClient()
    for cycle in result.cycles:
        if cycle.status != "Active":
            client.activate_cycle(cycle.cycle_id, account=launch.x_cyclr_account, interval=60)
            logger.info("Started cycle %s of launch %s", cycle.cycle_id, launch.pk)


@receiver(integration_uninstalled, dispatch_uid="hostkit.log_uninstalled")
@receiver(integration_started, dispatch_uid="hostkit.log_started")
@receiver(integration_stopped, dispatch_uid="hostkit.log_stopped")
def log_lifecycle(sender, installation, event, source, **kwargs):
    logger.info("Integration %s: %s (from %s)", installation, event.status, source)
