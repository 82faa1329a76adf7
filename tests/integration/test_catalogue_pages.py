"""The public website through the Flask test client: what each page shows, in
which language, with which og: tags, and how bad input and unknown pages are
answered (HTML, never a stack trace)."""

from __future__ import annotations

import re
from html import unescape

from tests.fixtures.catalogue import put_event


def text(response) -> str:
    """The page's visible text, tags removed, whitespace collapsed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"</?(a|strong|span|em|abbr)\b[^>]*>", "", body)  # inline: no gap
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def meta(response, prop: str) -> str | None:
    found = re.search(
        rf'<meta property="{prop}" content="([^"]*)"', response.get_data(as_text=True)
    )
    return unescape(found.group(1)) if found else None


def test_home_lists_upcoming_events_and_offers_the_search(catalogue_client, programme):
    response = catalogue_client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = text(response)
    assert "Upcoming events" in page and "Learning exchange on case management" in page
    assert 'label for="q"' in response.get_data(as_text=True)
    assert meta(response, "og:title") == "Mutual learning catalogue"
    assert meta(response, "og:url").endswith("/?lang=en")


def test_the_event_page_shows_what_where_who_the_practice_papers_and_follow_ups(
    catalogue_client, programme
):
    response = catalogue_client.get(f"/events/{programme['review']}")
    assert response.status_code == 200
    page = text(response)
    assert "Lithuania's PES client-service model" in page
    assert "Vilnius, Lithuania" in page and "Estonia" in page and "Germany" in page
    assert "When 8\u20139 Apr 2016" in page, page
    assert "The practice presented Lithuanian PES client-service model" in page
    html = response.get_data(as_text=True)
    assert f"/v1/documents/{programme['paper']}/content" in html
    assert "What followed Learning exchange on case management" in page
    assert meta(response, "og:description").startswith("Peer review of segmented client")
    # both ways: the follow-up names what it follows up
    follow = text(catalogue_client.get(f"/events/{programme['exchange']}"))
    assert "What it follows up Lithuania's PES client-service model" in follow


def test_the_practice_page_shows_fields_events_papers_and_the_timeline(catalogue_client, programme):
    response = catalogue_client.get(f"/practices/{programme['practice']}")
    assert response.status_code == 200
    page = text(response)
    for part in (
        "Objectives",
        "Lessons learned",
        "Jobseekers",
        "Evaluation",
        "since 2015",
        "Events where it was presented Lithuania's PES client-service model",
        "Host country discussion paper",
    ):
        assert part in page, part
    timeline = page.split("Follow-up across countries", 1)[1]
    assert re.search(r"2017 Lithuania: adopted \(after Lithuania's PES", timeline), timeline
    assert timeline.index("2017") < timeline.index("2030 Estonia: considering")


def test_the_country_page_shows_hosted_attended_practices_and_transfers(
    catalogue_client, programme
):
    page = text(catalogue_client.get("/countries/lt"))
    assert page.count("Lithuania") >= 2
    hosted = page.split("Events hosted", 1)[1].split("Events attended", 1)[0]
    assert "Lithuania's PES client-service model" in hosted
    attended = page.split("Events attended", 1)[1].split("Practices", 1)[0]
    assert "Learning exchange on case management" in attended
    assert "2017 Lithuanian PES client-service model (Lithuania): adopted" in page
    assert "2030 Lithuanian PES" in text(catalogue_client.get("/countries/EE"))


def test_the_search_page_filters_facets_and_pages(catalogue_client, programme):
    response = catalogue_client.get("/search?q=segmented&country=LT")
    assert response.status_code == 200
    page = text(response)
    assert "Search peer learning events and public conferences" in page
    assert "3 results" in page
    for title in (
        "Lithuania's PES client-service model",
        "Host country discussion paper",
        "Lithuanian PES client-service model",
    ):
        assert title in page
    html = response.get_data(as_text=True)
    assert 'option value="LT" selected' in html
    assert "type=practice" in html  # a facet link narrows the search
    paged = catalogue_client.get("/search?page_size=1&page=2")
    assert "Page 2 of" in text(paged) and 'rel="prev"' in paged.get_data(as_text=True)
    empty = text(catalogue_client.get("/search?q=astrology"))
    assert "0 results" in empty and "Nothing matches your search." in empty


def test_languages_come_from_the_switch_the_cookie_or_accept_language(catalogue_client, programme):
    url = f"/events/{programme['review']}"
    french = catalogue_client.get(f"{url}?lang=fr")
    page = text(french)
    assert '<html lang="fr">' in french.get_data(as_text=True)
    assert "Pays hôte Lituanie" in page and "Allemagne" in page and "avr. 2016" in page
    assert french.headers["Content-Language"] == "fr"
    assert meta(french, "og:locale") == "fr_FR"
    assert "lang=fr" in french.headers["Set-Cookie"]
    # the cookie now keeps French; Accept-Language chooses when there is none
    assert "Lituanie" in text(catalogue_client.get(url))
    catalogue_client.delete_cookie("lang")
    german = catalogue_client.get(url, headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert "Gastgeberland Litauen" in text(german) and "Apr. 2016" in text(german)
    practice = text(catalogue_client.get(f"/practices/{programme['practice']}?lang=de"))
    assert "2017 Litauen: übernommen" in practice
    search = text(catalogue_client.get("/search?lang=fr&q=Lituanie"))
    assert "Rechercher des événements" in search and "3 résultats" in search


def test_unknown_pages_and_bad_searches_are_html_pages_not_problems(catalogue_client, programme):
    for url in ("/events/nope", "/practices/nope", "/countries/XX", "/countries/Lithuania"):
        response = catalogue_client.get(url)
        assert response.status_code == 404, url
        assert response.mimetype == "text/html"
        assert "Page not found" in text(response)
    bad = catalogue_client.get("/search?year=abc&q=x")
    assert bad.status_code == 400 and bad.mimetype == "text/html"
    assert "The search could not be run" in text(bad) and "Year:" in text(bad)
    long = catalogue_client.get("/search", query_string={"q": "x" * 300})
    assert long.status_code == 400
    assert catalogue_client.get("/site.css").mimetype == "text/css"
    assert catalogue_client.get("/favicon.svg").mimetype == "image/svg+xml"


def test_a_draft_or_invitation_only_event_has_no_public_page(
    catalogue_client, deliver_to_catalogue
):
    closed = put_event(deliver_to_catalogue, visibility="invitation_only")
    assert catalogue_client.get(f"/events/{closed}").status_code == 404
