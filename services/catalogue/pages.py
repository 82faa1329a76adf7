"""The public website: server-rendered pages (Flask + Jinja2, no JavaScript) in
English, French and German.

The language is ``?lang=`` (remembered in a cookie), else the cookie, else the
best match of ``Accept-Language``, else English. Dates and country names are
localised with Babel (CLDR). Every page has a stable URL, a canonical link with
its language, ``hreflang`` alternates and ``og:`` title and description. Pages
read only the catalogue's own read models (built from topics); papers are
downloaded from the documents service's public content URL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_datetime, format_interval
from flask import Blueprint, Response, g, make_response, render_template, request
from marshmallow import ValidationError

from services.catalogue import api, domain
from services.catalogue.domain import LANGUAGES, country_name, label
from services.catalogue.schemas import SearchQuerySchema
from shared.payloads.catalogue import POLICY_AREAS
from shared.payloads.events import FORMATS
from shared.web import service_context

site = Blueprint("site", __name__, template_folder="templates")

LANG_COOKIE = "lang"
PAGE_SIZE = 20
OG_LOCALES = {"en": "en_GB", "fr": "fr_FR", "de": "de_DE"}
# The programme's countries (EU, EEA, candidates), offered in the search form.
PROGRAMME_COUNTRIES = (
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
    "AL",
    "BA",
    "ME",
    "MK",
    "RS",
    "TR",
    "UA",
    "MD",
    "GE",
)

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "site": "Mutual learning catalogue",
        "tagline": "Peer learning events, papers and labour-market practices",
        "skip": "Skip to content",
        "nav": "Main",
        "home": "Home",
        "search": "Search",
        "search_title": "Search peer learning events and public conferences",
        "search_intro": "Find events, their published papers and the practices presented there.",
        "language": "Language",
        "upcoming": "Upcoming events",
        "none_upcoming": "No upcoming public events at the moment.",
        "recent": "Recent events",
        "words": "Words",
        "type": "Type",
        "any": "Any",
        "country": "Country",
        "policy_area": "Policy area",
        "format": "Format",
        "year": "Year",
        "submit": "Search",
        "results": "Results",
        "found": "{n} results",
        "no_results": "Nothing matches your search.",
        "refine": "Refine",
        "remove": "remove",
        "page": "Page {page} of {pages}",
        "previous": "Previous page",
        "next": "Next page",
        "pagination": "Pages",
        "what": "What",
        "when": "When",
        "where": "Where",
        "online": "online",
        "host": "Host country",
        "guests": "Guest countries",
        "languages": "Languages",
        "tags": "Tags",
        "practice_presented": "The practice presented",
        "papers": "Published papers",
        "no_papers": "No paper has been published yet.",
        "download": "Download",
        "follows_up": "What it follows up",
        "followed": "What followed",
        "nothing_followed": "No follow-up event has been recorded.",
        "register": "Register for this conference",
        "status_completed": "Completed",
        "status_published": "Upcoming",
        "summary": "Summary",
        "objectives": "Objectives",
        "main_activities": "Main activities",
        "outcomes": "Outcomes",
        "lessons_learned": "Lessons learned",
        "target_groups": "Target groups",
        "years": "Years",
        "since": "since {year}",
        "status": "Status",
        "evidence": "Evidence",
        "organisations": "Organisations",
        "events": "Events where it was presented",
        "timeline": "Follow-up across countries",
        "no_transfers": "No follow-up has been recorded yet.",
        "similar": "Similar practices",
        "practices": "Practices",
        "practice": "Practice",
        "hosted": "Events hosted",
        "attended": "Events attended",
        "transfers": "Practices it followed up",
        "none": "None recorded.",
        "not_found": "Page not found",
        "not_found_text": "There is no such page in the catalogue, or it is no longer public.",
        "bad_request": "The search could not be run",
        "back_search": "Back to the search",
        "paper": "Paper",
        "event": "Event",
        "of_event": "Paper of",
        "learnt_at": "after",
    },
    "fr": {
        "site": "Catalogue de l'apprentissage mutuel",
        "tagline": "Événements d'apprentissage par les pairs, documents et pratiques",
        "skip": "Aller au contenu",
        "nav": "Navigation principale",
        "home": "Accueil",
        "search": "Recherche",
        "search_title": "Rechercher des événements d'apprentissage par les pairs et des "
        "conférences publiques",
        "search_intro": "Trouvez les événements, leurs documents publiés et les pratiques "
        "qui y ont été présentées.",
        "language": "Langue",
        "upcoming": "Événements à venir",
        "none_upcoming": "Aucun événement public à venir pour le moment.",
        "recent": "Événements récents",
        "words": "Mots",
        "type": "Type",
        "any": "Tous",
        "country": "Pays",
        "policy_area": "Domaine d'action",
        "format": "Format",
        "year": "Année",
        "submit": "Rechercher",
        "results": "Résultats",
        "found": "{n} résultats",
        "no_results": "Aucun résultat ne correspond à votre recherche.",
        "refine": "Affiner",
        "remove": "retirer",
        "page": "Page {page} sur {pages}",
        "previous": "Page précédente",
        "next": "Page suivante",
        "pagination": "Pages",
        "what": "Quoi",
        "when": "Quand",
        "where": "Où",
        "online": "en ligne",
        "host": "Pays hôte",
        "guests": "Pays invités",
        "languages": "Langues",
        "tags": "Mots-clés",
        "practice_presented": "La pratique présentée",
        "papers": "Documents publiés",
        "no_papers": "Aucun document n'a encore été publié.",
        "download": "Télécharger",
        "follows_up": "Ce qu'il prolonge",
        "followed": "Ce qui a suivi",
        "nothing_followed": "Aucun événement de suivi n'a été enregistré.",
        "register": "S'inscrire à cette conférence",
        "status_completed": "Terminé",
        "status_published": "À venir",
        "summary": "Résumé",
        "objectives": "Objectifs",
        "main_activities": "Activités principales",
        "outcomes": "Résultats",
        "lessons_learned": "Enseignements",
        "target_groups": "Publics cibles",
        "years": "Années",
        "since": "depuis {year}",
        "status": "État",
        "evidence": "Évaluation",
        "organisations": "Organisations",
        "events": "Événements où elle a été présentée",
        "timeline": "Suivi dans les pays",
        "no_transfers": "Aucun suivi n'a encore été enregistré.",
        "similar": "Pratiques similaires",
        "practices": "Pratiques",
        "practice": "Pratique",
        "hosted": "Événements accueillis",
        "attended": "Événements suivis",
        "transfers": "Pratiques reprises",
        "none": "Rien d'enregistré.",
        "not_found": "Page introuvable",
        "not_found_text": "Cette page n'existe pas dans le catalogue, ou n'est plus publique.",
        "bad_request": "La recherche n'a pas pu être effectuée",
        "back_search": "Retour à la recherche",
        "paper": "Document",
        "event": "Événement",
        "of_event": "Document de",
        "learnt_at": "après",
    },
    "de": {
        "site": "Katalog des gegenseitigen Lernens",
        "tagline": "Peer-Learning-Veranstaltungen, Dokumente und arbeitsmarktpolitische Praxis",
        "skip": "Zum Inhalt springen",
        "nav": "Hauptnavigation",
        "home": "Startseite",
        "search": "Suche",
        "search_title": "Peer-Learning-Veranstaltungen und öffentliche Konferenzen suchen",
        "search_intro": "Finden Sie Veranstaltungen, ihre veröffentlichten Dokumente und die "
        "dort vorgestellten Praxisbeispiele.",
        "language": "Sprache",
        "upcoming": "Kommende Veranstaltungen",
        "none_upcoming": "Derzeit keine kommenden öffentlichen Veranstaltungen.",
        "recent": "Letzte Veranstaltungen",
        "words": "Suchbegriffe",
        "type": "Art",
        "any": "Alle",
        "country": "Land",
        "policy_area": "Politikbereich",
        "format": "Format",
        "year": "Jahr",
        "submit": "Suchen",
        "results": "Ergebnisse",
        "found": "{n} Ergebnisse",
        "no_results": "Keine Treffer für Ihre Suche.",
        "refine": "Eingrenzen",
        "remove": "entfernen",
        "page": "Seite {page} von {pages}",
        "previous": "Vorherige Seite",
        "next": "Nächste Seite",
        "pagination": "Seiten",
        "what": "Was",
        "when": "Wann",
        "where": "Wo",
        "online": "online",
        "host": "Gastgeberland",
        "guests": "Teilnehmende Länder",
        "languages": "Sprachen",
        "tags": "Schlagwörter",
        "practice_presented": "Das vorgestellte Praxisbeispiel",
        "papers": "Veröffentlichte Dokumente",
        "no_papers": "Noch kein Dokument veröffentlicht.",
        "download": "Herunterladen",
        "follows_up": "Woran sie anknüpft",
        "followed": "Was folgte",
        "nothing_followed": "Keine Folgeveranstaltung erfasst.",
        "register": "Zu dieser Konferenz anmelden",
        "status_completed": "Abgeschlossen",
        "status_published": "Bevorstehend",
        "summary": "Zusammenfassung",
        "objectives": "Ziele",
        "main_activities": "Hauptaktivitäten",
        "outcomes": "Ergebnisse",
        "lessons_learned": "Erkenntnisse",
        "target_groups": "Zielgruppen",
        "years": "Jahre",
        "since": "seit {year}",
        "status": "Stand",
        "evidence": "Evidenz",
        "organisations": "Organisationen",
        "events": "Veranstaltungen, auf denen es vorgestellt wurde",
        "timeline": "Übernahme in anderen Ländern",
        "no_transfers": "Noch keine Übernahme erfasst.",
        "similar": "Ähnliche Praxisbeispiele",
        "practices": "Praxisbeispiele",
        "practice": "Praxisbeispiel",
        "hosted": "Ausgerichtete Veranstaltungen",
        "attended": "Besuchte Veranstaltungen",
        "transfers": "Übernommene Praxisbeispiele",
        "none": "Nichts erfasst.",
        "not_found": "Seite nicht gefunden",
        "not_found_text": "Diese Seite gibt es im Katalog nicht, "
        "oder sie ist nicht mehr öffentlich.",
        "bad_request": "Die Suche konnte nicht ausgeführt werden",
        "back_search": "Zurück zur Suche",
        "paper": "Dokument",
        "event": "Veranstaltung",
        "of_event": "Dokument zu",
        "learnt_at": "nach",
    },
}


class PageNotFound(Exception):
    """The page names nothing the public may see."""


def language() -> str:
    """The visitor's language: ``?lang=``, the cookie, ``Accept-Language``, English."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def url_with(**changes: Any) -> str:
    """This page's URL with ``changes`` to its query (``None`` removes a key)."""
    args = {k: v for k, v in request.args.items()}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = str(value)
    query = urlencode(args)
    return f"{request.path}?{query}" if query else request.path


def _helpers(lang: str) -> dict[str, Any]:
    t = TEXTS[lang]
    locale = OG_LOCALES[lang]  # dates as written in Britain, France and Germany

    def day(value: Any) -> str:
        parsed = _as_date(value)
        return format_date(parsed, "long", locale=locale) if parsed else ""

    def days(start: Any, end: Any) -> str:
        first, last = _as_date(start), _as_date(end)
        if first is None:
            return ""
        if last is None or last == first:
            return format_date(first, "long", locale=locale)
        return format_interval(first, last, "yMMMd", locale=locale)

    def moment(value: Any) -> str:
        if isinstance(value, datetime):
            return format_datetime(value, "medium", locale=locale)
        return str(value or "")

    return {
        "t": t,
        "lang": lang,
        "languages": LANGUAGES,
        "day": day,
        "days": days,
        "moment": moment,
        "country": lambda code: country_name(code, lang),
        "label": lambda vocabulary, value: label(vocabulary, value, lang),
        "url_with": url_with,
        "content_url": lambda paper_id: (
            f"{service_context().settings.documents_public_url}/v1/documents/{paper_id}/content"
        ),
    }


def render(
    template: str, *, title: str, description: str, status: int = 200, **values: Any
) -> Response:
    """Render ``template`` in the visitor's language, with the page's og: tags."""
    lang = g.lang
    base = service_context().settings.public_url
    canonical = f"{base}{request.path}?{urlencode({'lang': lang})}"
    alternates = {code: f"{base}{request.path}?{urlencode({'lang': code})}" for code in LANGUAGES}
    html = render_template(
        template,
        title=title,
        description=" ".join((description or "").split())[:200],
        canonical=canonical,
        alternates=alternates,
        og_locale=OG_LOCALES[lang],
        **_helpers(lang),
        **values,
    )
    response = make_response(html, status)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


@site.before_request
def _choose_language() -> None:
    g.lang = language()


@site.errorhandler(PageNotFound)
def _not_found(_exc: PageNotFound) -> Response:
    t = TEXTS[g.lang]
    return render("error.html", title=t["not_found"], description=t["not_found_text"], status=404)


def _store() -> Any:
    return service_context().store


@site.get("/")
def home() -> Response:
    """Upcoming events, recent ones and the search form."""
    today = datetime.now(UTC).date()
    store = _store()
    upcoming = store.upcoming_events(today.isoformat(), 10)
    since = (today - timedelta(days=3 * 365)).isoformat()
    recent = store.recent_entries("event", since, today.isoformat(), 10)
    t = TEXTS[g.lang]
    return render(
        "home.html",
        title=t["site"],
        description=t["search_intro"],
        upcoming=upcoming,
        recent=recent,
        **_form_choices(),
    )


def _form_choices() -> dict[str, Any]:
    lang = g.lang
    countries = sorted(PROGRAMME_COUNTRIES, key=lambda c: domain.fold(country_name(c, lang)))
    return {
        "countries": countries,
        "policy_areas": POLICY_AREAS,
        "formats": FORMATS,
        "types": domain.TYPES,
    }


@site.get("/search")
def search() -> Response:
    """Search peer learning events and public conferences: filters, facets, paging."""
    t = TEXTS[g.lang]
    raw = {k: v for k, v in request.args.items() if k != "lang" and v.strip()}
    raw.setdefault("page_size", str(PAGE_SIZE))
    try:
        args = SearchQuerySchema().load(raw)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
        return render(
            "search.html",
            title=t["search_title"],
            description=t["search_intro"],
            status=400,
            errors=errors,
            args=raw,
            result=None,
            **_form_choices(),
        )
    result = api.search(args)
    pages = max(1, -(-result["total"] // args["page_size"]))
    return render(
        "search.html",
        title=t["search_title"],
        description=t["search_intro"],
        errors={},
        args=raw,
        result=result,
        pages=pages,
        **_form_choices(),
    )


@site.get("/events/<event_id>")
def event_page(event_id: str) -> Response:
    """What, when, where, who; the practice presented, the papers, the follow-ups."""
    store = _store()
    event = store.public_event(event_id)
    if event is None:
        raise PageNotFound(event_id)
    practices = store.event_practices([event_id])
    return render(
        "event.html",
        title=event["title"],
        description=event.get("summary") or event["title"],
        event=event,
        practices=practices,
        papers=store.event_papers([event_id]),
        earlier=store.public_events(event.get("follows_up") or []),
        followers=store.followers(event_id),
        registration_url=domain.registration_url(event),
    )


@site.get("/practices/<practice_id>")
def practice_page(practice_id: str) -> Response:
    """The practice's fields, its events and papers, and its transfers as a timeline."""
    store = _store()
    practice = store.get_practice_view(practice_id)
    if practice is None:
        raise PageNotFound(practice_id)
    events = store.public_events(practice.get("events") or [])
    papers = {p["id"]: p for p in store.event_papers([e["id"] for e in events])}
    papers.update({p["id"]: p for p in store.published_papers(practice.get("papers") or [])})
    similar = domain.similar_practices(practice, store.similar_candidates(practice))
    return render(
        "practice.html",
        title=practice["title"],
        description=practice.get("summary") or practice["title"],
        practice=practice,
        events=events,
        events_by_id={e["id"]: e for e in events},
        papers=sorted(papers.values(), key=lambda p: (p.get("kind", ""), p.get("title", ""))),
        timeline=domain.timeline(practice),
        similar=similar,
    )


@site.get("/countries/<code>")
def country_page(code: str) -> Response:
    """What a country hosted and attended, its practices and what it followed up."""
    code = code.upper()
    name = country_name(code, g.lang)
    if len(code) != 2 or name == code:
        raise PageNotFound(code)
    store = _store()
    transfers = []
    for practice in store.country_transfers(code):
        for transfer in domain.timeline(practice):
            if transfer["country"] == code:
                transfers.append({"practice": practice, "transfer": transfer})
    transfers.sort(key=lambda item: -(item["transfer"].get("year") or 0))
    t = TEXTS[g.lang]
    return render(
        "country.html",
        title=name,
        description=f"{name}: {t['hosted']}, {t['attended']}, {t['practices']}",
        code=code,
        name=name,
        hosted=store.country_events(code, "host_country", 50),
        attended=store.country_events(code, "guest_countries", 50),
        practices=store.country_practices(code),
        transfers=transfers,
    )


@site.get("/site.css")
def stylesheet() -> Response:
    response = make_response(render_template("site.css"))
    response.mimetype = "text/css"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@site.get("/favicon.svg")
def favicon() -> Response:
    response = make_response(render_template("favicon.svg"))
    response.mimetype = "image/svg+xml"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
