"""The Security page (docs/security.md) names a test for each defence and
limit: every one it names must exist.

A renamed or deleted test would otherwise leave the page pointing at nothing, and a defence apparently
proven by a test that no longer runs.
"""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILE = re.compile(r"^(tests/[\w/]+\.py)(?:::((?:Test\w+::)?test_\w+))?$")
NAME = re.compile(r"^(?:Test\w+::)?test_\w+$")


def security_section():
    """The whole page: the section moved there whole, its subsections one heading level up."""
    page = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert page.startswith("# Security\n")
    return page


def units(section):
    """Each table row's last cell, and each bullet with its continuation lines: a test name's file is in its unit."""
    found, bullet = [], None
    for line in section.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            if not set(cells[-1]) <= set("-| ") and cells[-1] != "test":
                found.append(("row", cells[0], cells[-1]))
        elif line.startswith("- "):
            bullet = ["bullet", line[2:40], line]
            found.append(bullet)
        elif line.startswith("  ") and bullet is not None:
            bullet[2] += " " + line.strip()
        else:
            bullet = None
    return [tuple(unit) for unit in found]


def named_tests(text):
    """``[(file, name or None)]`` in the order the text names them; ``(None, name)`` for a name with no file before it."""
    named, current = [], None
    for token in re.findall(r"`([^`]+)`", text):
        file_match = FILE.match(token)
        if file_match:
            current = file_match[1]
            named.append((current, file_match[2]))
        elif NAME.match(token):
            named.append((current, token))
    return named


def defined(path):
    """Every ``name`` and ``Class::name`` a test module defines."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.update({item.name, f"{node.name}::{item.name}"})
    return names


def test_every_defence_row_names_at_least_one_test():
    rows = [unit for unit in units(security_section()) if unit[0] == "row"]
    assert len(rows) >= 20
    assert [attack for _, attack, cell in rows if not named_tests(cell)] == []


def test_every_limit_names_its_test():
    section = security_section()
    limits = section[section.index("\n## Limits, and how to tune them\n"):section.index("\n## Fuzzing\n")]
    bullets = [unit for unit in units(limits) if unit[0] == "bullet"]
    assert len(bullets) == 4
    assert [start for _, start, text in bullets if not any(name for _, name in named_tests(text))] == []


def test_every_test_the_security_section_names_exists():
    missing = []
    for _, where, text in units(security_section()):
        for path, name in named_tests(text):
            if path is None:
                missing.append(f"{name} (in {where!r}): name its file before it")
            elif not (ROOT / path).is_file():
                missing.append(f"{path}: no such file")
            elif name is not None and name not in defined(path):
                missing.append(f"{path}::{name}")
    assert missing == []


def test_the_parser_sees_a_misnamed_test():
    # The check above must be able to fail: a name no module defines is reported.
    text = "`tests/test_views.py`: `test_result_requires_login`, `test_that_does_not_exist`"
    names = named_tests(text)
    assert names == [("tests/test_views.py", None), ("tests/test_views.py", "test_result_requires_login"),
                     ("tests/test_views.py", "test_that_does_not_exist")]
    assert "test_result_requires_login" in defined("tests/test_views.py")
    assert "test_that_does_not_exist" not in defined("tests/test_views.py")
