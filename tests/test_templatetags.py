"""{% load proxy %}: {% hostkit_script %}, {% connect_button %} and {% orbit_button %}."""
import json
import re

import pytest
from django.template import TemplateSyntaxError, engines
from django.test import RequestFactory
from django.utils import translation

from proxy.templatetags.proxy import HOSTKIT_TEXT, SCRIPTS


def render(source, context=None, request=None):
    return engines["django"].from_string("{% load proxy %}" + source).render(context or {}, request)


def test_hostkit_script_renders_the_kits_scripts_without_a_nonce():
    html = render("{% hostkit_script %}")
    texts, scripts = html.split("</script>\n", 1)
    assert texts.startswith('<script id="hostkit-text" type="application/json">')
    assert scripts == ('<script src="/static/proxy/js/hostkit.min.js"></script>\n'
                       '<script src="/static/proxy/js/connect-button.min.js"></script>')
    assert SCRIPTS == ("proxy/js/hostkit.min.js", "proxy/js/connect-button.min.js")


def test_hostkit_text_gives_the_script_its_sentences_in_the_pages_language():
    html = render("{% hostkit_text %}")
    texts = json.loads(re.fullmatch(r'<script id="hostkit-text" type="application/json">(.*)</script>', html).group(1))
    assert set(texts) == set(HOSTKIT_TEXT) and texts["asking"] == "Still connecting?"
    with translation.override("fr"):
        assert json.loads(re.search(r">(.*)<", render("{% hostkit_text %}")).group(1))["asking"] == "Toujours en cours\u00a0?"


def test_hostkit_script_takes_a_nonce_argument():
    assert render('{% hostkit_script nonce="abc123" %}').count('nonce="abc123"') == 2


def test_hostkit_script_finds_the_nonce_of_django_csp_and_of_djangos_context_processor():
    request = RequestFactory().get("/")
    request.csp_nonce = "from-request"
    assert render("{% hostkit_script %}", request=request).count('nonce="from-request"') == 2
    assert render("{% hostkit_script %}", {"csp_nonce": "from-context"}).count('nonce="from-context"') == 2


def test_a_nonce_is_escaped():
    assert 'nonce="a&quot;&gt;"' in render('{% hostkit_script nonce=n %}', {"n": 'a">'})


def test_connect_button_is_a_labelled_button_wired_by_data_attributes():
    html = render('{% connect_button "Connect" mode="popup" %}')
    assert '<button type="button" id="hostkit-connect-1" class="hostkit-connect"' in html
    assert 'data-hostkit-connect data-launch-url="/proxy/launch/" data-mode="popup"' in html
    assert 'aria-describedby="hostkit-connect-1-status">Connect</button>' in html
    assert '<span id="hostkit-connect-1-status" class="hostkit-connect-status" role="status" aria-live="polite">' in html
    assert "data-container" not in html and "data-fallback" not in html


def test_connect_button_has_a_default_label_and_escapes_one_given():
    assert ">Connect an integration</button>" in render("{% connect_button %}")
    assert ">&lt;b&gt;Connect&lt;/b&gt;</button>" in render("{% connect_button label %}", {"label": "<b>Connect</b>"})


def test_connect_button_passes_marketplace_and_launch_preset_in_the_url():
    html = render('{% connect_button "Go" marketplace=12 launch="crm sync" fallback="http" %}')
    assert 'data-launch-url="/proxy/launch/?marketplace=12&amp;launch=crm+sync"' in html
    assert 'data-fallback="http"' in html


def test_two_buttons_on_a_page_get_their_own_ids_and_an_id_can_be_given():
    html = render('{% connect_button "A" %}{% connect_button "B" %}{% connect_button "C" id="crm" class="primary big" %}')
    assert 'id="hostkit-connect-1"' in html and 'id="hostkit-connect-2"' in html
    assert 'id="crm" class="hostkit-connect primary big"' in html and 'id="crm-status"' in html


def test_inline_mode_renders_a_box_for_the_frame_unless_given_a_container():
    html = render('{% connect_button "Go" mode="inline" %}')
    assert 'data-mode="inline" data-container="#hostkit-connect-1-frame"' in html
    assert '<div id="hostkit-connect-1-frame" class="hostkit-connect-frame"></div>' in html
    html = render('{% connect_button "Go" mode="inline" container="#mine" %}')
    assert 'data-container="#mine"' in html and "hostkit-connect-frame" not in html


@pytest.mark.parametrize("source, message", [
    ('{% connect_button "Go" mode="window" %}', "mode 'window' is not one of popup, inline, redirect"),
    ('{% connect_button "Go" marketplace="12a" %}', "marketplace must be a Marketplace id"),
    ('{% connect_button "Go" marketplace=0 %}', "marketplace must be a Marketplace id"),
    ('{% connect_button "Go" colour="red" %}', "does not take colour"),
])
def test_bad_arguments_are_a_template_error_with_a_sentence(source, message):
    with pytest.raises(TemplateSyntaxError, match=message):
        render(source)


def test_the_button_comes_from_an_overridable_template(settings, tmp_path):
    (tmp_path / "proxy").mkdir()
    (tmp_path / "proxy" / "connect_button.html").write_text('<a href="{{ launch_url }}" data-hostkit-connect>{{ label }}</a>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    assert render('{% connect_button "Mine" %}') == '<a href="/proxy/launch/" data-hostkit-connect>Mine</a>'


def test_orbit_button_is_a_labelled_button_wired_to_hostkit_manage():
    html = render('{% orbit_button %}{% orbit_button "Yours" id="mine" class="secondary" %}')
    assert '<button type="button" id="hostkit-manage-1" class="hostkit-manage"' in html
    assert 'data-hostkit-manage data-orbit-url="/proxy/orbit/"' in html
    assert 'aria-describedby="hostkit-manage-1-status">Manage integrations</button>' in html
    assert '<span id="hostkit-manage-1-status" class="hostkit-manage-status" role="status" aria-live="polite">' in html
    assert 'id="mine" class="hostkit-manage secondary"' in html and ">Yours</button>" in html


def test_orbit_button_refuses_unknown_arguments_with_a_sentence():
    with pytest.raises(TemplateSyntaxError, match="orbit_button does not take mode: use id or class"):
        render('{% orbit_button "Manage" mode="popup" %}')


def test_the_orbit_button_comes_from_an_overridable_template(settings, tmp_path):
    (tmp_path / "proxy").mkdir()
    (tmp_path / "proxy" / "orbit_button.html").write_text('<a href="{{ orbit_url }}" data-hostkit-manage>{{ label }}</a>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    assert render('{% orbit_button "Mine" %}') == '<a href="/proxy/orbit/" data-hostkit-manage>Mine</a>'
