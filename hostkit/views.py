from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render


@login_required
def integrations(request):
    """The example host's Integrations page: a Connect button and what is installed."""
    return render(request, "integrations.html", {"integrations": request.user.integrations.all()})


@login_required
def integrations_json(request):
    """The same list as JSON, for the page to refresh itself after a Connect."""
    return JsonResponse({"integrations": [i.as_json() for i in request.user.integrations.all()]})
