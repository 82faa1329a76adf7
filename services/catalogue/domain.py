"""Rules of the catalogue, without I/O: the practices' lifecycle, what the
public may see of the programme, the search terms of each entry with their
weights, ranking, facets and "similar practices".

Search works on an indexed, weighted term list (no text index is needed, so the
local Mongo-wire server serves it as well as MongoDB): every word is folded —
case folded, accents removed, ``ß`` → ``ss``, ``ø`` → ``o`` — and light plural
endings dropped, the same way for the entry and for the query, so ``Sozialpolitik``,
``politiques`` and ``Équité`` meet ``sozialpolitik``, ``politique`` and ``equite``.
Country names and vocabulary labels are indexed in English, French and German,
so ``Lituanie``, ``Litauen`` and ``Lithuania`` find the same practice.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel import Locale

from shared.errors import Invalid
from shared.lifecycle import Lifecycle
from shared.payloads.catalogue import EVIDENCE, IMPLEMENTATION, POLICY_AREAS, STAGES, TARGET_GROUPS
from shared.payloads.documents import KINDS
from shared.payloads.events import FORMATS

LANGUAGES = ("en", "fr", "de")
TYPES = ("event", "paper", "practice")
FACETS = ("type", "country", "policy_area", "format", "year")

# action -> (publications it may start from, publication it leads to, topic it announces)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "publish": (frozenset({"draft", "withdrawn"}), "published", "practice.published"),
    "withdraw": (frozenset({"published"}), "withdrawn", "practice.withdrawn"),
}
EDITABLE = frozenset({"draft", "published"})
LIFECYCLE = Lifecycle("practice", TRANSITIONS)
next_publication = LIFECYCLE.next_status

# --- vocabulary, in the website's languages ---------------------------------

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "policy_area": {
        "labour_market_services": {
            "en": "Labour market services",
            "fr": "Services du marché du travail",
            "de": "Arbeitsmarktdienstleistungen",
        },
        "training": {"en": "Training", "fr": "Formation", "de": "Weiterbildung"},
        "employment_incentives": {
            "en": "Employment incentives",
            "fr": "Incitations à l'emploi",
            "de": "Beschäftigungsanreize",
        },
        "sheltered_supported_employment": {
            "en": "Sheltered and supported employment",
            "fr": "Emploi protégé et accompagné",
            "de": "Geschützte und unterstützte Beschäftigung",
        },
        "direct_job_creation": {
            "en": "Direct job creation",
            "fr": "Création directe d'emplois",
            "de": "Direkte Schaffung von Arbeitsplätzen",
        },
        "start_up_incentives": {
            "en": "Start-up incentives",
            "fr": "Aides à la création d'entreprise",
            "de": "Gründungsförderung",
        },
        "out_of_work_income_maintenance": {
            "en": "Out-of-work income maintenance",
            "fr": "Maintien du revenu en cas de chômage",
            "de": "Einkommensunterstützung bei Arbeitslosigkeit",
        },
        "early_retirement": {
            "en": "Early retirement",
            "fr": "Préretraite",
            "de": "Vorruhestand",
        },
        "gender_equality": {
            "en": "Gender equality",
            "fr": "Égalité entre les femmes et les hommes",
            "de": "Gleichstellung der Geschlechter",
        },
        "integration": {"en": "Integration", "fr": "Intégration", "de": "Integration"},
        "social_inclusion": {
            "en": "Social inclusion",
            "fr": "Inclusion sociale",
            "de": "Soziale Inklusion",
        },
        "other": {"en": "Other", "fr": "Autre", "de": "Sonstiges"},
    },
    "target_group": {
        "young_people": {"en": "Young people", "fr": "Jeunes", "de": "Junge Menschen"},
        "long_term_unemployed": {
            "en": "Long-term unemployed",
            "fr": "Chômeurs de longue durée",
            "de": "Langzeitarbeitslose",
        },
        "older_workers": {"en": "Older workers", "fr": "Travailleurs âgés", "de": "Ältere"},
        "women": {"en": "Women", "fr": "Femmes", "de": "Frauen"},
        "migrants_refugees": {
            "en": "Migrants and refugees",
            "fr": "Migrants et réfugiés",
            "de": "Migranten und Geflüchtete",
        },
        "persons_with_disabilities": {
            "en": "Persons with disabilities",
            "fr": "Personnes handicapées",
            "de": "Menschen mit Behinderungen",
        },
        "low_skilled": {"en": "Low-skilled", "fr": "Peu qualifiés", "de": "Geringqualifizierte"},
        "jobseekers": {"en": "Jobseekers", "fr": "Demandeurs d'emploi", "de": "Arbeitsuchende"},
        "employers": {"en": "Employers", "fr": "Employeurs", "de": "Arbeitgeber"},
        "victims_of_violence": {
            "en": "Victims of violence",
            "fr": "Victimes de violence",
            "de": "Gewaltopfer",
        },
        "parents": {"en": "Parents", "fr": "Parents", "de": "Eltern"},
        "all": {"en": "Everyone", "fr": "Tous", "de": "Alle"},
    },
    "format": {
        "peer_review": {"en": "Peer review", "fr": "Examen par les pairs", "de": "Peer Review"},
        "learning_exchange": {
            "en": "Learning exchange",
            "fr": "Échange d'apprentissage",
            "de": "Lernaustausch",
        },
        "thematic_event": {
            "en": "Thematic event",
            "fr": "Événement thématique",
            "de": "Thematische Veranstaltung",
        },
        "dissemination_seminar": {
            "en": "Dissemination seminar",
            "fr": "Séminaire de diffusion",
            "de": "Verbreitungsseminar",
        },
        "good_practice_seminar": {
            "en": "Exchange of good practice seminar",
            "fr": "Séminaire d'échange de bonnes pratiques",
            "de": "Seminar zum Austausch bewährter Verfahren",
        },
        "conference": {"en": "Conference", "fr": "Conférence", "de": "Konferenz"},
    },
    "kind": {
        "host_country_paper": {
            "en": "Host country paper",
            "fr": "Document du pays hôte",
            "de": "Papier des Gastgeberlandes",
        },
        "comments_paper": {
            "en": "Peer country comments paper",
            "fr": "Commentaires d'un pays pair",
            "de": "Kommentar eines Peer-Landes",
        },
        "discussion_paper": {
            "en": "Discussion paper",
            "fr": "Document de discussion",
            "de": "Diskussionspapier",
        },
        "background_paper": {
            "en": "Background paper",
            "fr": "Document de référence",
            "de": "Hintergrundpapier",
        },
        "executive_summary": {
            "en": "Executive summary",
            "fr": "Synthèse",
            "de": "Zusammenfassung",
        },
        "synthesis_report": {
            "en": "Synthesis report",
            "fr": "Rapport de synthèse",
            "de": "Synthesebericht",
        },
        "agenda": {"en": "Agenda", "fr": "Ordre du jour", "de": "Tagesordnung"},
        "presentation": {"en": "Presentation", "fr": "Présentation", "de": "Präsentation"},
        "minutes": {"en": "Minutes", "fr": "Compte rendu", "de": "Protokoll"},
    },
    "stage": {
        "considering": {"en": "considering", "fr": "à l'étude", "de": "in Prüfung"},
        "piloting": {"en": "piloting", "fr": "en phase pilote", "de": "in Erprobung"},
        "adopted": {"en": "adopted", "fr": "adoptée", "de": "übernommen"},
        "dropped": {"en": "dropped", "fr": "abandonnée", "de": "aufgegeben"},
    },
    "evidence": {
        "none": {"en": "None", "fr": "Aucune", "de": "Keine"},
        "monitoring": {"en": "Monitoring", "fr": "Suivi", "de": "Monitoring"},
        "evaluation": {"en": "Evaluation", "fr": "Évaluation", "de": "Evaluation"},
        "impact_evaluation": {
            "en": "Impact evaluation",
            "fr": "Évaluation d'impact",
            "de": "Wirkungsevaluation",
        },
    },
    "status": {
        "ongoing": {"en": "Ongoing", "fr": "En cours", "de": "Laufend"},
        "ended": {"en": "Ended", "fr": "Terminée", "de": "Beendet"},
    },
    "type": {
        "event": {"en": "Event", "fr": "Événement", "de": "Veranstaltung"},
        "paper": {"en": "Paper", "fr": "Document", "de": "Dokument"},
        "practice": {"en": "Practice", "fr": "Pratique", "de": "Praxisbeispiel"},
    },
}
# Every value of the published vocabularies has its labels (a unit test checks it).
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "policy_area": POLICY_AREAS,
    "target_group": TARGET_GROUPS,
    "format": FORMATS,
    "kind": KINDS,
    "stage": STAGES,
    "evidence": EVIDENCE,
    "status": IMPLEMENTATION,
    "type": TYPES,
}
_LOCALES = {language: Locale.parse(language) for language in LANGUAGES}


def label(vocabulary: str, value: str, language: str = "en") -> str:
    """The label of ``value`` in ``language`` (the value itself when unknown)."""
    labels = LABELS.get(vocabulary, {}).get(value)
    if not labels:
        return value.replace("_", " ")
    return labels.get(language) or labels["en"]


def country_name(code: str, language: str = "en") -> str:
    """The country's name in ``language`` (CLDR, through Babel); the code when unknown."""
    locale = _LOCALES.get(language, _LOCALES["en"])
    return locale.territories.get((code or "").upper(), code)


# --- normalisation -----------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Letters NFKD leaves whole: fold them by hand.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})
STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "dans",
        "de",
        "des",
        "du",
        "en",
        "est",
        "et",
        "la",
        "le",
        "les",
        "leur",
        "par",
        "pour",
        "sur",
        "un",
        "une",
        "am",
        "an",
        "auf",
        "aus",
        "bei",
        "das",
        "dem",
        "den",
        "der",
        "des",
        "die",
        "ein",
        "eine",
        "einer",
        "für",
        "im",
        "in",
        "ist",
        "mit",
        "und",
        "vom",
        "von",
        "zu",
        "zum",
        "zur",
    )
)


def fold(text: str) -> str:
    """Case folded, accents removed: ``Équité`` → ``equite``, ``Straße`` → ``strasse``."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A light plural fold, the same for entries and queries: ``skills`` → ``skill``,
    ``politiques`` → ``politique`` (not ``class`` or short words)."""
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The folded, stemmed words of ``text`` that carry meaning (no stop words)."""
    found = _WORD.findall(fold(text))
    return [stem(w) for w in found if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def query_terms(q: str | None) -> list[str]:
    """The terms a free-text query must all match, in query order, without repeats."""
    return list(dict.fromkeys(words(q or "")))


# --- weights -------------------------------------------------------------------

# How much a word counts where it appears: a title word outranks a summary word.
WEIGHTS = {
    "title": 10,
    "tags": 6,
    "country": 4,
    "policy_area": 4,
    "kind": 3,
    "format": 3,
    "summary": 3,
    "target_groups": 3,
    "organisations": 2,
    "practice_text": 2,
    "related": 1,  # inherited: a paper its event's core words, an event its practice's
}


class Terms:
    """A weighted term list being built: each term keeps its highest weight."""

    def __init__(self) -> None:
        self.weights: dict[str, int] = {}

    def add(self, text: str | Iterable[str], weight: int) -> None:
        if not isinstance(text, str):
            text = " ".join(text)
        for word in words(text):
            if self.weights.get(word, 0) < weight:
                self.weights[word] = weight

    def add_labels(self, vocabulary: str, values: Iterable[str], weight: int) -> None:
        for value in values:
            self.add([label(vocabulary, value, lang) for lang in LANGUAGES], weight)

    def add_countries(self, codes: Iterable[str], weight: int) -> None:
        for code in codes:
            self.add([country_name(code, lang) for lang in LANGUAGES] + [code], weight)

    def merge(self, other: Mapping[str, int], weight: int) -> None:
        """Inherit ``other``'s terms, at most at ``weight``."""
        for term, held in other.items():
            value = min(held, weight)
            if self.weights.get(term, 0) < value:
                self.weights[term] = value


def practice_terms(practice: Mapping[str, Any]) -> dict[str, int]:
    """The weighted terms of a practice: what free text finds it by."""
    terms = Terms()
    terms.add(practice.get("title", ""), WEIGHTS["title"])
    terms.add(practice.get("tags") or [], WEIGHTS["tags"])
    terms.add_countries([practice["country"]], WEIGHTS["country"])
    terms.add_labels("policy_area", [practice["policy_area"]], WEIGHTS["policy_area"])
    terms.add_labels("target_group", practice.get("target_groups") or [], WEIGHTS["target_groups"])
    terms.add(practice.get("summary", ""), WEIGHTS["summary"])
    terms.add(practice.get("organisations") or [], WEIGHTS["organisations"])
    for name in ("objectives", "main_activities", "outcomes", "lessons_learned"):
        terms.add(practice.get(name, ""), WEIGHTS["practice_text"])
    return terms.weights


def core_terms(item: Mapping[str, Any]) -> dict[str, int]:
    """What an entry passes on to the entries that inherit its words (an event to
    its papers, a practice to its events): title, tags and summary."""
    terms = Terms()
    terms.add(item.get("title", ""), WEIGHTS["title"])
    terms.add(item.get("tags") or [], WEIGHTS["tags"])
    terms.add(item.get("summary", ""), WEIGHTS["summary"])
    return terms.weights


def event_terms(event: Mapping[str, Any]) -> dict[str, int]:
    terms = Terms()
    terms.add(event.get("title", ""), WEIGHTS["title"])
    terms.add(event.get("tags") or [], WEIGHTS["tags"])
    terms.add_countries([event["host_country"]], WEIGHTS["country"])
    # Guest countries are a filter (``country``), not words: every entry's term list
    # is read whole for each match, so it stays short.
    terms.add_labels("format", [event["format"]], WEIGHTS["format"])
    terms.add(event.get("summary", ""), WEIGHTS["summary"])
    city = (event.get("venue") or {}).get("city")
    if city:
        terms.add(city, WEIGHTS["country"])
    return terms.weights


# --- what the public sees ------------------------------------------------------


def event_is_public(event: Mapping[str, Any]) -> bool:
    """Published public events, and every completed event: an invitation-only
    event's existence and papers are public once it took place."""
    status = event.get("status")
    if status == "completed":
        return True
    return status == "published" and event.get("visibility") == "public"


def paper_is_public(paper: Mapping[str, Any], event: Mapping[str, Any] | None) -> bool:
    """A published paper of an event the public may see."""
    return paper.get("status") == "published" and event is not None and event_is_public(event)


def registration_url(event: Mapping[str, Any]) -> str | None:
    """Where to register for an open public event: the hook for the planned
    ``registration: open`` events (the invitations service will take anonymous
    registrations); until events carry ``registration``, there is none."""
    if event.get("registration") == "open" and event.get("status") == "published":
        return event.get("registration_url") or None
    return None


# --- search entries ------------------------------------------------------------


def _year(day: Any) -> int | None:
    if isinstance(day, date):
        return day.year
    if isinstance(day, str) and len(day) >= 4 and day[:4].isdigit():
        return int(day[:4])
    return None


def _entry(
    kind: str,
    ref: str,
    title: str,
    summary: str,
    *,
    countries: Iterable[str],
    policy_areas: Iterable[str],
    formats: Iterable[str],
    year: int | None,
    day: str,
    terms: Mapping[str, int],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "_id": f"{kind}:{ref}",
        "type": kind,
        "ref": ref,
        "title": title,
        "summary": summary[:400],
        "countries": sorted(set(countries)),
        "policy_areas": sorted(set(policy_areas)),
        "formats": sorted(set(formats)),
        "year": year,
        "date": day,
        "terms": sorted(terms),
        "weights": dict(sorted(terms.items())),
        **extra,
    }


def event_entry(
    event: Mapping[str, Any], practices: Iterable[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The search entry of a public event (None when the public may not see it);
    it inherits the words and policy areas of the practices presented there."""
    if not event_is_public(event):
        return None
    terms = Terms()
    terms.weights.update(event_terms(event))
    areas = []
    for practice in practices:
        terms.merge(core_terms(practice), WEIGHTS["related"])
        areas.append(practice["policy_area"])
    starts = str(event.get("starts_on") or "")
    countries = [event["host_country"], *(event.get("guest_countries") or [])]
    return _entry(
        "event",
        event["id"],
        event.get("title", ""),
        event.get("summary", ""),
        countries=countries,
        policy_areas=areas,
        formats=[event["format"]],
        year=_year(starts),
        day=starts,
        terms=terms.weights,
        extra={
            "host_country": event["host_country"],
            "format": event["format"],
            "status": event.get("status"),
        },
    )


def paper_entry(
    paper: Mapping[str, Any],
    event: Mapping[str, Any] | None,
    practices: Iterable[Mapping[str, Any]],
) -> dict[str, Any] | None:
    """The search entry of a public paper: found by its own title and kind, and
    by the words of its event and of the practices presented there."""
    if event is None or not paper_is_public(paper, event):
        return None
    terms = Terms()
    terms.add(paper.get("title", ""), WEIGHTS["title"])
    terms.add_labels("kind", [paper["kind"]], WEIGHTS["kind"])
    if paper.get("country"):
        terms.add_countries([paper["country"]], WEIGHTS["country"])
    terms.merge(core_terms(event), WEIGHTS["related"])
    terms.add_countries([event["host_country"]], WEIGHTS["related"])
    # The practice's words reach the paper's event, not the paper (short term lists);
    # its policy area is the paper's too.
    areas = [practice["policy_area"] for practice in practices]
    countries = [event["host_country"], *(event.get("guest_countries") or [])]
    if paper.get("country"):
        countries.append(paper["country"])
    starts = str(event.get("starts_on") or "")
    return _entry(
        "paper",
        paper["id"],
        paper.get("title", ""),
        event.get("title", ""),
        countries=countries,
        policy_areas=areas,
        formats=[event["format"]],
        year=_year(starts),
        day=starts,
        terms=terms.weights,
        extra={
            "event_id": event["id"],
            "kind": paper["kind"],
            "language": paper.get("language"),
            "country": paper.get("country"),
        },
    )


def practice_entry(practice: Mapping[str, Any]) -> dict[str, Any] | None:
    """The search entry of a published practice (None otherwise)."""
    if practice.get("publication") != "published":
        return None
    start = practice.get("start_year")
    return _entry(
        "practice",
        practice["id"],
        practice.get("title", ""),
        practice.get("summary", ""),
        countries=[practice["country"], *(t["country"] for t in practice.get("transfers") or [])],
        policy_areas=[practice["policy_area"]],
        formats=[],
        year=start,
        day=f"{start:04d}-01-01" if start else "",
        terms=practice_terms(practice),
        extra={"country": practice["country"], "policy_area": practice["policy_area"]},
    )


# --- ranking and facets -------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """What ranking and facets need of one matching entry (the store's projection)."""

    id: str
    type: str
    countries: tuple[str, ...]
    policy_areas: tuple[str, ...]
    formats: tuple[str, ...]
    year: int | None
    date: str
    score: int


# Without query words, the filter most likely to be narrow leads (a year is rarer
# than a country, a country than a policy area, ...).
FILTER_SELECTIVITY = ("year", "countries", "policy_areas", "formats", "type")


def lead_predicate(terms: list[str], filters: Mapping[str, Any]) -> tuple[str, Any]:
    """The one equality that finds the candidates of a search through an index:
    the longest query term (long words are the rarer ones), else the narrowest
    filter. The rest is checked by :func:`matches`."""
    if terms:
        return "terms", max(terms, key=lambda t: (len(t), t))
    for name in FILTER_SELECTIVITY:
        if name in filters:
            return name, filters[name]
    raise ValueError("a search with neither terms nor filters has no lead predicate")


def matches(
    doc: Mapping[str, Any],
    weights: Mapping[str, int],
    terms: Iterable[str],
    filters: Mapping[str, Any],
) -> bool:
    """Whether a candidate entry has every query term (its weight is projected)
    and every filter value (a list field holds it, a scalar field equals it)."""
    if any(term not in weights for term in terms):
        return False
    for name, value in filters.items():
        held = doc.get(name)
        if isinstance(held, list) and value not in held:
            return False
        if not isinstance(held, list) and held != value:
            return False
    return True


def score(weights: Mapping[str, int], terms: Iterable[str]) -> int:
    """The entry's relevance for the query: the summed weights of the query's terms."""
    return sum(weights.get(term, 0) for term in terms)


ORDERS = ("relevance", "-date", "date")


def default_order(terms: list[str]) -> str:
    """Relevance when the query has words, else the newest first."""
    return "relevance" if terms else "-date"


def rank(hits: list[Hit], order: str) -> list[Hit]:
    """``relevance`` (ties: newer first), ``-date`` (newest first) or ``date``; the
    id breaks every tie, so pages are stable (Python's sort is stable)."""
    by_id = sorted(hits, key=lambda h: h.id)
    if order == "date":
        return sorted(by_id, key=lambda h: h.date)
    by_date = sorted(by_id, key=lambda h: h.date, reverse=True)
    return sorted(by_date, key=lambda h: h.score, reverse=True) if order == "relevance" else by_date


def facet_counts(hits: Iterable[Hit]) -> dict[str, dict[str, int]]:
    """How many of ``hits`` each value of each facet has (counts of the result set)."""
    counters: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for hit in hits:
        counters["type"][hit.type] += 1
        counters["country"].update(hit.countries)
        counters["policy_area"].update(hit.policy_areas)
        counters["format"].update(hit.formats)
        if hit.year is not None:
            counters["year"][str(hit.year)] += 1
    return {
        name: dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
        for name, counter in counters.items()
    }


def similar_practices(
    practice: Mapping[str, Any], candidates: Iterable[Mapping[str, Any]], limit: int = 5
) -> list[dict[str, Any]]:
    """Practices of the same policy area sharing a target group, ranked by shared
    tags, then shared target groups, then the newest start."""
    tags = {fold(t) for t in practice.get("tags") or []}
    groups = set(practice.get("target_groups") or [])
    scored = []
    for other in candidates:
        if other["id"] == practice["id"] or other.get("policy_area") != practice["policy_area"]:
            continue
        shared_groups = groups & set(other.get("target_groups") or [])
        if groups and not shared_groups:
            continue
        shared_tags = tags & {fold(t) for t in other.get("tags") or []}
        scored.append((len(shared_tags), len(shared_groups), other.get("start_year") or 0, other))
    scored.sort(key=lambda s: (-s[0], -s[1], -s[2], s[3]["id"]))
    return [dict(s[3], shared_tags=s[0]) for s in scored[:limit]]


# --- practices -----------------------------------------------------------------


def validate_practice(practice: Mapping[str, Any]) -> dict[str, list[str]]:
    """Cross-field rules of a complete practice; field errors (empty when valid)."""
    errors: dict[str, list[str]] = {}
    start, end = practice.get("start_year"), practice.get("end_year")
    if start and end and end < start:
        errors.setdefault("end_year", []).append("A practice cannot end before it starts.")
    if practice.get("status") == "ended" and not end:
        errors.setdefault("end_year", []).append("An ended practice needs its end year.")
    for name in ("target_groups", "tags", "events", "papers", "languages", "organisations"):
        values = practice.get(name) or []
        if len({fold(v) for v in values}) != len(values):
            errors.setdefault(name, []).append("A value is listed twice.")
    return errors


def check_practice(practice: Mapping[str, Any]) -> None:
    errors = validate_practice(practice)
    if errors:
        raise Invalid("The practice is not valid.", errors=errors)


def changed_fields(before: Mapping[str, Any], changes: Mapping[str, Any]) -> list[str]:
    """Names of the fields whose value ``changes`` really alters."""
    return sorted(name for name, value in changes.items() if before.get(name) != value)


def timeline(practice: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The practice's transfers in the order they happened (year, then recording)."""
    return sorted(
        practice.get("transfers") or [],
        key=lambda t: (t.get("year") or 0, str(t.get("recorded_at") or "")),
    )
