from django.core.management.base import BaseCommand

from proxy.reconcile import reconcile


class Command(BaseCommand):
    help = ("Repair the installation records from Cyclr's API (missing, extra, status drift), close launches "
            "that expired while pending and verify results left unverified. Safe to run from cron.")

    def add_arguments(self, parser):
        parser.add_argument("--account", metavar="API_ID", help="Only this account (the host's own id for it).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change; change nothing.")
        parser.add_argument("--max-pages", type=int, default=20,
                            help="At most this many GET /v1.0/cycles pages (of 50) per account (default 20).")

    def handle(self, *args, account=None, dry_run=False, max_pages=20, **options):
        report = reconcile(account_api_id=account, dry_run=dry_run, max_pages=max_pages)
        for line in report.lines:
            self.stdout.write(line)
        for error in report.errors:
            self.stderr.write(f"error: {error}")
        self.stdout.write(report.summary())
        if not report.ok:
            raise SystemExit(1)
