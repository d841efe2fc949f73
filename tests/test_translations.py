"""Every sentence a person sees comes from Django's catalogue, in their language.

The shipped catalogue (proxy/locale/fr/) must hold exactly the sentences in the sources, each translated and not
fuzzy, compiled into its .mo (scripts/messages.py --check, run here, so `make test` and the CI fail otherwise).
Done when a page, an error answer and a script prompt come out in French for a request in French.
"""
import asyncio
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from proxy import errors, limits
from proxy.exceptions import LaunchRejected

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("messages", ROOT / "scripts" / "messages.py")
messages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(messages)

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr"}
NOT_FOUND_FR = "Ce lancement n'existe pas. Recommencez depuis le bouton Connecter."


@pytest.fixture(autouse=True)
def back_to_the_default_language():
    # LocaleMiddleware activates the request's language and leaves it active on the thread (Django's own way: the
    # next request activates its own). The test client runs requests on the test's thread: undo it after each test.
    yield
    translation.deactivate()


def need_gettext():
    if not shutil.which("xgettext") or not shutil.which("msgmerge"):
        pytest.fail("GNU gettext is missing (xgettext, msgmerge): run scripts/ensure-gettext.sh (make test does)")


# --- the catalogue ---------------------------------------------------------------------------------------------


def test_the_catalogue_holds_every_sentence_of_the_sources_translated_and_compiled():
    need_gettext()
    assert messages.languages() == ["fr"]
    assert messages.problems() == [], "run: make messages (then translate what is new, and run it again)"


@pytest.fixture
def proxy_copy(tmp_path):
    copy = tmp_path / "proxy"
    shutil.copytree(messages.PROXY_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_a_sentence_outside_the_catalogue_is_found(proxy_copy):
    need_gettext()
    (proxy_copy / "new_door.py").write_text(
        'from django.utils.translation import gettext as _\n\nSAID = _("A sentence nobody translated yet.")\n')
    found = messages.problems(proxy_copy)
    assert len(found) == 1 and "lacks a sentence" in found[0] and "A sentence nobody translated yet." in found[0]


def test_an_untranslated_a_fuzzy_or_an_uncompiled_sentence_is_found(proxy_copy):
    need_gettext()
    po = proxy_copy / "locale/fr/LC_MESSAGES/django.po"
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "Cancel"\nmsgstr "Annuler"', 'msgid "Cancel"\nmsgstr ""')
    text = text.replace('msgid "Connected."\nmsgstr "Connecté."', '#, fuzzy\nmsgid "Connected."\nmsgstr "Connecté."')
    text = text.replace('msgid "Nothing changed."\nmsgstr "Rien n\'a changé."',
                        'msgid "Nothing changed."\nmsgstr "Aucun changement."')
    po.write_text(text, encoding="utf-8")
    found = "\n".join(messages.problems(proxy_copy))
    assert "'Cancel' is not translated" in found
    assert "'Connected.' is marked fuzzy" in found
    assert "django.mo is older than its .po" in found


def test_every_registered_sentence_and_limit_has_its_french():
    for code, error in errors.REGISTRY.items():
        with translation.override("fr"):
            french = str(error.message)
        assert french != str(error.message) and french == errors.default_message(code) or code, code
    with translation.override("fr"):
        said = limits.MESSAGES[limits.LAUNCHES] % {"retry_after": 1}
        assert said.endswith("Patientez 1 seconde, puis réessayez.")
        assert (limits.MESSAGES[limits.LAUNCHES] % {"retry_after": 30}).endswith("Patientez 30 secondes, puis réessayez.")


def test_a_proxy_error_speaks_the_language_it_is_raised_in():
    assert LaunchRejected("not_found").message == errors.REGISTRY["not_found"].message
    with translation.override("fr"):
        refusal = LaunchRejected("not_found")
    assert refusal.message == NOT_FOUND_FR and isinstance(refusal.message, str)
    assert str(refusal) == f"[not_found] {NOT_FOUND_FR}"


# --- done when: a page, an error answer and a script prompt, in French ----------------------------------------------


def signed_in(user, **headers):
    client = Client(**headers)
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_the_proxy_page_comes_out_in_french(cyclr, user):
    html = signed_in(user, **FRENCH).get(reverse("proxy:launch")).content.decode()
    assert '<html lang="fr">' in html
    assert "<title>Connecter une intégration</title>" in html
    assert 'data-ready="Choisissez et configurez votre intégration ci-dessous."' in html
    assert 'data-stuck="Si la Marketplace ci-dessous reste vide' in html
    assert "Ouvrir la Marketplace dans cette fenêtre" in html
    english = signed_in(user).get(reverse("proxy:launch")).content.decode()
    assert '<html lang="en">' in english and "<title>Connect an integration</title>" in english


@pytest.mark.django_db(transaction=True)
def test_an_error_page_comes_out_in_french(cyclr, user):
    response = signed_in(user, **FRENCH).get(reverse("proxy:launch") + "?mode=bogus")
    assert response.status_code == 400
    html = response.content.decode()
    assert "<title>Mode inconnu</title>" in html
    assert "Le mode &#x27;bogus&#x27; n&#x27;est pas pris en charge ici" in html


@pytest.mark.django_db(transaction=True)
def test_an_error_answer_comes_out_in_french(user):
    missing = reverse("proxy:status", args=["7c9e6679-7425-40de-944b-e07fc1f90ae7"])
    answer = signed_in(user, **FRENCH).get(missing).json()
    assert answer["code"] == "not_found" and answer["message"] == NOT_FOUND_FR
    # The language cookie, as Django's set_language view leaves it, says the same.
    client = signed_in(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    assert client.get(missing).json()["message"] == NOT_FOUND_FR
    # A refused delivery (proxy:result), signed out.
    refused = Client(**FRENCH).post(reverse("proxy:result", args=["7c9e6679-7425-40de-944b-e07fc1f90ae7"]),
                                    "{}", content_type="application/json")
    assert refused.status_code == 401
    assert refused.json()["message"] == "Vous êtes déconnecté. Reconnectez-vous à l'application, puis relancez la connexion."


@pytest.mark.django_db(transaction=True)
def test_a_socket_refuses_in_the_language_of_its_handshake():
    from tests.asgi import application

    async def refusal(headers):
        socket = WebsocketCommunicator(application, "/ws/proxy/launches/not-a-uuid/", headers=headers)
        await socket.connect()
        frame = json.loads(await socket.receive_from())
        await socket.wait()
        return frame["message"]

    origin = (b"origin", b"http://localhost:8000")
    assert asyncio.run(refusal([origin, (b"accept-language", b"fr-FR,fr;q=0.9")])) == \
        "Il n'y a pas de WebSocket à cette adresse."
    assert asyncio.run(refusal([origin, (b"cookie", b"django_language=fr")])) == "Il n'y a pas de WebSocket à cette adresse."
    assert asyncio.run(refusal([origin])) == "There is no WebSocket at this address."


def test_the_scripts_prompts_come_out_in_french():
    from django.template import engines

    page = "{% load proxy %}{% connect_button %}{% hostkit_script %}"
    with translation.override("fr"):
        html = engines["django"].from_string(page).render({})
    texts = json.loads(re.search(r'<script id="hostkit-text" type="application/json">(.*?)</script>', html).group(1))
    assert texts["asking"] == "Toujours en cours\u00a0?"
    assert texts["reopen"] == "Rouvrir la fenêtre" and texts["cancel"] == "Annuler"
    assert ">Connecter une intégration</button>" in html
    assert 'data-text-pending="Terminez dans la fenêtre de la Marketplace…"' in html


def test_the_snippet_speaks_the_language_it_is_generated_in():
    from proxy.snippet import render_launch_complete_html

    with translation.override("fr"):
        html = render_launch_complete_html(["https://app.example.com"], "https://app.example.com/proxy/complete/")
    assert '<p id="cyclr-complete-message">Finalisation…</p>' in html
    assert 'say("Terminé. Vous pouvez fermer cette fenêtre.");' in html
    assert "l\\u0027installation" in html  # an apostrophe, escaped for the script, never as an HTML entity
