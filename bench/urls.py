from django.urls import include, path

from . import floors

urlpatterns = [
    path("bench/floor/result/", floors.result, name="bench-floor-result"),
    path("bench/floor/result-after-get/", floors.result_after_get, name="bench-floor-result-after-get"),
    path("bench/floor/launch/", floors.launch, name="bench-floor-launch"),
    path("", include("hostkit.urls")),
]
