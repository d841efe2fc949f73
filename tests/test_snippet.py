"""The Launch Complete snippet: rendering, escaping, and the proxy_snippet command's errors."""
import re
import shutil
import subprocess

import pytest
from django.core.management import CommandError, call_command

from proxy.snippet import render_launch_complete_html

COMPLETE_URL = "http://localhost:8000/proxy/complete/"


def script_of(html):
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 1, "the snippet is one self-contained script"
    return scripts[0]


def test_bakes_in_each_origin_and_the_complete_url():
    html = render_launch_complete_html(["https://app.example.com", "http://localhost:8000"], COMPLETE_URL)

    script = script_of(html)
    assert 'var HOST_ORIGINS = ["https://app.example.com", "http://localhost:8000"];' in script
    assert f'var COMPLETE_URL = "{COMPLETE_URL}";' in script
    assert '"cyclr.launch.complete"' in script
    assert 'id="cyclr-complete-ok"' in html
    assert html.lstrip().startswith("<!--") and "manage.py proxy_snippet" in html.split("-->")[0]


def test_never_posts_to_any_origin():
    script = script_of(render_launch_complete_html(["https://app.example.com"], COMPLETE_URL))

    assert "'*'" not in script and '"*"' not in script


def test_complete_url_cannot_break_out_of_the_script():
    html = render_launch_complete_html(["https://app.example.com"], "https://app.example.com/x/</script><b>&/")

    assert html.count("</script>") == 1
    assert "\\u003C/script\\u003E\\u003Cb\\u003E\\u0026" in script_of(html)


def test_duplicate_origins_are_posted_to_once():
    html = render_launch_complete_html(["https://a.example", "https://a.example"], COMPLETE_URL)

    assert 'var HOST_ORIGINS = ["https://a.example"];' in html


@pytest.mark.parametrize("origin", [
    "https://app.example.com/", "https://app.example.com/path", "app.example.com", "ftp://app.example.com",
    "https://user@app.example.com", "https://App.Example.com", "*", "",
])
def test_rejects_what_is_not_an_origin(origin):
    with pytest.raises(ValueError, match="scheme://host"):
        render_launch_complete_html([origin], COMPLETE_URL)


def test_needs_an_origin_and_an_absolute_complete_url():
    with pytest.raises(ValueError):
        render_launch_complete_html([], COMPLETE_URL)
    with pytest.raises(ValueError):
        render_launch_complete_html(["https://app.example.com"], "/proxy/complete/")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_script_is_valid_javascript(tmp_path):
    path = tmp_path / "snippet.js"
    path.write_text(script_of(render_launch_complete_html(["https://app.example.com"], COMPLETE_URL)))

    subprocess.run(["node", "--check", str(path)], check=True, capture_output=True)


def test_command_prints_the_snippet_for_host_origins(settings, capsys):
    settings.CYCLR_PROXY = {"HOST_ORIGINS": ["https://app.example.com"]}

    call_command("proxy_snippet")

    out = capsys.readouterr().out
    assert 'var HOST_ORIGINS = ["https://app.example.com"];' in out
    assert 'var COMPLETE_URL = "https://app.example.com/proxy/complete/";' in out


def test_command_origin_option_replaces_settings(settings, capsys):
    settings.CYCLR_PROXY = {"HOST_ORIGINS": ["https://app.example.com"]}

    call_command("proxy_snippet", "--origin", "https://b.example", "--origin", "http://c.example:8080")

    out = capsys.readouterr().out
    assert 'var HOST_ORIGINS = ["https://b.example", "http://c.example:8080"];' in out
    assert "https://app.example.com" not in out


def test_command_writes_to_a_file(settings, tmp_path, capsys):
    settings.CYCLR_PROXY = {"HOST_ORIGINS": ["https://app.example.com"]}
    target = tmp_path / "launch_complete.html"

    call_command("proxy_snippet", "--output", str(target))

    assert "<script>" in target.read_text(encoding="utf-8")
    assert "<script>" not in capsys.readouterr().out


def test_command_without_origins_says_how_to_set_them(settings):
    settings.CYCLR_PROXY = {"HOST_ORIGINS": []}

    with pytest.raises(CommandError, match=r'CYCLR_PROXY\["HOST_ORIGINS"\].*--origin'):
        call_command("proxy_snippet")


def test_command_rejects_an_origin_with_a_path(settings):
    settings.CYCLR_PROXY = {"HOST_ORIGINS": ["https://app.example.com"]}

    with pytest.raises(CommandError, match="not an origin"):
        call_command("proxy_snippet", "--origin", "https://app.example.com/proxy/")
