from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

from proxy.conf import proxy_settings
from proxy.models import Installation

from .accounts import account_api_id

CONNECT_MODES = ("popup", "inline", "redirect", "direct")


@login_required
def integrations(request):
    """The example host's Integrations page: a Connect button and what is installed."""
    # ?mode=inline, ?mode=redirect or ?mode=direct tries the kit's other modes from the same page.
    mode = request.GET.get("mode") if request.GET.get("mode") in CONNECT_MODES else "popup"
    return render(request, "integrations.html", {
        "integrations": request.user.integrations.all(),
        "installations": installations_of(request.user),
        "connect_mode": mode,
        # CYCLR_PROXY["PREMINT"]: the kit's hostkit.js mints a popup's launch before the click (data-premint).
        "premint": proxy_settings.PREMINT if mode == "popup" else None,
        # The demo's LAUNCH preset (hostkit/settings.py), when one is configured.
        "launch_preset": "email" if "email" in (settings.CYCLR_PROXY.get("LAUNCHES") or {}) else "",
    })


def installations_of(user):
    """What the kit records as installed in the user's Cyclr account (see hostkit.accounts), with cycles."""
    return (Installation.objects.filter(account_api_id=account_api_id(user))
            .prefetch_related("cycles").order_by("package_id"))


@login_required
def integrations_json(request):
    """The same list as JSON, for the page to refresh itself after a Connect."""
    return JsonResponse({"integrations": [i.as_json() for i in request.user.integrations.all()]})
