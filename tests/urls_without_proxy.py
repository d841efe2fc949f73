"""A ROOT_URLCONF without the kit's URLs, for the checks and helpers that must notice."""
from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
