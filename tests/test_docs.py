"""The README stays a page that fits on a screen and points only at what exists; the rest is the docs site.

`make docs` (run by `make test`) builds the site with `mkdocs build --strict`, which fails on a broken link or
anchor between its pages and on a page of docs/ missing from the nav. These tests cover what it cannot see: the
README (outside the site), and the example test the README and docs/testing.md both show.
"""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAX_README_LINES = 260
# "issue 7", "Issue 22", "#18" as a reference to an issue (not "#" in a URL fragment or a shell comment).
ISSUE_REFERENCE = re.compile(r"\bissues? ?#?([1-9][0-9]?)\b|(?<![\w/&#])#([1-9][0-9]?)\b", re.I)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^( *)```[a-z]*\n(.*?)^\1```$", re.S | re.M)


def prose(text):
    """The text outside fenced code blocks (a comment in code is no reference to an issue)."""
    return FENCE.sub("", text)


def test_the_readme_fits_on_a_screen_or_so():
    assert len(README.splitlines()) <= MAX_README_LINES


def test_the_readme_names_no_issue_and_no_design_document_it_does_not_ship():
    assert [match[0] for match in ISSUE_REFERENCE.finditer(README)] == []
    assert "DESIGN.md" not in README


# A comment or docstring says the rule itself: never which issue asked for it, nor a README section (they move), nor
# a design document the repository does not ship.
README_SECTION = re.compile(r"\bREADME(?:'s)?,? (?:\"|section|quickstart|step|production)|\b(?:DESIGN|CYCLR)\.md")
SOURCE_DIRS = ("proxy", "tests", "hostkit", "static", "scripts", "templates")
# This file names the patterns it looks for.
CITATIONS_KEPT = {"tests/test_docs.py": "these patterns"}


def citations(root):
    """``path:line: text`` for each issue number, README section or unshipped document cited under ``root``."""
    for top in SOURCE_DIRS:
        for path in sorted((root / top).rglob("*")):
            if path.suffix not in (".py", ".js", ".html", ".sh") or path.name.endswith(".min.js") or not path.is_file():
                continue
            name = path.relative_to(root).as_posix()
            if name in CITATIONS_KEPT:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ISSUE_REFERENCE.search(line) or README_SECTION.search(line):
                    yield f"{name}:{number}: {line.strip()}"


def test_the_sources_cite_no_issue_no_readme_section_and_no_unshipped_document():
    assert list(citations(ROOT)) == []


def test_the_citation_finder_sees_a_citation(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text('"""Issue 7: a rule."""\n# (README, "Production")\n# DESIGN.md says\n'
                                                  'x = asgi_variants.readme  # fine\n')
    assert [line.split(":")[1] for line in citations(tmp_path)] == ["1", "2", "3"]


def test_the_issue_pattern_sees_what_it_must_and_nothing_else():
    named = ["issue 7", "Issue 22", "issues 11", "issue #18", "see #5.", "(#99)"]
    assert [text for text in named if not ISSUE_REFERENCE.search(text)] == []
    innocent = ["issue 100", "#100", "docs/testing.md#testing-your-integration", "&#39;", "page 7", "C#1"]
    assert [text for text in innocent if ISSUE_REFERENCE.search(text)] == []


def test_every_file_the_readme_links_exists():
    missing = []
    for target in LINK.findall(README):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if not (ROOT / target.split("#", 1)[0]).exists():
            missing.append(target)
    assert missing == []


def test_every_docs_page_the_readme_links_is_in_the_site_and_its_anchor_exists():
    # The same rule mkdocs applies inside the site: a heading's anchor is its text, lowercased, punctuation
    # dropped, spaces as hyphens.
    def anchors(page):
        headings = re.findall(r"^#{1,6} (.+)$", prose(page.read_text(encoding="utf-8")), re.M)
        return {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", heading).strip().lower()) for heading in headings}

    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    problems = []
    for target in LINK.findall(README):
        path, _, anchor = target.partition("#")
        if not path.startswith("docs/") or not path.endswith(".md"):
            continue
        if f": {path[len('docs/'):]}\n" not in nav:
            problems.append(f"{path} is not in mkdocs.yml's nav")
        if anchor and (ROOT / path).exists() and anchor not in anchors(ROOT / path):
            problems.append(f"{target}: no such heading")
    assert problems == []


def test_the_readme_and_the_testing_page_show_the_same_example_test():
    def example(text):
        blocks = [block for _, block in FENCE.findall(text) if block.startswith("# tests/test_cyclr_install.py\n")]
        assert len(blocks) == 1
        return blocks[0]

    assert example(README) == example((ROOT / "docs" / "testing.md").read_text(encoding="utf-8"))


def test_the_example_test_shares_no_receiver_or_list_across_tests():
    # Connected inside the test with a dispatch_uid and disconnected in `finally`: nothing at module level
    # outlives it, so another test of the same suite never sees its installs.
    block = next(block for _, block in FENCE.findall(README) if block.startswith("# tests/test_cyclr_install.py\n"))
    module_level = [line for line in block.splitlines() if line and not line.startswith((" ", "#", "from ", "import ", "def ", ")"))]
    assert module_level == []
    assert "@receiver" not in block
    assert re.search(r"install_completed\.connect\(\w+, dispatch_uid=", block)
    assert re.search(r"finally:\n\s+install_completed\.disconnect\(dispatch_uid=", block)


# `pip install "cyclr-hostkit[redis,postgres]"` or "/path/to/this/checkout[test]": the extras a page tells people to install.
EXTRAS_NAMED = re.compile(r"""(?:cyclr-hostkit|checkout)\[([a-z][a-z0-9,-]*)\]""")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def pages_with_install_lines():
    return {"README.md": README, **{f"docs/{page.name}": page.read_text(encoding="utf-8")
                                    for page in (ROOT / "docs").glob("*.md")}}


def test_every_extra_the_docs_name_exists_in_pyproject():
    named = {(page, extra) for page, text in pages_with_install_lines().items()
             for group in EXTRAS_NAMED.findall(text) for extra in group.split(",")}
    assert {extra for _, extra in named} >= {"redis", "postgres", "tasks-db", "whitenoise", "test"}
    assert sorted((page, extra) for page, extra in named if extra not in EXTRAS) == []


def test_the_runtime_extras_ask_for_what_the_example_host_runs_with():
    # requirements.txt is what the example host and the suite install: an extra with another range goes untested.
    requirements = {line.strip() for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()}
    for extra in ("redis", "postgres", "tasks-db", "whitenoise"):
        assert set(EXTRAS[extra]) <= requirements, extra


def test_the_production_pages_redirect_exemption_matches_the_kits_health_path():
    # SECURE_REDIRECT_EXEMPT is matched against the path without its leading slash (SecurityMiddleware); the kit's
    # test URLs include proxy.urls at proxy/, as the page shows.
    from django.urls import reverse

    page = (ROOT / "docs/production.md").read_text(encoding="utf-8")
    (pattern,) = set(re.findall(r"`SECURE_REDIRECT_EXEMPT` \| `\[r\"([^\"]+)\"\]`", page))
    health = reverse("proxy:health").lstrip("/")
    assert re.search(pattern, health)
    assert not re.search(pattern, "proxy/health/x") and not re.search(pattern, "x/proxy/health/")
    # The example host exempts the same path (tests/example/test_deploy.py probes it over plain http).
    hostkit_settings = (ROOT / "hostkit/settings.py").read_text(encoding="utf-8")
    assert f'SECURE_REDIRECT_EXEMPT = [r"{pattern}"]' in hostkit_settings
