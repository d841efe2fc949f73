"""The example host's backend handler: record each verified install for the Integrations page."""
import logging

from django.dispatch import receiver

from proxy.cyclr import CyclrClient
from proxy.exceptions import CyclrAPIError
from proxy.signals import install_completed

from .models import Integration

logger = logging.getLogger(__name__)


def cycle_name(client, cycle_id, account):
    """The cycle's name from Cyclr, or "" when Cyclr cannot say (a name is nice, not needed)."""
    try:
        cycle = client.get_cycle(cycle_id, account=account)
    except CyclrAPIError as exc:
        logger.warning("No name for cycle %s: %s", cycle_id, exc.message)
        return ""
    return (cycle or {}).get("Name", "")


@receiver(install_completed, dispatch_uid="hostkit.record_integration")
def record_integration(sender, launch, result, source, **kwargs):
    client = CyclrClient()
    account = launch.cyclr_account_id or launch.account_api_id
    Integration.objects.update_or_create(
        launch_id=launch.id,
        defaults={
            "user_id": launch.user_id,
            "cyclr_account_id": result.account_id,
            "package_id": result.marketplace_package_id,
            "message": result.install_complete_message,
            "cycles": [
                {"id": c.cycle_id, "name": cycle_name(client, c.cycle_id, account), "status": c.status}
                for c in result.cycles
            ],
            "errors": list(result.errors),
        },
    )
