from django.core.management.base import BaseCommand

from proxy.installations import SIGNALS
from proxy.models import InstallationChange, Launch
from proxy.replay import replay_change, replay_launch


class Command(BaseCommand):
    help = "Verify results left unverified and rerun signal receivers that raised."

    def add_arguments(self, parser):
        parser.add_argument("launch", nargs="*", help="Launch ids (default: every launch needing it).")

    def handle(self, *args, launch, **options):
        launches = Launch.objects.filter(pk__in=launch) if launch else (
            Launch.objects.filter(status=Launch.Status.RECEIVED)
            | Launch.objects.filter(receiver_failures__resolved_at__isnull=True)
        ).distinct()
        count = 0
        for item in launches:
            self.stdout.write(f"{item.pk}: {replay_launch(item)}")
            count += 1
        self.stdout.write(f"{count} launch(es) replayed.")
        if launch:
            return
        changes = (InstallationChange.objects.filter(signal_sent_at__isnull=True, kind__in=list(SIGNALS))
                   | InstallationChange.objects.filter(receiver_failures__resolved_at__isnull=True)).distinct()
        replayed = 0
        for change in changes:
            self.stdout.write(f"installation change {change.pk} ({change.kind}): {replay_change(change)}")
            replayed += 1
        self.stdout.write(f"{replayed} installation change(s) replayed.")
