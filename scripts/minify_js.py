#!/usr/bin/env python
"""Write proxy/static/proxy/js/*.min.js from the readable sources beside them, with rjsmin.

    python scripts/minify_js.py           # rewrite the .min.js files
    python scripts/minify_js.py --check   # exit 1 if one is stale, or hostkit + proxy grew past the ceiling

The sources are what people read and review; the templates serve the .min.js copies (hashed by
ManifestStaticFilesStorage in production). rjsmin strips comments and whitespace and renames nothing, so
a minified file maps line for line onto what its source says; it needs no Node.
"""
import gzip
import sys
from pathlib import Path

import rjsmin

JS_DIR = Path(__file__).resolve().parent.parent / "proxy" / "static" / "proxy" / "js"
SOURCES = ("hostkit.js", "proxy.js", "complete.js", "redirect.js", "orbit.js", "connect-button.js")
# hostkit.js + proxy.js, minified and gzip -9 together. Issue 7 asks for 3 KB (BUDGET_BYTES), which this
# code does not reach yet with a minifier that renames nothing; CEILING_BYTES holds what it weighs today
# so that it cannot grow unnoticed. Lower the ceiling as the scripts shrink.
BUDGET_FILES = ("hostkit.js", "proxy.js")
BUDGET_BYTES = 3072
CEILING_BYTES = 4060  # 4000, plus 45 for Hostkit.manage (ORBIT)


def minified(source_name):
    """The .min.js text for one source (no banner: the test suite catches a hand-edited copy)."""
    return rjsmin.jsmin((JS_DIR / source_name).read_text(encoding="utf-8")) + "\n"


def min_path(source_name):
    return JS_DIR / source_name.replace(".js", ".min.js")


def gzipped_size(text):
    return len(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def budget_used():
    """Bytes of hostkit.min.js and proxy.min.js together (concatenated), after gzip -9."""
    return gzipped_size("".join(minified(name) for name in BUDGET_FILES))


def stale():
    """The .min.js files that differ from what their source minifies to."""
    return [min_path(name).name for name in SOURCES
            if not min_path(name).exists() or min_path(name).read_text(encoding="utf-8") != minified(name)]


def main(argv):
    if "--check" in argv:
        problems = [f"{name} is stale: run python scripts/minify_js.py" for name in stale()]
        used = budget_used()
        if used > CEILING_BYTES:
            problems.append(f"hostkit.js + proxy.js are {used} bytes minified and gzipped, over the {CEILING_BYTES}-byte ceiling")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for name in SOURCES:
        min_path(name).write_text(minified(name), encoding="utf-8")
    print(f"wrote {len(SOURCES)} minified files; hostkit + proxy: {budget_used()} bytes gzipped "
          f"(ceiling {CEILING_BYTES}, issue 7's budget {BUDGET_BYTES})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
