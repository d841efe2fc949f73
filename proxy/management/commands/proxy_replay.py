import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from proxy.models import Launch
from proxy.replay import changes_needing_replay, launches_needing_replay, replay_change, replay_launch
from proxy.sweep import GRACE


RECEIVER_FAILING = "a receiver is still failing (its traceback is in the admin); fix it and run proxy_replay again."


class Command(BaseCommand):
    help = ("The sweeper, for cron: settle what did not settle. Verifies results left unverified (a process "
            "died, Cyclr was down) once their backoff has passed or they have been in flight longer than the "
            "grace period, sends signals that never went out, reruns signal receivers that raised, and sends "
            "installation changes' signals that never went out. Named launch ids are retried at once. Exits 1 "
            "while anything it took is left failing: a receiver still raising, or a result still unverified "
            "(Cyclr could not be asked), as proxy_reconcile exits 1 on errors, so cron can alert; 0 otherwise.")

    def add_arguments(self, parser):
        parser.add_argument("launch", nargs="*",
                            help="Launch ids to retry now, backoff and grace aside (default: every launch that is due).")
        parser.add_argument("--grace", type=float, default=GRACE.total_seconds(), metavar="SECONDS",
                            help="How long a verification may be in flight elsewhere (queued or running) before it is "
                                 f"taken for lost and done here (default: {GRACE.total_seconds():.0f}). A signal "
                                 "another process claimed is taken over after 5 minutes, whatever this says.")

    def handle(self, *args, launch, grace, **options):
        if grace < 0:
            raise CommandError("--grace is a number of seconds, 0 or more.")
        grace = timedelta(seconds=grace)
        ids = []
        for value in launch:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                raise CommandError(f"{value!r} is not a launch id: give the launch's UUID, as the admin shows it.") from None
        launches = Launch.objects.filter(pk__in=ids) if ids else launches_needing_replay(grace)
        failing = []  # (what, why) is left failing after this run: cron's exit status says so
        count = 0
        for item in launches:
            self.stdout.write(f"{item.pk}: {replay_launch(item)}")  # refreshes item
            count += 1
            if item.status == Launch.Status.RECEIVED:
                failing.append((f"launch {item.pk}", "its result is still unverified (Cyclr could not be asked); "
                                                     "proxy_replay retries it once due."))
            if _still_failing(item):
                failing.append((f"launch {item.pk}", RECEIVER_FAILING))
        self.stdout.write(f"{count} launch(es) replayed.")
        if not launch:
            replayed = 0
            for change in changes_needing_replay():
                self.stdout.write(f"installation change {change.pk} ({change.kind}): {replay_change(change)}")
                replayed += 1
                if _still_failing(change):
                    failing.append((f"installation change {change.pk}", RECEIVER_FAILING))
            self.stdout.write(f"{replayed} installation change(s) replayed.")
        for name, why in failing:
            self.stderr.write(f"error: {name}: {why}")
        if failing:
            raise SystemExit(1)


def _still_failing(item):
    """A launch or an installation change with a receiver failure not yet resolved."""
    return item.receiver_failures.filter(resolved_at__isnull=True).exists()
