#!/usr/bin/env python
"""Write proxy/static/proxy/js/*.min.js from the readable sources beside them, with rjsmin.

    python scripts/minify_js.py           # rewrite the .min.js files
    python scripts/minify_js.py --check   # exit 1 if one is stale, or hostkit + proxy exceed the budget

The sources are what people read and review; the templates serve the .min.js copies (hashed by
ManifestStaticFilesStorage in production). rjsmin strips comments and whitespace and renames nothing, so
a minified file maps line for line onto what its source says; it needs no Node.
"""
import gzip
import sys
from pathlib import Path

import rjsmin

JS_DIR = Path(__file__).resolve().parent.parent / "proxy" / "static" / "proxy" / "js"
SOURCES = ("hostkit.js", "proxy.js", "complete.js", "redirect.js")
# What every host page and proxy page downloads: hostkit.js + proxy.js, minified, gzip -9, at most 3 KB.
BUDGET_FILES = ("hostkit.js", "proxy.js")
BUDGET_BYTES = 3072


def minified(source_name):
    """The .min.js text for one source: a banner naming the source, then rjsmin's output."""
    text = (JS_DIR / source_name).read_text(encoding="utf-8")
    return f"/* {source_name}, minified by scripts/minify_js.py: edit the source */\n{rjsmin.jsmin(text)}\n"


def min_path(source_name):
    return JS_DIR / source_name.replace(".js", ".min.js")


def gzipped_size(text):
    return len(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def budget_used():
    """Bytes of hostkit.min.js + proxy.min.js after gzip -9, each compressed on its own (as served)."""
    return sum(gzipped_size(minified(name)) for name in BUDGET_FILES)


def stale():
    """The .min.js files that differ from what their source minifies to."""
    return [min_path(name).name for name in SOURCES
            if not min_path(name).exists() or min_path(name).read_text(encoding="utf-8") != minified(name)]


def main(argv):
    if "--check" in argv:
        problems = [f"{name} is stale: run python scripts/minify_js.py" for name in stale()]
        used = budget_used()
        if used > BUDGET_BYTES:
            problems.append(f"hostkit.js + proxy.js are {used} bytes minified and gzipped, over the {BUDGET_BYTES}-byte budget")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for name in SOURCES:
        min_path(name).write_text(minified(name), encoding="utf-8")
    print(f"wrote {len(SOURCES)} minified files; hostkit + proxy: {budget_used()} of {BUDGET_BYTES} bytes gzipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
