from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

CONNECT_MODES = ("popup", "inline", "redirect")


@login_required
def integrations(request):
    """The example host's Integrations page: a Connect button and what is installed."""
    # ?mode=inline or ?mode=redirect tries the kit's other modes from the same page.
    mode = request.GET.get("mode") if request.GET.get("mode") in CONNECT_MODES else "popup"
    return render(request, "integrations.html", {"integrations": request.user.integrations.all(), "connect_mode": mode})


@login_required
def integrations_json(request):
    """The same list as JSON, for the page to refresh itself after a Connect."""
    return JsonResponse({"integrations": [i.as_json() for i in request.user.integrations.all()]})
