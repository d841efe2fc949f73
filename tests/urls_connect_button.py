"""The example host's URLs plus a page that uses only the kit's template tags, for the shipped browser helpers."""
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from hostkit.urls import urlpatterns as host_urlpatterns

PAGE = """{% load proxy %}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect</title></head>
<body>{% connect_button "Connect your CRM" %}{% hostkit_script %}</body></html>"""


@login_required
def connect_page(request):
    return HttpResponse(engines["django"].from_string(PAGE).render({}, request))


urlpatterns = [*host_urlpatterns, path("connect-button/", connect_page, name="connect-button")]
