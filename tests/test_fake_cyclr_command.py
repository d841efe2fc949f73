"""manage.py proxy_fake_cyclr: the fake Cyclr for an integrator's own project, with its snippet configured."""
import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from proxy.cyclr import CyclrClient
from proxy.testing.marketplace import complete_page_over_http

REPO_ROOT = Path(__file__).resolve().parent.parent


def start_command(*args):
    """``manage.py proxy_fake_cyclr`` in a process of its own; ``(process, the summary it printed)``."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "proxy_fake_cyclr", "--port", "0", "--origin", "http://localhost:8123", *args],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed = []
    for line in process.stdout:  # until the last line of the summary
        printed.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    return process, "".join(printed)


def stop_command(process):
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "The fake Cyclr stopped." in stdout and "Traceback" not in stderr


def settings_printed(summary):
    return json.loads("{" + ",".join(re.findall(r'^    ("[A-Z_]+": .+),$', summary, re.M)) + "}")


def test_a_restarted_fake_still_knows_its_accounts_and_installs(tmp_path):
    state = tmp_path / "fake-cyclr-state.json"
    process, summary = start_command("--state-file", str(state))
    try:
        assert f"It keeps its accounts and installs in {state}" in summary
        values = settings_printed(summary)
        client = CyclrClient(api_url=values["API_URL"], client_id=values["CLIENT_ID"], client_secret=values["CLIENT_SECRET"])
        complete_page_over_http(client.mint_marketplace_url("acct-1", marketplace_id=1, complete_parameter="p").url)
        listed = client.list_cycles(account="acct-1")
    finally:
        stop_command(process)
    assert len(listed) == 1

    CyclrClient.forget_tokens()  # the restarted fake issues its own tokens, as after a real restart
    process, summary = start_command("--state-file", str(state))
    try:
        values = settings_printed(summary)
        client = CyclrClient(api_url=values["API_URL"], client_id=values["CLIENT_ID"], client_secret=values["CLIENT_SECRET"])
        assert [c["Id"] for c in client.list_cycles(account="acct-1")] == [c["Id"] for c in listed]
    finally:
        stop_command(process)
        CyclrClient.forget_tokens()


def test_a_state_file_that_is_not_the_fakes_is_a_sentence(tmp_path):
    state = tmp_path / "not-state.json"
    state.write_text("[1, 2]")
    with pytest.raises(CommandError, match=f"{state} is not the fake Cyclr's saved state.*--forget"):
        call_command("proxy_fake_cyclr", "--port", "0", "--origin", "http://localhost:8000", "--state-file", str(state))


def test_it_serves_the_projects_snippet_and_prints_the_settings_to_use(tmp_path):
    process, summary = start_command("--state-file", str(tmp_path / "state.json"))
    try:
        assert "with this project's Launch Complete snippet for http://localhost:8123" in summary, summary
        values = settings_printed(summary)
        assert set(values) == {"API_URL", "CLIENT_ID", "CLIENT_SECRET", "MARKETPLACE_ID", "MARKETPLACE_ORIGINS"}
        assert values["MARKETPLACE_ORIGINS"] == [values["API_URL"]] and values["MARKETPLACE_ID"] == 1

        # Those values work: mint a Marketplace URL, install, and the Launch Complete page runs the kit's snippet.
        client = CyclrClient(api_url=values["API_URL"], client_id=values["CLIENT_ID"], client_secret=values["CLIENT_SECRET"])
        minted = client.mint_marketplace_url("acct-1", marketplace_id=values["MARKETPLACE_ID"], complete_parameter="p")
        page = complete_page_over_http(minted.url).text
        assert "cyclr.launch.complete" in page and '"http://localhost:8123"' in page
        assert "http://localhost:8123/proxy/complete/" in page and "no-complete-html" not in page
    finally:
        stop_command(process)


def test_without_a_configured_snippet_the_fake_says_so_on_its_page(fake_cyclr):
    fake_cyclr.set_complete_html(None)
    client = CyclrClient()
    minted = client.mint_marketplace_url("acct-2", marketplace_id=1, complete_parameter="p")
    page = complete_page_over_http(minted.url).text
    assert 'id="no-complete-html" role="alert"' in page
    assert "your site will keep waiting" in page and "python manage.py proxy_fake_cyclr" in page


def test_an_origin_that_is_not_one_is_a_sentence():
    with pytest.raises(CommandError, match="is not an origin"):
        call_command("proxy_fake_cyclr", "--port", "0", "--origin", "http://localhost:8000/")


def test_no_origin_at_all_is_a_sentence(settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "HOST_ORIGINS": []}
    with pytest.raises(CommandError, match="HOST_ORIGINS"):
        call_command("proxy_fake_cyclr", "--port", "0")


def test_a_port_in_use_is_a_sentence():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            call_command("proxy_fake_cyclr", "--port", str(port))
