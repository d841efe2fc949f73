"""``python manage.py proxy_doctor --account API_ID``: check this site against the real Cyclr it names."""
import json

from django.core.management.base import BaseCommand

from proxy.doctor import render_text, run_checks


class Command(BaseCommand):
    help = (
        "Check CYCLR_PROXY against the live Cyclr it names: credentials, minting a Marketplace URL, which id "
        "X-Cyclr-Account takes, MARKETPLACE_ORIGINS, ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS for HOST_ORIGINS, "
        "and whether the Marketplace may be framed. Exit status 0 when nothing failed, 1 otherwise. "
        "WARNING: minting for an API id Cyclr does not know CREATES that account in your Cyclr console; "
        "pass the API id of an existing account."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", metavar="API_ID",
            help="REQUIRED. The API id of an existing Cyclr account to check with (Cyclr creates an account "
                 "for an API id it does not know).",
        )
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help='Print one JSON object: {"ok", "checks": [{"id", "status", "message", "fix"}]}.')
        parser.add_argument(
            "--framing-optional", action="store_true",
            help="This site opens the Marketplace only with mode=redirect or mode=direct: a Marketplace that "
                 "refuses to be framed is a warning, not a failure.",
        )

    def handle(self, *args, account=None, as_json=False, framing_optional=False, **options):
        report = run_checks(account, framing_required=not framing_optional)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write("proxy_doctor: minting for --account creates that account in Cyclr if it has none "
                              "with that API id.")
            self.stdout.write(render_text(report), ending="")
        self.stdout.flush()
        if not report.ok:  # for CI and deploy scripts: a status, not a CommandError's traceback
            raise SystemExit(1)
