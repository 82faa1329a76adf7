"""The shared layout of the pages people open from a mail (shared.pages): the
landmarks and headers every page gets, texts complete in every language, and
which language a reader gets."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from flask import Flask

from shared import pages
from shared.problems import Problem

app = Flask(__name__)


@pytest.fixture
def service_pages(tmp_path: Path) -> pages.Pages:
    (tmp_path / "hello.html").write_text(
        '{% extends "page.html" %}{% block title %}{{ t.title }}{% endblock %}'
        "{% block main %}<h1>{{ t.title }}</h1><p id=d>{{ fmt.days(starts, ends) }}</p>"
        "<p id=c>{{ fmt.country(country) }}</p>{% endblock %}"
    )
    texts = {"en": {"title": "Hello"}, "fr": {"title": "Bonjour"}, "de": {"title": "Hallo"}}
    return pages.Pages(tmp_path, texts)


def test_a_service_page_gets_the_layout_its_texts_and_the_formats(service_pages):
    with app.test_request_context("/x"):
        response = service_pages.response(
            "hello.html", "fr", starts="2027-03-10", ends="2027-03-11", country="EE"
        )
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html and "<title>Bonjour · Programme" in html
    assert '<a class="skip" href="#content">Aller au contenu</a>' in html
    assert '<main id="content"' in html and "<header" in html and "<footer" in html
    assert "<p id=d>10–11 mars 2027</p>" in html and "<p id=c>Estonie</p>" in html
    assert '<a href="?lang=de" hreflang="de" lang="de">Deutsch</a>' in html
    assert "<script" not in html  # nothing needs JavaScript
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_content_security_policy_allows_exactly_the_pages_stylesheet(service_pages):
    with app.test_request_context("/x"):
        response = service_pages.response("hello.html", "en", starts="", ends="", country="")
    html = response.get_data(as_text=True)
    [css] = re.findall(r"<style>(.*?)</style>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert "&#34;" not in css  # the stylesheet is not HTML-escaped


def test_texts_missing_in_a_language_are_refused_when_the_module_loads(tmp_path):
    texts = {"en": {"title": "Hello", "more": "x"}, "fr": {"title": "Bonjour"}, "de": {}}
    with pytest.raises(ValueError, match="fr texts differ"):
        pages.Pages(tmp_path, texts)


@pytest.mark.parametrize(
    "query,preferred,accept,expected",
    [
        ("?lang=de", "fr", "fr", "de"),  # the reader's own choice first
        ("", "fr", "de", "fr"),  # then the language their mail was in
        ("", "et", "de-AT,de;q=0.9,en;q=0.5", "de"),  # then the browser's
        ("?lang=xx", None, "fr-BE", "fr"),
        ("", None, "et,lv", "en"),  # else English
    ],
)
def test_the_readers_language(query, preferred, accept, expected):
    with app.test_request_context(f"/x{query}", headers={"Accept-Language": accept}):
        assert pages.negotiate(preferred) == expected


@pytest.mark.parametrize(
    "accept,html",
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_browsers_get_html_and_api_clients_json(accept, html):
    with app.test_request_context("/x", headers={"Accept": accept}):
        assert pages.wants_html() is html


def test_a_refusal_page_says_what_happened_in_the_readers_language(service_pages):
    with app.test_request_context("/x"):
        response = service_pages.problem(
            Problem(429, "Too many", headers={"Retry-After": "60"}), "de"
        )
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    html = response.get_data(as_text=True)
    assert "Dieser Link kann nicht verwendet werden" in html and 'role="alert"' in html
    assert "in einer Minute" in html


def test_every_pages_texts_are_complete():
    from services.invitations import registration_page, rsvp_page
    from services.notifications import unsubscribe_page

    for module in (rsvp_page, registration_page, unsubscribe_page):
        pages.check_texts(module.TEXTS, module.__name__)
    pages.check_texts(pages.LAYOUT_TEXTS, "layout")


def test_form_fields_tie_their_label_hint_and_error_to_the_input(tmp_path):
    (tmp_path / "form.html").write_text(
        '{% extends "page.html" %}{% from "forms.html" import field, check %}'
        "{% block title %}Form{% endblock %}{% block main %}<form method=post>"
        "{{ field('email', 'E-mail', type='email', required=true, hint='We write to it',"
        " error='Not an address', autocomplete='email') }}"
        "{{ field('country', 'Country', value='EE', options=[('LV', fmt.country('LV')),"
        " ('EE', fmt.country('EE'))]) }}"
        "{{ check('consent', 'I agree', required=true) }}</form>{% endblock %}"
    )
    texts = {lang: {"x": "x"} for lang in ("en", "fr", "de")}
    with app.test_request_context("/x"):
        html = pages.Pages(tmp_path, texts).render("form.html", "fr")
    assert '<label for="f-email">E-mail</label>' in html
    assert 'id="f-email" name="email" type="email" value="" required' in html
    assert 'aria-describedby="f-email-hint f-email-error" aria-invalid="true"' in html
    assert '<p class="field-error" id="f-email-error">Not an address</p>' in html
    assert '<option value="EE" selected>Estonie</option>' in html
    assert '<input id="f-consent" name="consent" type="checkbox" value="true" required>' in html
    assert '<label for="f-consent">I agree</label>' in html
