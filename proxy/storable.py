"""Text the database cannot keep: found in untrusted JSON before anything is stored.

JSON can carry two things a database refuses: U+0000 (PostgreSQL stores no NUL in ``text`` or
``jsonb``) and unpaired surrogates such as ``"\\ud800"`` (valid JSON escapes, but no UTF-8 encoder
writes them; SQLite's driver raises, PostgreSQL rejects them). Either would fail the write as a
server error after the message was accepted; a message or notification carrying one is refused
up front instead, as ``malformed``.
"""
import re

from .exceptions import InvalidResult

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value):
    """True if any string in ``value`` (a decoded JSON value, object keys included) cannot be stored.

    Walks with its own stack, not recursion: the value may be nested as deep as the decoder allowed.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def refuse_unstorable_text(value, what="message"):
    """Raise ``InvalidResult("malformed")`` if ``value`` holds text that cannot be stored."""
    if unstorable_text(value):
        raise InvalidResult("malformed", f"The {what} holds a NUL character or an unpaired surrogate, which cannot be stored.")
