"""Rules of the surveys service without I/O: the bank in three languages,
answer validation, suppression with its complement, the insertion shuffle,
results and programme aggregates against a hand computation, the chart, and
the settings' refusals."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

from services.surveys import charts, domain
from services.surveys.config import load_settings
from shared.errors import Conflict, Invalid, NotFound
from shared.payloads.surveys import SurveyLinkPayloadSchema, SurveyPayloadSchema


def test_every_bank_text_exists_in_english_french_and_german():
    for question in domain.BANK:
        assert set(question["text"]) == set(domain.LANGUAGES)
        assert len(set(question["text"].values())) == 3  # really translated
        for option in question.get("options", []):
            assert set(option["text"]) == set(domain.LANGUAGES)
    for labels in domain.SCALE_LABELS.values():
        assert set(labels) == set(domain.LANGUAGES)
    assert domain.STATEMENTS == ("knowledge", "understanding", "needs_matched")


def test_questions_are_presented_in_the_contract_shape():
    shown = domain.present(domain.BANK[4], "de")
    assert shown == {
        "id": "use_learning",
        "type": "choice",
        "text": "Werden Sie das Gelernte in Ihrer Arbeit anwenden?",
        "required": True,
        "options": [
            {"id": "yes", "text": "Ja"},
            {"id": "partly", "text": "Teilweise"},
            {"id": "no", "text": "Nein"},
        ],
    }
    assert domain.present(domain.BANK[0], "fr")["options"][4] == {
        "id": 5,
        "text": "Tout à fait d'accord",
    }
    assert domain.language_of("pt-BR") == "en" and domain.language_of("FR-be") == "fr"


def _answers(**values):
    return [{"question_id": k, "value": v} for k, v in values.items()]


FULL = {"knowledge": 5, "understanding": 4, "needs_matched": 3, "overall": 4, "use_learning": "no"}


def test_valid_answers_are_kept_and_blank_texts_dropped():
    stored = domain.validate_answers(
        list(domain.BANK), _answers(**FULL, explore_further="  OSKA  ", next_steps="   ")
    )
    assert stored == {**FULL, "explore_further": "OSKA"}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({**FULL, "knowledge": 6}, "knowledge", "Give a whole number from 1 to 5."),
        ({**FULL, "overall": 2.5}, "overall", "Give a whole number from 1 to 5."),
        ({**FULL, "overall": False}, "overall", "Give a whole number from 1 to 5."),
        ({**FULL, "use_learning": "yes please"}, "use_learning", "Choose one of yes, partly, no."),
        (
            {k: v for k, v in FULL.items() if k != "needs_matched"},
            "needs_matched",
            "This question needs an answer.",
        ),
        ({**FULL, "needs_matched": None}, "needs_matched", "This question needs an answer."),
        ({**FULL, "venue": "good"}, "venue", "There is no such question in this survey."),
        ({**FULL, "next_steps": 42}, "next_steps", "Give a text."),
    ],
)
def test_invalid_answers_are_refused_with_the_question_named(values, field, message):
    with pytest.raises(Invalid) as refused:
        domain.validate_answers(list(domain.BANK), _answers(**values))
    assert refused.value.details["errors"][field] == [message]


def test_event_questions_of_every_type_and_their_limits():
    custom = [
        {"id": "topics", "type": "multi_choice", "text": {"en": "Topics?"}, "required": True,
         "options": [{"id": "a", "text": {"en": "A"}}, {"id": "b", "text": {"en": "B"}}]},
        {"id": "venue", "type": "rating", "text": {"en": "Venue?"}, "required": False},
        {"id": "word", "type": "text", "text": {"en": "One word?"}, "required": False},
    ]  # fmt: skip
    domain.check_event_questions(custom)
    questions = domain.survey_questions(custom)
    stored = domain.validate_answers(
        questions, _answers(**FULL, topics=["b", "a"], venue=2, word="Great")
    )
    assert stored["topics"] == ["a", "b"]  # in the options' order
    with pytest.raises(Invalid) as refused:
        domain.validate_answers(questions, _answers(**FULL, topics=["a", "a"], word="x" * 501))
    assert set(refused.value.details["errors"]) == {"topics", "word"}
    with pytest.raises(Invalid):
        domain.check_event_questions([{**custom[0], "id": f"q{n}"} for n in range(11)])
    with pytest.raises(Invalid) as refused:
        domain.check_event_questions([{**custom[1], "id": "overall"}, custom[1], custom[1]])
    assert set(refused.value.details["errors"]) == {"overall", "venue"}


def test_a_survey_opens_only_for_a_completed_known_event():
    with pytest.raises(NotFound):
        domain.check_openable(None, "e1")
    with pytest.raises(Conflict) as refused:
        domain.check_openable({"status": "published"}, "e1")
    assert refused.value.details["event_status"] == "published"
    domain.check_openable({"status": "completed"}, "e1")
    assert domain.next_status("open", "draft") == ("open", "survey.opened")
    with pytest.raises(Conflict):
        domain.next_status("open", "closed")


@pytest.mark.parametrize(
    ("counts", "hidden"),
    [
        ({"LT": 5, "DE": 1}, {"LT", "DE"}),  # DE = total - LT: LT goes too
        ({"LT": 9, "DE": 2, "FI": 7}, {"DE", "FI"}),  # the smallest shown one covers DE
        ({"LT": 9, "DE": 2, "FI": 3}, {"DE", "FI"}),  # two small ones cover each other
        ({"LT": 9, "DE": 2, "FI": 1, "EE": 1}, {"DE", "FI", "EE", "LT"}),
        ({"LT": 9, "DE": 6}, set()),
        ({"LT": 4}, {"LT"}),
        ({}, set()),
    ],
)
def test_suppression_never_leaves_a_hidden_group_computable(counts, hidden):
    suppressed = domain.suppressed_groups(counts, 5)
    assert suppressed == hidden
    pool = sum(counts[g] for g in suppressed)
    # what totals minus the shown groups reveal covers 5 or more people (or is
    # the totals themselves, when no group is shown)
    assert pool == 0 or pool >= 5 or suppressed == set(counts)


# --- what the published figures let anyone compute ---------------------------------
#
# Every figure (a count per option) is a sum over respondents, so whoever knows
# each respondent's country and role (the secretariat knows whom it invited)
# can compute the figures of a set of respondents exactly when its indicator
# vector is a linear combination of those of the published groups. The checks
# below ask that of numpy's rank, independently of how suppression decides.


def _people(spec: dict[tuple[str, str], int]) -> list[dict]:
    return [
        {"country": country, "role": role, "answers": {"knowledge": 4}}
        for (country, role), n in spec.items()
        for _ in range(n)
    ]


def _published(figures: dict, members: list[dict]) -> list[set[int]]:
    """The respondents (by index into ``members``) of each published figure."""
    groups = [set(range(len(members)))]
    for by, shown in figures["breakdowns"].items():
        for group, body in shown.items():
            if not body.get("suppressed"):
                groups.append({i for i, r in enumerate(members) if domain.group_of(r, by) == group})
    return groups


def _derivable(published: list[set[int]], target: set[int], n: int) -> bool:
    rows = np.array([[float(i in g) for i in range(n)] for g in published])
    wanted = np.array([[float(i in target) for i in range(n)]])
    return np.linalg.matrix_rank(np.vstack([rows, wanted])) == np.linalg.matrix_rank(rows)


def _small_sets(members: list[dict], min_group: int) -> list[set[int]]:
    """Each respondent, and each group or country-and-role cell below ``min_group``."""
    sets = [{i} for i in range(len(members))]
    keys = [lambda r, by=by: domain.group_of(r, by) for by in domain.BREAKDOWNS]
    keys.append(lambda r: (r["country"], r["role"]))
    for key in keys:
        groups: dict = {}
        for i, r in enumerate(members):
            groups.setdefault(key(r), set()).add(i)
        sets += [g for g in groups.values() if len(g) < min_group]
    return sets


def _leaks(published: list[set[int]], members: list[dict], min_group: int) -> list[set[int]]:
    """The small sets the published figures give away, beyond the totals (an
    event's totals are its respondents' together, whatever their number)."""
    n = len(members)
    everyone = [set(range(n))]
    return [
        s
        for s in _small_sets(members, min_group)
        if _derivable(published, s, n) and not _derivable(everyone, s, n)
    ]


def test_two_breakdowns_together_never_give_a_small_group_away():
    # Five LT officials, five LV experts, one DE expert. Each breakdown alone
    # hides DE (and LT with it); but the expert role group (six) minus the LV
    # country group (five experts) would be the DE expert.
    members = _people({("LT", "official"): 5, ("LV", "expert"): 5, ("DE", "expert"): 1})
    figures = domain.results(list(domain.BANK), members, 11, 5)
    assert _leaks(_published(figures, members), members, 5) == []
    shown = {
        by: sorted(g for g, body in groups.items() if not body.get("suppressed"))
        for by, groups in figures["breakdowns"].items()
    }
    assert shown == {"country": [], "role": ["official"]}


def test_the_issues_event_shows_the_officials_and_no_country():
    # Five LT and one DE answered, all government officials.
    members = _people({("LT", "government_official"): 5, ("DE", "government_official"): 1})
    figures = domain.results(list(domain.BANK), members, 7, 5)
    assert figures["breakdowns"]["country"] == {
        "DE": {"suppressed": True},
        "LT": {"suppressed": True},
    }
    assert figures["breakdowns"]["role"]["government_official"]["responses"] == 6
    assert _leaks(_published(figures, members), members, 5) == []


def _random_event(rng: random.Random) -> list[dict]:
    countries = rng.sample(["LT", "LV", "EE", "DE", "FI", "PT", "IE"], rng.randint(1, 5))
    roles = rng.sample(["official", "expert", "stakeholder", "social_partner"], rng.randint(1, 3))
    spec: Counter = Counter()
    for _ in range(rng.randint(1, 30)):
        spec[(rng.choice(countries), rng.choice(roles))] += 1
    return _people(dict(spec))


def test_no_event_lets_anyone_compute_fewer_than_min_group_people():
    rng = random.Random(11)
    for _ in range(400):
        members = _random_event(rng)
        for min_group in (3, 5):
            figures = domain.results(list(domain.BANK), members, len(members), min_group)
            assert _leaks(_published(figures, members), members, min_group) == [], members


def _shown(figures: dict, by: str) -> dict[str, dict]:
    return {g: body for g, body in figures["breakdowns"][by].items() if not body.get("suppressed")}


def _sum_of_events(events: dict[str, list[dict]], by: str, group: str) -> tuple[int, dict]:
    """Responses and knowledge distribution of ``group`` summed over the events
    showing it, or made of it alone (then its figures are the event's totals)."""
    responses, distribution = 0, Counter()
    for members in events.values():
        figures = domain.results(list(domain.BANK), members, len(members), 5)
        shown = _shown(figures, by)
        if {domain.group_of(r, by) for r in members} == {group}:  # the event's totals
            shown[group] = {
                "responses": len(members),
                "questions": {q["id"]: q for q in figures["questions"]},
            }
        if group in shown:
            responses += shown[group]["responses"]
            distribution.update(shown[group]["questions"]["knowledge"]["distribution"])
    return responses, {k: v for k, v in distribution.items() if v}


def test_programme_groups_pool_only_the_events_that_show_them():
    # Event A: five LT. Event B: one LT and five FI. B hides LT (and FI with
    # it); pooled, LT over both minus LT of A would be B's one LT respondent.
    a = _people({("LT", "official"): 5})
    b = _people({("LT", "official"): 1, ("FI", "official"): 5})
    programme = domain.programme_results(list(domain.BANK), {"a": a, "b": b}, 12, 5)
    assert programme["responses"] == 11
    assert programme["questions"][0]["distribution"]["4"] == 11  # the totals pool everyone
    countries = programme["breakdowns"]["country"]
    assert countries["LT"]["responses"] == 5  # A's five, as A publishes them
    assert countries["FI"] == {"suppressed": True}  # no event shows FI
    assert programme["breakdowns"]["role"]["official"]["responses"] == 11  # both show it


def test_a_programme_group_is_the_sum_of_what_its_events_publish():
    rng = random.Random(12)
    for _ in range(150):
        events = {f"e{n}": _random_event(rng) for n in range(rng.randint(2, 4))}
        members = [r for rs in events.values() for r in rs]
        programme = domain.programme_results(list(domain.BANK), events, len(members), 5)
        assert programme["responses"] == len(members)
        for by in domain.BREAKDOWNS:
            groups = programme["breakdowns"][by]
            assert set(groups) <= {domain.group_of(r, by) for r in members}
            for group, body in groups.items():
                responses, distribution = _sum_of_events(events, by, group)
                if body.get("suppressed"):
                    assert responses < 5, (by, group, events)
                    continue
                assert body["responses"] == responses >= 5, (by, group, events)
                knowledge = body["questions"]["knowledge"]["distribution"]
                assert {k: v for k, v in knowledge.items() if v} == distribution


def test_the_insertion_shuffle_gives_every_order_alike():
    rng = random.Random(7)
    orders: Counter[tuple[int, ...]] = Counter()
    for _ in range(12_000):
        stored: list[int] = []
        for item in range(3):
            k = domain.swap_position(len(stored), rng)
            if k is None:
                stored.append(item)
            else:
                stored.append(stored[k])
                stored[k] = item
        orders[tuple(stored)] += 1
    assert len(orders) == 6
    assert all(1700 < n < 2300 for n in orders.values()), orders  # 2000 each expected


def _response(country, role, **answers):
    return {"country": country, "role": role, "answers": answers}


# Three events over two years, pooled over their responses (each response
# counts once, not each event's share):
#   2025 peer review EE:   knowledge 5, 4, 2     overall 4, 5, 3   use yes, yes, no
#   2025 thematic LT:      knowledge 4, 3        overall 2, 4      use partly, yes
#   2026 peer review EE:   knowledge 5, 5, 1, 4  overall 5, 5, 1, 3
EVENTS = {
    "e2025a": {"programme": "employment", "format": "peer_review", "host_country": "EE",
               "starts_on": "2025-04-08"},
    "e2025b": {"programme": "employment", "format": "thematic_event", "host_country": "LT",
               "starts_on": "2025-10-01"},
    "e2026": {"programme": "employment", "format": "peer_review", "host_country": "EE",
              "starts_on": "2026-03-03"},
}  # fmt: skip
RESPONSES = {
    "e2025a": [
        _response("LV", "government_official", knowledge=5, overall=4, use_learning="yes"),
        _response("FI", "government_official", knowledge=4, overall=5, use_learning="yes"),
        _response("LV", "expert", knowledge=2, overall=3, use_learning="no"),
    ],
    "e2025b": [
        _response("LV", "government_official", knowledge=4, overall=2, use_learning="partly"),
        _response("EE", "stakeholder", knowledge=3, overall=4, use_learning="yes"),
    ],
    "e2026": [
        _response("LV", "government_official", knowledge=5, overall=5),
        _response("LV", "government_official", knowledge=5, overall=5),
        _response("PT", "government_official", knowledge=1, overall=1),
        _response("LV", "government_official", knowledge=4, overall=3),
    ],
}


def _programme(**filters):
    chosen = [e for e, event in EVENTS.items() if domain.matches(event, filters)]
    by_event = {e: RESPONSES[e] for e in chosen}
    figures = domain.programme_results(list(domain.BANK), by_event, 4 * len(chosen), 5)
    return chosen, figures


def test_programme_aggregates_match_a_hand_computation():
    chosen, all_years = _programme()
    assert chosen == ["e2025a", "e2025b", "e2026"]
    knowledge, overall, use = (all_years["questions"][i] for i in (0, 3, 4))
    # knowledge: 5,4,2 | 4,3 | 5,5,1,4 -> 1:1 2:1 3:1 4:3 5:3, agree 6 of 9
    assert knowledge["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 3, "5": 3}
    assert knowledge["agree_share"] == round(6 / 9, 4)
    # overall: 4,5,3,2,4,5,5,1,3 -> sum 32 over 9
    assert overall["mean"] == round(32 / 9, 2)
    assert use["distribution"] == {"yes": 3, "partly": 1, "no": 1} and use["answered"] == 5
    assert (all_years["responses"], all_years["invited"]) == (9, 12)
    assert all_years["response_rate"] == 0.75
    # LV 6 shown; FI 1, EE 1, PT 1 hidden (3 < 5), so LV is hidden as well
    hidden = {"suppressed": True}
    assert all_years["breakdowns"]["country"] == {c: hidden for c in ("EE", "FI", "LV", "PT")}
    roles = all_years["breakdowns"]["role"]
    assert roles["expert"] == roles["stakeholder"] == {"suppressed": True}
    assert roles["government_official"] == {"suppressed": True}  # the complement
    # 2025 only: knowledge 5,4,2,4,3 -> agree 3 of 5
    chosen, year_2025 = _programme(year=2025)
    assert chosen == ["e2025a", "e2025b"]
    assert year_2025["questions"][0]["agree_share"] == 0.6
    assert year_2025["questions"][0]["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 2, "5": 1}
    # peer reviews hosted by EE: 5,4,2,5,5,1,4 -> agree 5 of 7
    chosen, ee = _programme(format="peer_review", host_country="EE")
    assert chosen == ["e2025a", "e2026"]
    assert ee["questions"][0]["agree_share"] == round(5 / 7, 4)
    assert _programme(programme="gender_equality")[1]["responses"] == 0
    assert _programme(programme="gender_equality")[1]["response_rate"] is None


def test_free_texts_are_listed_without_attributes_and_not_in_submission_order():
    responses = [
        _response("LT", "expert", next_steps="zebra crossings"),
        _response("DE", "expert", next_steps="Apprenticeships"),
    ]
    figures = domain.results(list(domain.BANK), responses, 2, 5)
    texts = figures["questions"][6]
    assert texts["answers"] == ["Apprenticeships", "zebra crossings"]
    assert "distribution" not in texts
    assert "next_steps" not in figures["breakdowns"]["country"]["LT"]


def test_the_chart_has_one_bar_per_statement_and_parses_as_svg():
    figures = domain.results(list(domain.BANK), RESPONSES["e2026"], 4, 5, "de")
    statements = [q for q in figures["questions"] if q["type"] == "agreement"]
    svg = charts.agreement_svg(statements, title="Programm 2026", subtitle="4", language="de")
    root = ET.fromstring(svg)
    ids = [g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    bars = Counter(i.split("-")[1] for i in ids if i and i.startswith("bar-"))
    assert set(bars) == set(domain.STATEMENTS)
    assert bars["knowledge"] == 3  # segments 1, 4, 5 (no 2 or 3 answers)
    assert bars["understanding"] == 1  # no answers: one empty outline
    assert "Stimme voll und ganz zu" in svg.decode()


def test_settings_refuse_a_reminder_after_closing_and_groups_of_one():
    assert load_settings({}).min_group == 5
    assert load_settings({}).public_url == "http://127.0.0.1:8005"
    with pytest.raises(SystemExit, match="MLP_SURVEY_REMINDER_AFTER_DAYS"):
        load_settings({"MLP_SURVEY_REMINDER_AFTER_DAYS": "21"})
    with pytest.raises(SystemExit, match="MLP_SURVEY_MIN_GROUP"):
        load_settings({"MLP_SURVEY_MIN_GROUP": "1"})
    with pytest.raises(SystemExit, match="MLP_SURVEY_OPEN_DAYS must be an integer"):
        load_settings({"MLP_SURVEY_OPEN_DAYS": "three weeks"})


def test_the_link_is_marked_personal_and_partner_payloads_carry_counts_only():
    link_fields = SurveyLinkPayloadSchema().fields
    assert link_fields["survey_url"].metadata.get("personal") is True
    assert [n for n, f in link_fields.items() if f.metadata.get("personal")] == ["survey_url"]
    survey_fields = set(SurveyPayloadSchema().fields)
    assert not survey_fields & {"invitation_id", "country", "role", "answers", "survey_url"}
