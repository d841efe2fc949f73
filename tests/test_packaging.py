"""The wheel, installed with [test] into a fresh virtualenv and a fresh startproject wired with the README's code
blocks (its settings, urls.py, asgi.py and page, pasted as they are), passes `check`, renders
{% connect_button %}, and runs the README's example test (fake_cyclr and cyclr_install only) to one
install_completed.

Slow (it builds a wheel and installs from PyPI, with pip's cache), so it is one test, marked `packaging`.
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def readme_block(first_line):
    """The README's fenced code block whose first line is ``first_line``, dedented (the quickstart indents)."""
    for match in re.finditer(r"^( *)```[a-z]*\n(.*?)^\1```$", README, re.S | re.M):
        code = textwrap.dedent(match.group(1) + match.group(2).replace("\n" + match.group(1), "\n"))
        if code.splitlines()[0].strip() == first_line:
            return code
    raise AssertionError(f"The README has no code block starting with {first_line!r}")


def run(*command, cwd, env, timeout=600):
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} exited {done.returncode}\n--- stdout ---\n"
                             f"{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}")
    return done.stdout


RENDER = "from django.template.loader import render_to_string; print(render_to_string('connect.html'))"
FRENCH = ("from django.utils import translation; from proxy.errors import default_message; "
          "translation.activate('fr'); print(default_message('not_found'))")


@pytest.mark.packaging
def test_the_wheel_in_a_fresh_project_checks_clean_renders_the_button_and_installs(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    # From a clean copy: setuptools reuses a build/ directory, and a stale one would ship files the tree no longer has.
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "var", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "node_modules"))
    run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--quiet", "--wheel-dir", tmp_path / "dist",
        cwd=tmp_path, env=env)
    (wheel,) = (tmp_path / "dist").glob("cyclr_hostkit-*.whl")
    with zipfile.ZipFile(wheel) as shipped:  # the translations: Django reads the compiled .mo
        assert {"proxy/locale/fr/LC_MESSAGES/django.mo", "proxy/locale/fr/LC_MESSAGES/django.po"} <= set(shipped.namelist())
    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path, env=env)
    python = tmp_path / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", f"{wheel}[test]", cwd=tmp_path, env=env, timeout=900)

    project = tmp_path / "project"
    project.mkdir()
    run(tmp_path / "venv" / "bin" / "django-admin", "startproject", "mysite", project, cwd=tmp_path, env=env)
    settings = project / "mysite" / "settings.py"
    # The quickstart's steps 1 to 4, pasted as they are: its settings (development values, LOGGING's filter
    # included: runserver's access log masks the webhook's secret, proxy.W008 without it), urls.py, asgi.py, page.
    settings_block = readme_block("# yourproject/settings.py: append (development values; the production change on each line)")
    settings.write_text(settings.read_text() + "\n" + settings_block.replace("yourproject", "mysite"))
    (project / "mysite" / "urls.py").write_text(readme_block("# yourproject/urls.py").replace("yourproject", "mysite"))
    (project / "mysite" / "asgi.py").write_text(
        readme_block("# yourproject/asgi.py").replace("yourproject", "mysite"))
    (project / "templates").mkdir()
    (project / "templates" / "connect.html").write_text(readme_block("{% load proxy %}<!doctype html>"))

    manage = [python, project / "manage.py"]
    checked = run(*manage, "check", cwd=project, env=env)
    assert "System check identified no issues (0 silenced)." in checked
    run(*manage, "migrate", "--verbosity", "0", cwd=project, env=env)
    button = run(*manage, "shell", "-c", RENDER, cwd=project, env=env)
    assert '<button type="button" id="hostkit-connect-1"' in button
    assert 'data-hostkit-connect data-launch-url="/proxy/launch/" data-mode="popup"' in button
    assert '<script src="/static/proxy/js/connect-button.min.js"></script>' in button
    french = run(*manage, "shell", "-c", FRENCH, cwd=project, env=env)
    assert "Ce lancement n'existe pas." in french

    (project / "pytest.ini").write_text("[pytest]\nDJANGO_SETTINGS_MODULE = mysite.settings\n")
    (project / "tests").mkdir()
    example = readme_block("# tests/test_cyclr_install.py")
    assert "fake_cyclr, cyclr_install" in example
    (project / "tests" / "test_cyclr_install.py").write_text(example)
    outcome = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=project, env=env)
    assert "1 passed" in outcome
    # Named on the command line too (as this repository's pyproject does), the plugin still loads once.
    outcome = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "proxy.testing.pytest_plugin", "tests",
                  cwd=project, env=env)
    assert "1 passed" in outcome
