"""``{% load proxy %}``: the kit's script tag and its Connect button.

``{% hostkit_script %}`` renders the ``<script>`` tags for ``proxy/js/hostkit.js`` and
``proxy/js/connect-button.js`` (a delegated click listener for the buttons below), with a CSP nonce when
the page has one: the ``nonce`` argument, else the context's ``csp_nonce`` (Django 6's CSP context processor),
else ``request.csp_nonce`` (django-csp); before them, ``{% hostkit_text %}``. Put it once on the page.

``{% hostkit_text %}`` renders what ``hostkit.js`` says of what only the host page can know (a blocked popup,
the "Still connecting?" prompt), in the page's language, as the JSON block ``#hostkit-text`` the script reads.
``{% hostkit_script %}`` includes it; a page that loads ``hostkit.js`` by hand puts it before the script.

``{% connect_button "Connect" mode="popup" %}`` renders ``proxy/connect_button.html`` (override it in your
templates to restyle): an accessible ``<button>`` whose ``data-`` attributes tell ``connect-button.js`` to call
``Hostkit.connect()``, and a polite live region that says how it went. Optional arguments: ``mode``
(``popup``, ``inline``, ``redirect``), ``marketplace`` (a Marketplace id for ``?marketplace=``), ``launch``
(a LAUNCH preset for ``?launch=``), ``fallback`` (passed to ``Hostkit.connect``), ``container`` (a selector for
inline mode; default: a box rendered under the button), ``id`` and ``class``.

``{% orbit_button "Manage integrations" %}`` renders ``proxy/orbit_button.html`` (overridable the same way): a
button that calls ``Hostkit.manage()`` on ``proxy:orbit`` (Cyclr's ORBIT for the person's account) and says in
its live region what changed once the window closes, and any error's sentence. Optional: ``id`` and ``class``.
"""
from urllib.parse import urlencode

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html, format_html_join, json_script
from django.utils.translation import gettext_lazy as _

from .. import errors
from ..conf import proxy_settings

register = template.Library()

SCRIPTS = ("proxy/js/hostkit.min.js", "proxy/js/connect-button.min.js")  # made by scripts/minify_js.py
MODES = ("popup", "inline", "redirect")
# What hostkit.js says of what only the host page can know, translated here (the one source): the script reads
# them from #hostkit-text ({% hostkit_text %}) and keeps no sentence of its own.
HOSTKIT_TEXT = {
    "popup_blocked": _("The browser blocked the window: allow pop-ups for this site."),
    "closed": _("The window was closed."),
    "cancelled": _("Cancelled."),
    "timeout": _("It took too long."),
    "again": _("Click Connect to try again."),
    "asking": _("Still connecting?"),
    "reopen": _("Reopen the window"),
    "cancel": _("Cancel"),
    "orbit_unknown": errors.lookup("orbit_unknown").message,  # the registry's: proxy:orbit_changes answers it too
}


def _page_nonce(context, nonce):
    if nonce:
        return nonce
    if context.get("csp_nonce"):
        return context["csp_nonce"]
    request = context.get("request")
    return getattr(request, "csp_nonce", None) or ""


@register.simple_tag(takes_context=True)
def hostkit_script(context, nonce=None):
    """The kit's page scripts, nonce'd if the page has a CSP nonce, after their texts in the page's language."""
    nonce = _page_nonce(context, nonce)
    if nonce:
        scripts = format_html_join("\n", '<script src="{}" nonce="{}"></script>', ((static(s), nonce) for s in SCRIPTS))
    else:
        scripts = format_html_join("\n", '<script src="{}"></script>', ((static(s),) for s in SCRIPTS))
    return format_html("{}\n{}", hostkit_text(), scripts)


@register.simple_tag
def hostkit_text():
    """``hostkit.js``'s sentences (``HOSTKIT_TEXT``) in the active language, as the JSON block ``#hostkit-text``."""
    return json_script({key: str(text) for key, text in HOSTKIT_TEXT.items()}, "hostkit-text")


@register.inclusion_tag("proxy/connect_button.html", takes_context=True)
def connect_button(context, label=_("Connect an integration"), *, mode="popup", marketplace=None, launch=None, fallback=None,
                   container=None, id=None, **attributes):
    """A Connect button for ``Hostkit.connect()``; see the module's docstring for the arguments."""
    if mode not in MODES:
        raise template.TemplateSyntaxError(
            f"connect_button: mode {mode!r} is not one of {', '.join(MODES)}.")
    query = {}
    if marketplace not in (None, ""):
        if isinstance(marketplace, bool) or not str(marketplace).isascii() or not str(marketplace).isdigit() \
                or int(marketplace) <= 0:
            raise template.TemplateSyntaxError(
                f"connect_button: marketplace must be a Marketplace id (a positive whole number), not {marketplace!r}.")
        query["marketplace"] = int(marketplace)
    if launch not in (None, ""):
        query["launch"] = launch
    unknown = set(attributes) - {"class"}
    if unknown:
        raise template.TemplateSyntaxError(
            f"connect_button does not take {', '.join(sorted(unknown))}: use mode, marketplace, launch, fallback, "
            "container, id or class.")
    if not id:  # numbered per rendered page, so two buttons never share an id
        number = context.render_context.get("proxy_connect_buttons", 0) + 1
        context.render_context["proxy_connect_buttons"] = number
    button_id = id or f"hostkit-connect-{number}"
    launch_url = reverse("proxy:launch")
    query_string = f"?{urlencode(query)}" if query else ""
    return {
        # CYCLR_PROXY["PREMINT"]: hostkit.js mints a popup button's launch before the click (proxy.premint).
        "premint": proxy_settings.PREMINT if mode == "popup" else None,
        "premint_url": reverse("proxy:premint") + query_string,
        "label": label,
        "mode": mode,
        "launch_url": launch_url + query_string,
        "fallback": fallback or "",
        "container": container or (f"#{button_id}-frame" if mode == "inline" else ""),
        "inline_box": mode == "inline" and not container,
        "button_id": button_id,
        "css_class": attributes.get("class", ""),
    }



@register.inclusion_tag("proxy/orbit_button.html", takes_context=True)
def orbit_button(context, label=_("Manage integrations"), *, id=None, **attributes):
    """A Manage button for ``Hostkit.manage()`` (ORBIT); see the module's docstring for the arguments."""
    unknown = set(attributes) - {"class"}
    if unknown:
        raise template.TemplateSyntaxError(f"orbit_button does not take {', '.join(sorted(unknown))}: use id or class.")
    if not id:  # numbered per rendered page, so two buttons never share an id
        number = context.render_context.get("proxy_orbit_buttons", 0) + 1
        context.render_context["proxy_orbit_buttons"] = number
    return {
        "label": label,
        "orbit_url": reverse("proxy:orbit"),
        "button_id": id or f"hostkit-manage-{number}",
        "css_class": attributes.get("class", ""),
    }
