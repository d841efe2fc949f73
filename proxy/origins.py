"""Origins ("scheme://host[:port]"), compared exactly: no wildcards, no prefixes."""
from urllib.parse import urlsplit


def is_origin(value) -> bool:
    """True if ``value`` is exactly an origin as a browser serializes it (no path, no slash)."""
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.path
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
        and value == f"{parts.scheme}://{parts.netloc.lower()}"
    )


def origin_of(url: str) -> str:
    """The origin of an absolute URL, as ``event.origin`` would report it."""
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    netloc = parts.hostname or ""
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port and parts.port != default_port:
        netloc = f"{netloc}:{parts.port}"
    return f"{parts.scheme}://{netloc}"
