"""The Launch Complete HTML: what integrators paste into the Cyclr console.

Cyclr runs it on the page that ends an install, where a global ``result`` holds the install result.
It posts that result to the host's proxy page (or opener) with each exact host origin as targetOrigin,
and falls back to a redirect to ``proxy:complete`` when there is no window to post to.
"""
import json
from urllib.parse import urlsplit

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from .origins import is_origin

TEMPLATE_NAME = "proxy/launch_complete.html"

# Characters that could end the <script> element or start markup inside it, and the two line
# terminators that are legal in JSON but were not in older JavaScript string literals.
_SCRIPT_ESCAPES = {
    ord("<"): "\\u003C",
    ord(">"): "\\u003E",
    ord("&"): "\\u0026",
    ord("\u2028"): "\\u2028",
    ord("\u2029"): "\\u2029",
}


def js_literal(value):
    """``value`` as a JavaScript literal that is safe inside an inline ``<script>``."""
    return mark_safe(json.dumps(value).translate(_SCRIPT_ESCAPES))


def check_origin(origin):
    """Raise ``ValueError`` with a sentence unless ``origin`` is exactly ``scheme://host[:port]``."""
    if not is_origin(origin):
        raise ValueError(
            f"{origin!r} is not an origin: write it as scheme://host[:port], in lower case, "
            "with no path, not even a trailing slash (for example https://app.example.com)."
        )
    return origin


def render_launch_complete_html(host_origins, complete_url) -> str:
    """Return the Launch Complete HTML for ``host_origins``, redirecting to ``complete_url`` as a last resort.

    ``host_origins`` are the exact origins of this site (``CYCLR_PROXY["HOST_ORIGINS"]``);
    ``complete_url`` is the absolute URL of ``proxy:complete``. Raises ``ValueError`` on bad input.
    """
    origins = list(dict.fromkeys(host_origins))  # de-duplicated, order kept
    if not origins:
        raise ValueError("The Launch Complete HTML needs at least one host origin.")
    for origin in origins:
        check_origin(origin)
    parts = urlsplit(complete_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{complete_url!r} is not an absolute http(s) URL for the complete page.")
    return render_to_string(
        TEMPLATE_NAME,
        {
            "host_origins": origins,
            "host_origins_js": js_literal(origins),
            "complete_url": complete_url,
            "complete_url_js": js_literal(complete_url),
        },
    )
