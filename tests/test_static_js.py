"""The page scripts: the served .min.js copies are current, within budget, and the syntax is ES2017."""
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("minify_js", ROOT / "scripts" / "minify_js.py")
minify_js = importlib.util.module_from_spec(spec)
spec.loader.exec_module(minify_js)

# Syntax newer than ES2017 (docs/modes-and-windows.md, "Browser support"), as it shows in source: optional chaining,
# nullish coalescing, logical assignment, object spread/rest, optional catch binding, class fields.
NEWER_THAN_ES2017 = {
    "optional chaining": re.compile(r"\?\.[A-Za-z_$\[(]"),
    "nullish coalescing": re.compile(r"\?\?"),
    "logical assignment": re.compile(r"(\|\||&&)="),
    "object spread or rest": re.compile(r"[{,]\s*\.\.\."),
    "optional catch binding": re.compile(r"catch\s*\{"),
    "class or private fields": re.compile(r"\bclass\b|#[A-Za-z_]"),
}


def test_the_minified_copies_are_current():
    assert minify_js.stale() == [], "run: python scripts/minify_js.py"


def test_the_pages_serve_the_minified_copies():
    templates = [ROOT / "proxy/templates/proxy" / name
                 for name in ("launch.html", "redirect.html", "complete.html", "orbit.html", "launch_error.html")]
    for template in templates:
        text = template.read_text(encoding="utf-8")
        assert re.search(r"""\{% static 'proxy/js/\w+\.min\.js' %\}""", text), template.name
        assert not re.search(r"proxy/js/\w+\.js'", text), f"{template.name} serves an unminified script"
    # Host pages get hostkit.js through {% hostkit_script %}.
    from proxy.templatetags.proxy import SCRIPTS

    assert all(script.endswith(".min.js") for script in SCRIPTS)


@pytest.mark.parametrize("page", list(minify_js.PAGES))
def test_each_pages_scripts_keep_to_the_budget(page):
    assert minify_js.BUDGET_BYTES == 3072
    # docs/modes-and-windows.md, "Minified copies": each page's scripts at most 3,072 bytes minified and gzipped.
    assert minify_js.page_weight(page) <= minify_js.BUDGET_BYTES, page


def test_the_pages_are_the_ones_the_templates_serve():
    from proxy.templatetags.proxy import SCRIPTS

    host = tuple(name.rsplit("/", 1)[1].replace(".min.js", ".js") for name in SCRIPTS)
    assert minify_js.PAGES["host page"] == host
    assert "proxy/js/proxy.min.js" in (ROOT / "proxy/templates/proxy/launch.html").read_text(encoding="utf-8")
    assert "proxy/js/refusal.min.js" in (ROOT / "proxy/templates/proxy/launch_error.html").read_text(encoding="utf-8")


def without_comments_and_strings(code):
    code = re.sub(r"/\*.*?\*/|(?<![\\:])//[^\n]*", "", code, flags=re.S)   # comments
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', code)                       # string literals


@pytest.mark.parametrize("name", minify_js.SOURCES)
def test_the_sources_keep_to_es2017(name):
    code = without_comments_and_strings((minify_js.JS_DIR / name).read_text(encoding="utf-8"))
    assert re.match(r'\s*\((\(\) =>|function \(\)) \{\s*"";', code), f"{name}: one strict IIFE"
    for what, pattern in NEWER_THAN_ES2017.items():
        assert not pattern.search(code), f"{name} uses {what}, newer than ES2017"


@pytest.mark.parametrize("name", minify_js.SOURCES)
def test_the_minified_copies_keep_to_es2017_and_strict_mode(name):
    # The minifier rewrites syntax: it must write nothing newer than the sources, nor drop "use strict".
    code = without_comments_and_strings(minify_js.min_path(name).read_text(encoding="utf-8"))
    assert re.match(r'\((\(\)=>|function\(\))\{"";', code), f"{name}: one strict IIFE"
    for what, pattern in NEWER_THAN_ES2017.items():
        assert not pattern.search(code), f"{name}.min.js uses {what}, newer than ES2017"
