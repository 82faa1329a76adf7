"""The catalogue's rules without I/O: normalisation, weighted terms, what the
public sees, ranking, facets, the lead predicate, similar practices."""

from __future__ import annotations

import pytest

from services.catalogue import domain
from services.catalogue.domain import Hit
from shared.errors import IllegalTransition


def test_words_are_case_and_accent_folded_stop_words_dropped_plurals_folded():
    assert domain.words("Les politiques d'Équité — Straße, Ørsted, Łódź; SKILLS and the ß") == [
        "politique",
        "equite",
        "strasse",
        "orsted",
        "lodz",
        "skill",
        "ss",
    ]
    assert domain.words("class status bus 2017 a") == ["class", "status", "bus", "2017"]
    assert domain.query_terms("Skills skill SKILLS forecasting") == ["skill", "forecasting"]


def test_every_published_vocabulary_value_has_labels_in_every_language():
    for vocabulary, values in domain.VOCABULARIES.items():
        for value in values:
            for language in domain.LANGUAGES:
                assert domain.LABELS[vocabulary][value][language], (vocabulary, value, language)


def test_country_names_come_from_cldr_in_the_page_language():
    assert [domain.country_name("LT", lang) for lang in domain.LANGUAGES] == [
        "Lithuania",
        "Lituanie",
        "Litauen",
    ]
    assert domain.country_name("XX") == "XX"


PRACTICE = {
    "id": "p1",
    "publication": "published",
    "title": "Individual taxation",
    "country": "SE",
    "summary": "Separate assessment of each spouse's income.",
    "objectives": "Work pays for second earners.",
    "policy_area": "gender_equality",
    "target_groups": ["women"],
    "tags": ["taxation"],
    "start_year": 1971,
    "transfers": [{"country": "DE", "stage": "considering", "year": 2018}],
}


def test_practice_terms_weigh_the_title_above_the_summary_and_index_names_in_three_languages():
    weights = domain.practice_terms(PRACTICE)
    assert weights["taxation"] == domain.WEIGHTS["title"]
    assert weights["separate"] == domain.WEIGHTS["summary"]
    assert weights["earner"] == domain.WEIGHTS["practice_text"]
    for name in ("sweden", "suede", "schweden", "egalite", "gleichstellung", "femme", "frauen"):
        assert name in weights, name


def test_a_practice_entry_exists_only_while_published_and_counts_transfer_countries():
    entry = domain.practice_entry(PRACTICE)
    assert entry["_id"] == "practice:p1" and entry["year"] == 1971
    assert entry["countries"] == ["DE", "SE"]
    assert domain.practice_entry({**PRACTICE, "publication": "withdrawn"}) is None


EVENT = {
    "id": "e1",
    "title": "Individual taxation in Sweden",
    "summary": "Exchange of good practice.",
    "format": "good_practice_seminar",
    "host_country": "SE",
    "guest_countries": ["DE"],
    "starts_on": "2017-06-13",
    "visibility": "invitation_only",
    "status": "completed",
}


@pytest.mark.parametrize(
    ("status", "visibility", "public"),
    [
        ("draft", "public", False),
        ("published", "public", True),
        ("published", "invitation_only", False),
        ("completed", "invitation_only", True),
        ("cancelled", "public", False),
    ],
)
def test_which_events_the_public_sees(status, visibility, public):
    assert domain.event_is_public({"status": status, "visibility": visibility}) is public


def test_event_and_paper_entries_inherit_the_words_of_what_they_belong_to():
    event = domain.event_entry(EVENT, [PRACTICE])
    assert event["policy_areas"] == ["gender_equality"] and event["year"] == 2017
    assert event["weights"]["spouse"] == domain.WEIGHTS["related"]  # the practice's summary
    paper = {"id": "d1", "status": "published", "kind": "discussion_paper", "title": "Paper"}
    entry = domain.paper_entry(paper, EVENT, [PRACTICE])
    assert {"sweden", "exchange", "discussion", "diskussionspapier"} <= set(entry["terms"])
    assert "spouse" not in entry["terms"] and entry["policy_areas"] == ["gender_equality"]
    assert entry["event_id"] == "e1" and entry["countries"] == ["DE", "SE"]
    assert domain.paper_entry({**paper, "status": "withdrawn"}, EVENT, []) is None
    assert domain.paper_entry(paper, {**EVENT, "status": "published"}, []) is None
    assert domain.paper_entry(paper, None, []) is None


def _hit(id_, score=0, date="2020-01-01", **kw):
    base = dict(type="event", countries=("SE",), policy_areas=(), formats=(), year=2020)
    return Hit(id=id_, date=date, score=score, **{**base, **kw})


def test_rank_by_relevance_then_newer_then_id_and_by_date_either_way():
    hits = [_hit("b", 3, "2019-01-01"), _hit("a", 3, "2019-01-01"), _hit("c", 9), _hit("d", 3)]
    assert [h.id for h in domain.rank(hits, "relevance")] == ["c", "d", "a", "b"]
    assert [h.id for h in domain.rank(hits, "-date")] == ["c", "d", "a", "b"]
    assert [h.id for h in domain.rank(hits, "date")] == ["a", "b", "c", "d"]


def test_facets_count_the_result_set_per_value():
    hits = [_hit("a", countries=("SE", "DE")), _hit("b", type="paper", year=None)]
    facets = domain.facet_counts(hits)
    assert facets["type"] == {"event": 1, "paper": 1}
    assert facets["country"] == {"SE": 2, "DE": 1}
    assert facets["year"] == {"2020": 1}


def test_the_lead_predicate_is_the_longest_term_else_the_narrowest_filter():
    assert domain.lead_predicate(["pay", "transparency"], {"type": "event"}) == (
        "terms",
        "transparency",
    )
    assert domain.lead_predicate([], {"type": "event", "year": 2016}) == ("year", 2016)
    with pytest.raises(ValueError):
        domain.lead_predicate([], {})
    doc = {"countries": ["SE", "DE"], "type": "event", "year": 2017}
    assert domain.matches(doc, {"pay": 3}, ["pay"], {"countries": "DE", "type": "event"})
    assert not domain.matches(doc, {"pay": 3}, ["pay", "gap"], {})
    assert not domain.matches(doc, {}, [], {"countries": "FR"})
    assert not domain.matches(doc, {}, [], {"year": 2016})


def test_similar_practices_need_the_area_and_a_shared_target_group():
    other = {**PRACTICE, "id": "p2", "tags": ["Taxation"], "start_year": 1990}
    newer = {**PRACTICE, "id": "p3", "tags": [], "start_year": 2000}
    elsewhere = {**PRACTICE, "id": "p4", "policy_area": "training"}
    nobody = {**PRACTICE, "id": "p5", "target_groups": ["employers"]}
    found = domain.similar_practices(PRACTICE, [newer, other, elsewhere, nobody, PRACTICE])
    assert [p["id"] for p in found] == ["p2", "p3"] and found[0]["shared_tags"] == 1


def test_practice_rules_and_lifecycle():
    assert domain.validate_practice({"start_year": 2017, "end_year": 2015})["end_year"]
    assert domain.validate_practice({"status": "ended"})["end_year"]
    assert domain.validate_practice({"tags": ["PES", "pes"]})["tags"]
    assert domain.validate_practice({"status": "ended", "end_year": 2020}) == {}
    assert domain.next_publication("publish", "withdrawn") == ("published", "practice.published")
    with pytest.raises(IllegalTransition):
        domain.next_publication("withdraw", "draft")


def test_the_timeline_runs_by_year_and_registration_waits_for_open_events():
    transfers = [{"year": 2019, "country": "LV"}, {"year": 2017, "country": "LT"}]
    assert [t["country"] for t in domain.timeline({"transfers": transfers})] == ["LT", "LV"]
    assert domain.registration_url(EVENT) is None
    open_event = {"status": "published", "registration": "open", "registration_url": "/r/e1"}
    assert domain.registration_url(open_event) == "/r/e1"


def test_settings_name_the_variable_of_a_bad_search_strategy():
    from services.catalogue.config import load_settings

    settings = load_settings({"MLP_DOCUMENTS_PUBLIC_URL": "https://papers.example.org/"})
    assert settings.search == "terms" and settings.port == 8006
    assert settings.documents_public_url == "https://papers.example.org"
    assert settings.database == "mlp_catalogue"
    with pytest.raises(SystemExit, match="MLP_CATALOGUE_SEARCH"):
        load_settings({"MLP_CATALOGUE_SEARCH": "fulltext"})


def test_the_search_query_of_each_strategy():
    from services.catalogue.store import search_query

    query, projection = search_query("terms", ["pay", "transparency"], {"countries": "BE"})
    assert query == {"terms": "transparency"}
    assert projection["weights.pay"] == 1 and projection["weights.transparency"] == 1
    query, projection = search_query("text", ["pay", "gap"], {"countries": "BE"})
    assert query == {"$text": {"$search": '"pay" "gap"'}, "countries": "BE"}
    assert projection["score"] == {"$meta": "textScore"}
    assert search_query("text", [], {"type": "event"})[0] == {"type": "event"}
    assert search_query("terms", [], {})[0] == {}
