"""The demo's plain 404 for anonymous visitors while ``DEBUG`` is on (``make run``).

Under ``DEBUG`` Django answers a 404 with its technical page: the project's whole URL list (or the view that
raised it), to anyone who asks. ``custom handler404`` is not used under ``DEBUG``, so this middleware renders
Django's own production 404 (``django.views.defaults.page_not_found``) for a visitor who is not signed in; a
signed-in developer still gets the technical page. Responses a view chose to return (the kit's JSON 404s,
such as the webhook's) are left as they are: only a path no URL matched, or an ``Http404`` a view raised, is
replaced. Without ``DEBUG`` Django already serves the plain page, and this does nothing.
"""
from django.conf import settings
from django.http import Http404
from django.views.defaults import page_not_found


class PlainNotFoundForAnonymousMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # No URL matched (resolver_match stays None): the response is Django's technical 404, URL list and all.
        if response.status_code == 404 and request.resolver_match is None and self._hides(request):
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, Http404) and self._hides(request):
            return page_not_found(request, exception)
        return None

    @staticmethod
    def _hides(request):
        user = getattr(request, "user", None)
        return settings.DEBUG and not (user is not None and user.is_authenticated)
