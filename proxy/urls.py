from django.urls import path, re_path

from . import health, orbit, views, webhooks

app_name = "proxy"

urlpatterns = [
    path("launch/", views.launch, name="launch"),
    path("launch/premint/", views.premint_view, name="premint"),
    path("orbit/", orbit.orbit, name="orbit"),
    path("orbit/<slug:session>/", orbit.orbit_changes, name="orbit_changes"),
    path("launches/<uuid:launch_id>/", views.status, name="status"),
    path("launches/<uuid:launch_id>/result/", views.result, name="result"),
    path("launches/<uuid:launch_id>/top-level/", views.top_level, name="top_level"),
    path("complete/", views.complete, name="complete"),
    path("webhook/<str:secret>/", webhooks.webhook, name="webhook"),
    # Every other path under webhook/ (no trailing slash, or more after it) is answered by the view
    # too: a redirect (APPEND_SLASH) or a 404 page would repeat the secret in a header, a page or a log.
    re_path(r"^webhook/(?P<secret>.*)$", webhooks.webhook),
    path("health/", health.health, name="health"),
]
