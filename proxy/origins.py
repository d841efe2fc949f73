"""Origins ("scheme://host[:port]"), compared exactly: no wildcards, no prefixes."""
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def is_origin(value) -> bool:
    """True if ``value`` is exactly an origin as a browser serializes it in ``event.origin``.

    No path or trailing slash, lower case, no wildcard, no user info, and no port that a
    browser would leave out (the scheme's default) or could not report (empty).
    """
    if not isinstance(value, str) or not value or "*" in value or "@" in value:
        return False
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # an unparsable host or port, such as "http://[::1" or ":99999"
        return False
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.netloc.endswith(":"):
        return False
    if port == DEFAULT_PORTS[parts.scheme]:
        return False
    return not (parts.path or parts.query or parts.fragment) and value == f"{parts.scheme}://{parts.netloc.lower()}"


def origin_of(url: str) -> str:
    """The origin of an absolute URL, as ``event.origin`` would report it."""
    parts = urlsplit(url)
    default_port = DEFAULT_PORTS.get(parts.scheme)
    netloc = parts.hostname or ""
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port and parts.port != default_port:
        netloc = f"{netloc}:{parts.port}"
    return f"{parts.scheme}://{netloc}"
