"""URLconfs for the login-middleware check (proxy.E105): the webhook mounted gated and exempt."""
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path

from proxy import views, webhooks


def gated_webhook(request, secret):
    return HttpResponse("would be sent to the login page")


gated = ([path("launch/", views.launch, name="launch"), path("webhook/<str:secret>/", gated_webhook, name="webhook")],
         "proxy")
exempt = ([path("launch/", views.launch, name="launch"),
           path("webhook/<str:secret>/", login_not_required(webhooks.webhook), name="webhook")], "proxy")


class Gated:
    urlpatterns = [path("proxy/", include(gated))]


class Exempt:
    urlpatterns = [path("proxy/", include(exempt))]
