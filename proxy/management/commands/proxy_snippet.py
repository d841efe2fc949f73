"""``python manage.py proxy_snippet``: print the Launch Complete HTML for the Cyclr console."""
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from proxy.conf import proxy_settings
from proxy.snippet import check_origin, render_launch_complete_html


class Command(BaseCommand):
    help = (
        "Print the Launch Complete HTML to paste into the Cyclr console "
        '(Settings > Appearance Settings), with CYCLR_PROXY["HOST_ORIGINS"] baked in.'
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--origin",
            action="append",
            dest="origins",
            metavar="ORIGIN",
            help='A host origin such as https://app.example.com; repeat for several. Replaces CYCLR_PROXY["HOST_ORIGINS"].',
        )
        parser.add_argument("--output", metavar="FILE", help="Write the HTML to FILE instead of printing it.")

    def handle(self, *args, origins=None, output=None, **options):
        if not origins:
            configured = proxy_settings.HOST_ORIGINS or []
            origins = [configured] if isinstance(configured, str) else list(configured)
        if not origins:
            raise CommandError(
                'There is no host origin to put in the snippet: set CYCLR_PROXY["HOST_ORIGINS"] in your settings '
                "or pass --origin https://app.example.com."
            )
        for origin in origins:
            try:
                check_origin(origin)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc

        # The redirect fallback lands on the first origin: the one the site is primarily served from.
        complete_url = origins[0] + reverse("proxy:complete")
        html = render_launch_complete_html(origins, complete_url)

        if output:
            try:
                with open(output, "w", encoding="utf-8") as fh:
                    fh.write(html)
            except OSError as exc:
                raise CommandError(f"Could not write {output}: {exc.strerror}.") from exc
            self.stdout.write(f"Wrote the Launch Complete HTML for {', '.join(origins)} to {output}.")
        else:
            self.stdout.write(html, ending="" if html.endswith("\n") else "\n")
