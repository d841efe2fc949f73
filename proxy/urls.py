from django.urls import path

from . import health, orbit, views, webhooks

app_name = "proxy"

urlpatterns = [
    path("launch/", views.launch, name="launch"),
    path("orbit/", orbit.orbit, name="orbit"),
    path("launches/<uuid:launch_id>/", views.status, name="status"),
    path("launches/<uuid:launch_id>/result/", views.result, name="result"),
    path("complete/", views.complete, name="complete"),
    path("webhook/<str:secret>/", webhooks.webhook, name="webhook"),
    path("health/", health.health, name="health"),
]
