"""The kit's test project's URLs: a page with the Connect button, the kit's URLs (both as
docs/quickstart.md has them), sign-in and the admin."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", login_required(TemplateView.as_view(template_name="home.html")), name="home"),
    path("proxy/", include("proxy.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("admin/", admin.site.urls),
]
