#!/usr/bin/env python
"""Write proxy/static/proxy/js/*.min.js from the readable sources beside them, with tdewolff/minify.

    python scripts/minify_js.py           # rewrite the .min.js files
    python scripts/minify_js.py --check   # exit 1 if one is stale, or hostkit + proxy grew past the ceiling

The sources are what people read and review; the templates serve the .min.js copies (hashed by
ManifestStaticFilesStorage in production). The minifier is tdewolff/minify (the Go library Hugo uses),
through its author's Python binding `tdewolff-minify`: a wheel with the compiled library inside, so no Node
and no Go toolchain. It parses the scripts, renames locals and writes ES2017 back (``js-version``). Its
version is pinned (requirements-test.txt): another version may write other bytes, which the staleness check
would report.
"""
import gzip
import sys
from pathlib import Path

import minify

JS_DIR = Path(__file__).resolve().parent.parent / "proxy" / "static" / "proxy" / "js"
SOURCES = ("hostkit.js", "proxy.js", "complete.js", "redirect.js", "orbit.js", "connect-button.js", "refusal.js")
# Each page's scripts, minified and gzip -9, at most BUDGET_BYTES: the budget counts each page on its own (the host
# page's and the proxy page's), never two pages no browser loads together.
BUDGET_BYTES = 3072
# The scripts each page serves: the host page's ({% hostkit_script %}), the proxy page's (launch.html) and the
# error page's when it tells the host page of proxy:launch's refusal (launch_error.html).
PAGES = {"host page": ("hostkit.js", "connect-button.js"), "proxy page": ("proxy.js",), "error page": ("refusal.js",)}
# The syntax the scripts keep to (docs/modes-and-windows.md, "Browser support"): the minifier writes nothing newer.
JS_VERSION = 2017


def minified(source_name):
    """The .min.js text for one source (no banner: the test suite catches a hand-edited copy)."""
    minify.config({"js-version": JS_VERSION})
    return minify.string("application/javascript", (JS_DIR / source_name).read_text(encoding="utf-8")) + "\n"


def min_path(source_name):
    return JS_DIR / source_name.replace(".js", ".min.js")


def gzipped_size(text):
    return len(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def page_weight(page):
    """Bytes of one page's scripts (PAGES), each minified and gzipped -9 as served."""
    return sum(gzipped_size(minified(name)) for name in PAGES[page])


def stale():
    """The .min.js files that differ from what their source minifies to."""
    return [min_path(name).name for name in SOURCES
            if not min_path(name).exists() or min_path(name).read_text(encoding="utf-8") != minified(name)]


def sizes():
    """One line per source (minified and gzipped bytes) and one per page (its scripts' weight against the budget)."""
    lines = []
    for name in SOURCES:
        text = minified(name)
        lines.append(f"{name}: {len(text.encode())} bytes minified, {gzipped_size(text)} gzipped")
    lines += [f"the {page}: {page_weight(page)} bytes gzipped (budget {BUDGET_BYTES})" for page in PAGES]
    return lines


def main(argv):
    if "--check" in argv:
        problems = [f"{name} is stale: run python scripts/minify_js.py" for name in stale()]
        problems += [f"the {page}'s scripts are {page_weight(page)} bytes minified and gzipped, over {BUDGET_BYTES}"
                     for page in PAGES if page_weight(page) > BUDGET_BYTES]
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for name in SOURCES:
        min_path(name).write_text(minified(name), encoding="utf-8")
    print(f"wrote {len(SOURCES)} minified files")
    print("\n".join(sizes()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
