from django.core.management.base import BaseCommand

from proxy.reconcile import MAX_PAGES, MAX_SETTLEMENTS, PAGE_SIZE, reconcile


def at_least_one(text):
    """An argparse type: a whole number of at least 1 (a bound of 0 would do nothing, silently)."""
    from argparse import ArgumentTypeError

    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ArgumentTypeError(f"{value} is less than 1")
    return value


class Command(BaseCommand):
    help = ("Repair the installation records from Cyclr's API (missing, extra, status drift), close launches "
            "that expired while pending and verify results left unverified. Safe to run from cron.")

    def add_arguments(self, parser):
        parser.add_argument("--account", metavar="API_ID", help="Only this account (the host's own id for it).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change; change nothing.")
        parser.add_argument("--max-pages", type=at_least_one, default=MAX_PAGES,
                            help=f"At most this many GET /v1.0/cycles pages (of {PAGE_SIZE}) per account "
                                 f"(default {MAX_PAGES}).")
        parser.add_argument("--max-settlements", type=at_least_one, default=MAX_SETTLEMENTS,
                            help="At most this many unverified results verified in this run, oldest first; the "
                                 f"summary says how many are left for the next run (default {MAX_SETTLEMENTS}).")

    def handle(self, *args, account=None, dry_run=False, max_pages=MAX_PAGES, max_settlements=MAX_SETTLEMENTS, **options):
        report = reconcile(account_api_id=account, dry_run=dry_run, max_pages=max_pages, max_settlements=max_settlements)
        for line in report.lines:
            self.stdout.write(line)
        for error in report.errors:
            self.stderr.write(f"error: {error}")
        self.stdout.write(report.summary())
        if not report.ok:
            raise SystemExit(1)
