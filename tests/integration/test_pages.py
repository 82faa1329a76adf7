"""The pages people open from a mail, through the Flask clients against the real
Mongo-wire server: the RSVP page and the unsubscribe page share the layout,
speak the reader's language and write dates in the event's zone and countries
by name. (tests/browser/test_pages.py renders them in Chromium.)"""

from __future__ import annotations

import html as markup
import re

import pytest

from services.notifications import domain as notifications_domain
from tests.fixtures.invitations import invitee, issued_links, token_of

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

# The Tallinn event: the deadline set at 23:59 local time (21:59 UTC).
TALLINN = {
    "starts_on": "2030-03-10",
    "ends_on": "2030-03-11",
    "registration_deadline": "2030-02-20T21:59:00+00:00",
    "timezone": "Europe/Tallinn",
}
EXPECTED = {
    "en": {
        "dates": "10–11 March 2030",
        "deadline": "Wednesday, 20 February 2030 at 23:59 (Eastern European Standard Time, "
        "GMT+02:00)",
        "venue": "Tallinn, Estonia",
        "guests": "Latvia, Finland and Portugal",
        "accept": "Accept",
    },
    "fr": {
        "dates": "10–11 mars 2030",
        "deadline": "mercredi 20 février 2030 à 23:59 (heure normale d’Europe de l’Est, UTC+02:00)",
        "venue": "Tallinn, Estonie",
        "guests": "Lettonie, Finlande et Portugal",
        "accept": "Accepter",
    },
    "de": {
        "dates": "10.–11. März 2030",
        "deadline": "Mittwoch, 20. Februar 2030 um 23:59 (Osteuropäische Normalzeit, GMT+02:00)",
        "venue": "Tallinn, Estland",
        "guests": "Lettland, Finnland und Portugal",
        "accept": "Zusagen",
    },
}


def _shown(response) -> str:
    """The page's text as a reader sees it: entities decoded, machine-readable
    attributes (``<time datetime>``) left out."""
    return markup.unescape(re.sub(r'datetime="[^"]*"', "", response.get_data(as_text=True)))


def _rsvp_tokens(client, app, event_id, *people):
    from tests.fixtures.invitations import SEC

    response = client.post(
        f"/v1/events/{event_id}/invitations", json={"invitees": list(people)}, headers=SEC
    )
    assert response.status_code == 201, response.json
    db = app.extensions["mlp"].db
    return {
        db.invitations.find_one({"_id": iid})["language"]: token_of(url)
        for iid, url in issued_links(app, event_id).items()
    }


@pytest.fixture
def tallinn_tokens(invitations_client, invitations_app, invitations_published_event):
    event = invitations_published_event(**TALLINN)
    people = [invitee(n, language=lang) for n, lang in enumerate(EXPECTED)]
    return _rsvp_tokens(invitations_client, invitations_app, event["event_id"], *people)


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_the_rsvp_page_writes_dates_in_the_events_zone_and_countries_by_name(
    invitations_client, tallinn_tokens, language
):
    page = invitations_client.get(f"/v1/rsvp/{tallinn_tokens[language]}", headers=HTML)
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    html = _shown(page)
    for text in EXPECTED[language].values():
        assert text in html, text
    assert f'<html lang="{language}">' in html
    assert "Tallinn EE" not in html and "21:59" not in html and "2030-02-20" not in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_the_reader_may_switch_language_and_answers_in_it(invitations_client, tallinn_tokens):
    token = tallinn_tokens["fr"]
    german = invitations_client.get(f"/v1/rsvp/{token}?lang=de", headers=HTML)
    assert EXPECTED["de"]["deadline"] in _shown(german)
    posted = invitations_client.post(
        f"/v1/rsvp/{token}?lang=de", data={"response": "accept"}, headers=HTML
    )
    text = _shown(posted)
    assert posted.status_code == 200 and "Vielen Dank, Ihre Antwort ist gespeichert" in text
    assert 'role="status"' in text and "zugesagt" in text
    # the JSON answer is the same as ever
    assert invitations_client.get(f"/v1/rsvp/{token}").json["status"] == "accepted"


def test_a_refused_answer_shows_why_beside_the_invitation(
    invitations_client, invitations_app, invitations_published_event, deliver_to_invitations
):
    event = invitations_published_event(**TALLINN)
    tokens = _rsvp_tokens(
        invitations_client, invitations_app, event["event_id"], invitee(1, language="fr")
    )
    past = {**event, **TALLINN, "version": 3, "registration_deadline": "2020-02-20T21:59:00Z"}
    deliver_to_invitations("event.updated", past)
    late = invitations_client.post(
        f"/v1/rsvp/{tokens['fr']}", data={"response": "accept"}, headers=HTML
    )
    html = _shown(late)
    assert late.status_code == 409 and 'role="alert"' in html
    assert "Ceci ne peut plus être modifié." in html
    assert "Les réponses sont closes depuis le jeudi 20 février 2020 à 23:59" in html
    assert "<form" not in html
    unknown = invitations_client.get(
        "/v1/rsvp/not-a-token", headers={**HTML, "Accept-Language": "de"}
    )
    assert unknown.status_code == 404 and "Dieser Link ist nicht bekannt" in unknown.get_data(
        as_text=True
    )


def _unsubscribe_path(app, email: str, lang: str) -> str:
    keys = app.extensions["mlp"].settings.unsubscribe_keys
    token = notifications_domain.unsubscribe_token(keys, email)
    return f"/v1/preferences/unsubscribe/{token}?lang={lang}"


def test_the_unsubscribe_page_shows_then_opts_out_in_the_mails_language(
    notifications_client, notifications_app
):
    path = _unsubscribe_path(notifications_app, "page-reader@example.fr", "fr")
    shown = notifications_client.get(path, headers=HTML)
    html = _shown(shown)
    assert shown.status_code == 200 and shown.content_type.startswith("text/html")
    assert '<html lang="fr">' in html and "Rappels et avis de documents" in html
    assert '<form method="post">' in html and "Ne plus recevoir" in html
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    # a GET changed nothing
    assert notifications_client.get(path).json["unsubscribed"] is False
    done = notifications_client.post(path, data={}, headers=HTML)
    html = _shown(done)
    assert done.status_code == 200 and "C'est fait" in html and 'role="status"' in html
    assert "Vous vous êtes désinscrit(e) le" in html and "<form" not in html
    answer = notifications_client.get(path).json
    assert answer["unsubscribed"] is True and answer["since"]
    # the browser's language when the link has none
    german = notifications_client.get(path.split("?")[0], headers={**HTML, "Accept-Language": "de"})
    assert "Sie haben sich am" in _shown(german)
    bad = notifications_client.get(path.replace("?", "x?"), headers=HTML)
    assert bad.status_code == 404 and "Ce lien est inconnu" in _shown(bad)
    assert notifications_client.post(path.replace("?", "x?")).status_code == 404
