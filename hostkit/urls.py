from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="integrations"), name="home"),
    path("integrations/", views.integrations, name="integrations"),
    path("integrations.json", views.integrations_json, name="integrations-json"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("proxy/", include("proxy.urls")),
    path("admin/", admin.site.urls),
]
