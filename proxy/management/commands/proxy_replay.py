import uuid

from django.core.management.base import BaseCommand, CommandError

from proxy.models import Launch
from proxy.replay import changes_needing_replay, launches_needing_replay, replay_change, replay_launch


class Command(BaseCommand):
    help = ("Rerun signal receivers that raised and verify results left unverified. With no launch ids, only "
            "launches with an unresolved receiver failure or an unverified result, and installation changes "
            "whose signal never went out or has an unresolved receiver failure.")

    def add_arguments(self, parser):
        parser.add_argument("launch", nargs="*",
                            help="Launch ids (default: launches with an unresolved receiver failure or an unverified result).")

    def handle(self, *args, launch, **options):
        ids = []
        for value in launch:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                raise CommandError(f"{value!r} is not a launch id: give the launch's UUID, as the admin shows it.") from None
        launches = Launch.objects.filter(pk__in=ids) if ids else launches_needing_replay()
        count = 0
        for item in launches:
            self.stdout.write(f"{item.pk}: {replay_launch(item)}")
            count += 1
        self.stdout.write(f"{count} launch(es) replayed.")
        if launch:
            return
        replayed = 0
        for change in changes_needing_replay():
            self.stdout.write(f"installation change {change.pk} ({change.kind}): {replay_change(change)}")
            replayed += 1
        self.stdout.write(f"{replayed} installation change(s) replayed.")
