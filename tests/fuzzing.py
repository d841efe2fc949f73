"""Hypothesis strategies for the fuzz tests (tests/test_fuzz_*.py): what a hostile or broken sender can send.

- ``json_values``: any JSON value (recursive, shallow), with the awkward leaves: huge integers,
  floats, the empty string, control characters and astral-plane text.
- ``deep_json_text``: JSON text nested past Python's recursion limit. Hypothesis' own recursive
  strategies stay shallow, so the depth is a drawn number and the text is built as a string.
- ``near_valid(base)``: a real result (or Cyclr notification) from the fake Cyclr with a few
  mutations: wrong types, missing fields, huge strings, extra keys, repeated list items, edited
  strings. Zero mutations is allowed too, so a valid body sometimes gets through.
- ``frames(data)``: everything a socket text or byte frame, or an HTTP body, could carry.
- ``content_types`` and ``form_bodies``: the ``Content-Type`` headers a browser, a form or a script can send
  to an HTTP door (JSON with and without charsets, forms, multipart with good and bad boundaries, text, any
  printable header), and the form-shaped bodies that go with them (up to past Django's field limit).

A frame or body is ``(kind, payload)`` with kind ``"text"`` (a ``str``) or ``"bytes"``.
"""
import copy
import json
import sys

from hypothesis import strategies as st

from proxy.results import MAX_CYCLES, MAX_TEXT, MAX_URL

LIMIT = 64 * 1024  # MAX_RESULT_BYTES in the test settings (tests/conftest.py)

# Text as a WebSocket text frame can carry it: any Unicode scalar value. (Lone surrogates cannot
# arrive: the server decodes frames as UTF-8 and drops the connection on invalid data.)
# Short: Hypothesis draws text a character at a time, and long strings come from huge_strings.
frame_texts = st.text(max_size=12)
# Inside JSON a sender can also escape a lone surrogate ("\\ud800"), which Python reads into a str
# that no UTF-8 codec will write back out.
lone_surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
texts = frame_texts | lone_surrogates | st.builds(lambda a, b: a + b, frame_texts, lone_surrogates)
json_leaves = (
    st.none() | st.booleans() | texts
    | st.integers() | st.integers(min_value=2**53 - 2, max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "\x00", "\u202e", "\U0001F600", "NaN", "null", "true", "0", "-1", "1e999"])
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=5)

# Around the recursion limit (where json.loads gives up), and far past it.
_RECURSION = sys.getrecursionlimit()
depths = st.one_of(
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=_RECURSION - 100, max_value=_RECURSION + 100),
    st.integers(min_value=_RECURSION + 100, max_value=LIMIT // 2),
)


def nested_json(depth, kind):
    """JSON text ``depth`` levels deep: arrays, objects, or both in turn."""
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "0" + "}" * depth
    pairs = depth // 2 + 1
    return '[{"a":' * pairs + "0" + "}]" * pairs


# For values built as Python objects: past the limit is enough, and deeper only costs time.
object_depths = st.one_of(
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=_RECURSION - 100, max_value=3 * _RECURSION),
)

deep_json_text = st.builds(nested_json, depths, st.sampled_from(["array", "object", "mixed"]))


def nested_value(depth):
    """A Python list ``depth`` levels deep, built without recursion."""
    value = []
    for _ in range(depth):
        value = [value]
    return value


huge_strings = st.builds(
    lambda char, length: char * length,
    st.sampled_from(["x", "é", "\U0001F600", "\x00", " "]),
    st.sampled_from([MAX_TEXT, MAX_TEXT + 1, MAX_URL, MAX_URL + 1, 40_000, LIMIT + 1]),
)


def _containers(doc):
    """Every dict and list in ``doc``, the root included."""
    found, stack = [], [doc]
    while stack:
        node = stack.pop()
        found.append(node)
        children = node.values() if isinstance(node, dict) else node
        stack.extend(child for child in children if isinstance(child, (dict, list)))
    return found


def _slots(doc):
    """Every ``(container, key)`` holding a value in ``doc``."""
    return [(node, key) for node in _containers(doc) for key in (list(node) if isinstance(node, dict) else range(len(node)))]


@st.composite
def mutated(draw, base, max_mutations=3):
    """``base`` (deep-copied) with 0 to ``max_mutations`` mutations applied in turn."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=0, max_value=max_mutations))):
        action = draw(st.sampled_from(["delete", "wrong_type", "huge", "extra", "repeat", "edit"]))
        slots = _slots(doc)
        if action == "extra" or not slots:
            target = draw(st.sampled_from(_containers(doc)))
            if isinstance(target, dict):
                target[draw(texts)] = draw(json_values)
            else:
                target.append(draw(json_values))
            continue
        node, key = slots[draw(st.integers(min_value=0, max_value=len(slots) - 1))]
        if action == "delete":
            del node[key]
        elif action == "wrong_type":
            node[key] = draw(json_values)
        elif action == "huge":
            node[key] = draw(huge_strings)
        elif action == "repeat":  # the last mutation: the copies would make every later one slow
            node[key] = [node[key]] * draw(st.sampled_from([2, MAX_CYCLES, MAX_CYCLES + 1]))
            break
        else:  # edit a string or number the way sloppy senders do
            value = node[key]
            if isinstance(value, str):
                node[key] = draw(st.sampled_from(
                    [value.upper(), value.lower(), f" {value} ", value[:-1], value + "0", "", value + "\x00", value + "\ud800"]))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                node[key] = draw(st.sampled_from([str(value), -value, value + 0.5, 2**31, 2**63]))
            else:
                node[key] = None
    return doc


# --- frames and bodies ------------------------------------------------------------------------------------

def text(payload):
    return ("text", payload)


def binary(payload):
    return ("bytes", payload)


def as_bytes(frame):
    """A frame as an HTTP body."""
    kind, payload = frame
    return payload.encode() if kind == "text" else payload


message_ids = st.one_of(st.just("m1"), st.text(min_size=1, max_size=64), st.just("x" * 65), texts, json_values)
message_types = st.one_of(st.just("result"), st.sampled_from(["Result", "result ", "ack", "error", ""]), json_values)


def message(result, message_id="m1", message_type="result"):
    return {"type": message_type, "id": message_id, "result": result}


def with_deep_key(data, nested):
    """``data`` as JSON text with one more key holding ``nested`` (JSON text), spliced in as text."""
    return json.dumps(data)[:-1] + (", " if data else "") + '"deep": ' + nested + "}"


def _invalid_utf8(text, where, junk):
    raw = text.encode()
    where = where % (len(raw) + 1)
    return raw[:where] + junk + raw[where:]


def frames(data):
    """Anything a sender can put in a frame (or body) meant to carry ``data``, a real result."""
    near_valid_messages = st.builds(message, mutated(data), message_ids, message_types)
    return st.one_of(
        st.text(max_size=80).map(text),  # raw text, no JSON escapes: no lone surrogates
        st.just('{"type": "result", "id": "\\ud800", "result": {}}').map(text),
        st.binary(max_size=200).map(binary),
        json_values.map(lambda value: text(json.dumps(value))),
        st.builds(message, json_values, message_ids, message_types).map(lambda m: text(json.dumps(m))),
        st.builds(message, json_objects, message_ids).map(lambda m: text(json.dumps(m))),
        near_valid_messages.map(lambda m: text(json.dumps(m))),
        st.builds(message, mutated(data)).map(lambda m: text(json.dumps(m))),
        # Nesting past the recursion limit: the whole frame, the result, a key inside a real result.
        deep_json_text.map(text),
        deep_json_text.map(lambda nested: text('{"type": "result", "id": "m1", "result": ' + nested + "}")),
        deep_json_text.map(lambda nested: text('{"type": "result", "id": "m1", "result": ' + with_deep_key(data, nested) + "}")),
        # Numbers Python refuses to read (more than 4,300 digits) and other near-JSON.
        st.integers(min_value=4000, max_value=5000).map(lambda n: text('{"type": "result", "id": "m1", "result": {"n": ' + "9" * n + "}}")),
        st.sampled_from(["", " ", "null", "NaN", "[", "{", '{"type": "result"', "\ufeff{}", "\x00"]).map(text),
        # A real message with invalid UTF-8 spliced in, as bytes.
        st.builds(_invalid_utf8, st.just(json.dumps(message(data))), st.integers(min_value=0),
                  st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"])).map(binary),
    )


# --- HTTP Content-Type headers and form bodies --------------------------------------------------------------

JSON_CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
                      "Application/JSON", 'application/json;charset="UTF-8"', "application/json ; x=1"]
OTHER_CONTENT_TYPES = [
    "", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1", "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=no-such-charset", "multipart/form-data", "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz", "multipart/form-data; boundary=" + "b" * 80, "application/jsonp",
    "application/json-patch+json", "application/octet-stream", "json", "application/json/x",
]
# Any printable ASCII header, but no RFC 2231 parameter ("charset*=bogus''x"): Django raises ValueError for an
# unknown encoding there while it builds the request, before any middleware or view (every URL of a Django
# site answers it with a 500), which no door of the kit can reach.
printable_headers = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="*"),
                            max_size=40)
# Half the draws are read as JSON, so that the message reader behind the header is fuzzed as hard as before.
content_types = st.one_of(st.just("application/json"), st.sampled_from(JSON_CONTENT_TYPES),
                          st.sampled_from(OTHER_CONTENT_TYPES), printable_headers)

form_bodies = st.one_of(
    st.integers(min_value=0, max_value=1500).map(lambda n: "&".join(f"f{i}=1" for i in range(n)).encode()),
    st.dictionaries(frame_texts, frame_texts, max_size=5).map(
        lambda fields: "&".join(f"{key}={value}" for key, value in fields.items()).encode("utf-8", "surrogatepass")),
    st.just("f=caf\xe9".encode("latin-1")),
    st.just(b"--xyz\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n1\r\n--xyz--\r\n"),
    st.just(b"--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nx\r\n--xyz"),
)
