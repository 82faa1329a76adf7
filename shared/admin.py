"""The operator console every service mounts (:func:`shared.web.create_service_app`):
its status (:mod:`shared.ops`), its dead-letter records and their redrive
(:mod:`shared.dlq`), and an overview of every service, for the ``ops`` role only.

JSON, with the bearer token as every API: ``GET /v1/ops/status``,
``GET /v1/ops/overview``, ``GET /v1/ops/dlq``, ``POST /v1/ops/dlq/redrive``
and ``GET /v1/ops/audit``. Pages, server-rendered on the layout of
:mod:`shared.pages` in English, French or German: ``/ops`` (this service),
``/ops/overview`` (all services) and ``/ops/login``, where an operator pastes
a token; the page keeps it in an HttpOnly, SameSite=Strict cookie scoped to
``/ops``. Because that cookie authenticates the forms, each form carries a
token signed with itsdangerous, bound to the cookie's token and good for
:data:`CSRF_MAX_AGE_S` (Flask-WTF would want Flask sessions and a secret of
their own; the signature needs neither). None of it is in the OpenAPI
documents: like ``/healthz`` it is the operators' surface, not the partners'.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import requests
from flask import Blueprint, Response, g, jsonify, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as Answer

from shared.auth import Authenticator, Principal, current_principal
from shared.dlq import RedriveLog, Selection, pending_dead_letters, redrive
from shared.errors import DomainError
from shared.ops import OpsSection, service_status
from shared.pages import TEMPLATES, Pages, negotiate, wants_html
from shared.problems import Problem, problem_from_domain_error
from shared.topics import TOPICS

OPS_ROLE = "ops"
COOKIE = "mlp_ops_token"
CSRF_SALT = "mlp-ops-csrf"
CSRF_MAX_AGE_S = 8 * 3600
COOKIE_MAX_AGE_S = 8 * 3600
OVERVIEW_TIMEOUT_S = 5.0
LIST_LIMIT = 200

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "console": "Operator console",
        "overview": "All services",
        "this_service": "Console of {service}",
        "login_title": "Operator sign-in",
        "login_intro": "Paste a bearer token that holds the ops role. This console keeps it "
        "in a cookie of its own until the token expires or you sign out.",
        "token": "Bearer token",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "signed_in": "Signed in as {sub}.",
        "health": "Health",
        "part": "Part",
        "state": "State",
        "web": "Web",
        "worker": "Worker",
        "outbox": "Outbox",
        "pending": "Records not yet published",
        "oldest": "Age of the oldest, in seconds",
        "lag": "Consumer lag",
        "group": "Group",
        "topic": "Topic",
        "partition": "Partition",
        "committed": "Committed offset",
        "end": "End offset",
        "behind": "Lag",
        "no_lag": "This service consumes no topic.",
        "dlq": "Dead letters",
        "depth": "Records not yet redriven: {n}",
        "filter": "Filter",
        "original_topic": "Original topic",
        "any_topic": "Any topic",
        "error_contains": "Error contains",
        "show": "Show",
        "records": "Dead-lettered records waiting",
        "select": "Select",
        "select_record": "Select record {id}",
        "record": "Record",
        "original": "Original topic, partition and offset",
        "error": "Error",
        "attempts": "Attempts",
        "ids": "Event id and correlation id",
        "redrives": "Redrives",
        "when": "Dead-lettered at",
        "action": "Action",
        "redrive_one": "Redrive {id}",
        "redrive_selected": "Redrive selected",
        "redrive_matching": "Redrive all matching the filter",
        "dry_run": "Dry run: show what would move, move nothing",
        "no_records": "No dead-lettered record is waiting.",
        "truncated": "Only the oldest records are shown.",
        "moved": "Redriven: {n}.",
        "would_move": "A dry run: {n} would move, nothing moved.",
        "refused": "Refused",
        "remaining": "{n} more matched; redrive again to move them (the rate limit).",
        "audit": "Audit log",
        "at": "When",
        "by": "Who",
        "what": "What",
        "unavailable": "Not available: {error}",
        "service": "Service",
        "up": "up",
        "down": "down",
        "dlq_short": "Dead letters",
        "footer": "Operator console, for the ops role only. Every redrive is recorded with "
        "your name.",
        "forbidden": "This console is for the ops role only, and your token does not hold it.",
        "expired": "This form has expired. Reload the page and try again.",
    },
    "fr": {
        "console": "Console d'exploitation",
        "overview": "Tous les services",
        "this_service": "Console de {service}",
        "login_title": "Connexion de l'exploitation",
        "login_intro": "Collez un jeton porteur qui détient le rôle ops. Cette console le "
        "garde dans un cookie qui lui est propre jusqu'à son expiration ou votre déconnexion.",
        "token": "Jeton porteur",
        "sign_in": "Se connecter",
        "sign_out": "Se déconnecter",
        "signed_in": "Connecté en tant que {sub}.",
        "health": "État de santé",
        "part": "Composant",
        "state": "État",
        "web": "Web",
        "worker": "Worker",
        "outbox": "Outbox",
        "pending": "Enregistrements pas encore publiés",
        "oldest": "Âge du plus ancien, en secondes",
        "lag": "Retard des consommateurs",
        "group": "Groupe",
        "topic": "Topic",
        "partition": "Partition",
        "committed": "Offset validé",
        "end": "Offset de fin",
        "behind": "Retard",
        "no_lag": "Ce service ne consomme aucun topic.",
        "dlq": "Lettres mortes",
        "depth": "Enregistrements pas encore relancés : {n}",
        "filter": "Filtre",
        "original_topic": "Topic d'origine",
        "any_topic": "Tous les topics",
        "error_contains": "L'erreur contient",
        "show": "Afficher",
        "records": "Enregistrements en lettres mortes en attente",
        "select": "Choisir",
        "select_record": "Choisir l'enregistrement {id}",
        "record": "Enregistrement",
        "original": "Topic, partition et offset d'origine",
        "error": "Erreur",
        "attempts": "Tentatives",
        "ids": "Id de l'événement et id de corrélation",
        "redrives": "Relances",
        "when": "Mis en lettres mortes le",
        "action": "Action",
        "redrive_one": "Relancer {id}",
        "redrive_selected": "Relancer la sélection",
        "redrive_matching": "Relancer tout ce que le filtre retient",
        "dry_run": "Essai à blanc : montrer ce qui partirait, ne rien envoyer",
        "no_records": "Aucun enregistrement n'attend en lettres mortes.",
        "truncated": "Seuls les enregistrements les plus anciens sont affichés.",
        "moved": "Relancés : {n}.",
        "would_move": "Essai à blanc : {n} partiraient, rien n'est parti.",
        "refused": "Refusés",
        "remaining": "{n} autres correspondent ; relancez encore pour les envoyer "
        "(limite de débit).",
        "audit": "Journal d'audit",
        "at": "Quand",
        "by": "Qui",
        "what": "Quoi",
        "unavailable": "Indisponible : {error}",
        "service": "Service",
        "up": "en service",
        "down": "hors service",
        "dlq_short": "Lettres mortes",
        "footer": "Console d'exploitation, réservée au rôle ops. Chaque relance est "
        "enregistrée à votre nom.",
        "forbidden": "Cette console est réservée au rôle ops, que votre jeton ne détient pas.",
        "expired": "Ce formulaire a expiré. Rechargez la page et réessayez.",
    },
    "de": {
        "console": "Betriebskonsole",
        "overview": "Alle Dienste",
        "this_service": "Konsole von {service}",
        "login_title": "Anmeldung für den Betrieb",
        "login_intro": "Fügen Sie ein Bearer-Token mit der Rolle ops ein. Diese Konsole "
        "bewahrt es in einem eigenen Cookie auf, bis es abläuft oder Sie sich abmelden.",
        "token": "Bearer-Token",
        "sign_in": "Anmelden",
        "sign_out": "Abmelden",
        "signed_in": "Angemeldet als {sub}.",
        "health": "Zustand",
        "part": "Teil",
        "state": "Status",
        "web": "Web",
        "worker": "Worker",
        "outbox": "Outbox",
        "pending": "Noch nicht veröffentlichte Datensätze",
        "oldest": "Alter des ältesten, in Sekunden",
        "lag": "Rückstand der Consumer",
        "group": "Gruppe",
        "topic": "Topic",
        "partition": "Partition",
        "committed": "Bestätigter Offset",
        "end": "End-Offset",
        "behind": "Rückstand",
        "no_lag": "Dieser Dienst konsumiert kein Topic.",
        "dlq": "Dead Letters",
        "depth": "Noch nicht erneut gesendete Datensätze: {n}",
        "filter": "Filter",
        "original_topic": "Ursprüngliches Topic",
        "any_topic": "Alle Topics",
        "error_contains": "Fehler enthält",
        "show": "Anzeigen",
        "records": "Wartende Dead-Letter-Datensätze",
        "select": "Auswählen",
        "select_record": "Datensatz {id} auswählen",
        "record": "Datensatz",
        "original": "Ursprüngliches Topic, Partition und Offset",
        "error": "Fehler",
        "attempts": "Versuche",
        "ids": "Ereignis-ID und Korrelations-ID",
        "redrives": "Erneute Sendungen",
        "when": "Als Dead Letter am",
        "action": "Aktion",
        "redrive_one": "{id} erneut senden",
        "redrive_selected": "Auswahl erneut senden",
        "redrive_matching": "Alle Treffer des Filters erneut senden",
        "dry_run": "Probelauf: zeigen, was gesendet würde, nichts senden",
        "no_records": "Kein Dead-Letter-Datensatz wartet.",
        "truncated": "Nur die ältesten Datensätze werden gezeigt.",
        "moved": "Erneut gesendet: {n}.",
        "would_move": "Probelauf: {n} würden gesendet, nichts wurde gesendet.",
        "refused": "Abgelehnt",
        "remaining": "{n} weitere Treffer; senden Sie erneut, um sie zu verschieben "
        "(Ratenbegrenzung).",
        "audit": "Prüfprotokoll",
        "at": "Wann",
        "by": "Wer",
        "what": "Was",
        "unavailable": "Nicht verfügbar: {error}",
        "service": "Dienst",
        "up": "läuft",
        "down": "ausgefallen",
        "dlq_short": "Dead Letters",
        "footer": "Betriebskonsole, nur für die Rolle ops. Jede erneute Sendung wird mit "
        "Ihrem Namen protokolliert.",
        "forbidden": "Diese Konsole ist der Rolle ops vorbehalten, die Ihr Token nicht hat.",
        "expired": "Dieses Formular ist abgelaufen. Laden Sie die Seite neu und versuchen "
        "Sie es erneut.",
    },
}

PAGES = Pages(TEMPLATES / "ops", TEXTS)
# The topics a dead letter may come from: any but the dead-letter topics.
ORIGINAL_TOPICS = sorted(t.name for t in TOPICS if not t.name.startswith("dlq."))


def _session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def admin_blueprint(
    ctx: Any,
    authenticator: Authenticator,
    *,
    consumes: Iterable[str] = (),
    sections: Iterable[OpsSection] = (),
) -> Blueprint:
    """The console of the service of ``ctx`` (a ServiceContext)."""
    settings = ctx.settings
    topics = sorted(consumes)
    own_sections = list(sections)
    log = RedriveLog(ctx.db)
    log.ensure_indexes()
    signer = URLSafeTimedSerializer(settings.jwt_secret, salt=CSRF_SALT)
    ops = Blueprint("ops", __name__)

    def status() -> dict[str, Any]:
        return service_status(ctx, topics, own_sections)

    def bearer() -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return request.cookies.get(COOKIE) or None

    def api_operator() -> Principal:
        """The caller of a JSON route: 401 without a token, 403 without the role."""
        principal = current_principal()
        if principal.anonymous:
            raise Problem(
                401, "This endpoint needs a bearer token.", headers={"WWW-Authenticate": "Bearer"}
            )
        if OPS_ROLE not in principal.roles:
            raise Problem(403, f"This needs one of the roles: {OPS_ROLE}.")
        return principal

    def refused(reason: str, lang: str) -> Answer:
        """The 403 page: ``forbidden`` (not an operator) or ``expired`` (a stale form)."""
        return PAGES.problem(
            Problem(403, reason),
            lang,
            template="refused.html",
            reason=reason,
            service=settings.service,
        )

    def page_operator() -> Principal | Answer:
        """The operator of a page (bearer header, else the cookie), or the answer
        that refuses: to the sign-in page (a browser; others get 401) or 403."""
        principal = current_principal()
        if principal.anonymous and request.cookies.get(COOKIE):
            try:
                principal = authenticator.decode(request.cookies[COOKIE])
            except Problem:
                principal = current_principal()
        lang = negotiate()
        if principal.anonymous:
            if not wants_html():
                api_operator()
            return redirect(f"/ops/login?lang={lang}", code=303)
        if OPS_ROLE not in principal.roles:
            if not wants_html():
                api_operator()
            return refused("forbidden", lang)
        g.principal = principal
        return principal

    def csrf_token() -> str:
        return str(signer.dumps(_session_hash(bearer() or "")))

    def csrf_ok(form: MultiDict[str, str]) -> bool:
        try:
            value = signer.loads(form.get("csrf", ""), max_age=CSRF_MAX_AGE_S)
        except BadSignature:
            return False
        return bool(bearer()) and value == _session_hash(bearer() or "")

    def console(
        principal: Principal,
        *,
        filters: Mapping[str, str],
        result: dict[str, Any] | None = None,
        problem: DomainError | None = None,
        code: int = 200,
    ) -> Response:
        lang = negotiate()
        listing, listing_error = None, None
        try:
            listing = pending_dead_letters(
                settings, settings.service, log, _selection(filters), limit=LIST_LIMIT
            )
        except DomainError as exc:
            listing_error = exc.detail
        return PAGES.response(
            "console.html",
            lang,
            status=code,
            service=settings.service,
            principal=principal,
            status_doc=status(),
            listing=listing,
            listing_error=listing_error,
            filters=filters,
            topics=ORIGINAL_TOPICS,
            result=result,
            problem=problem,
            audit=log.recent(),
            section_titles={
                s.name: s.titles.get(lang, s.titles.get("en", s.name)) for s in own_sections
            },
            csrf=csrf_token(),
        )

    @ops.get("/v1/ops/status")
    def status_json() -> Any:
        """This service's status: health, outbox, lag, dead letters, its own sections."""
        api_operator()
        return jsonify(status())

    @ops.get("/v1/ops/overview")
    def overview_json() -> Any:
        """Every service's status, or why it could not be had."""
        api_operator()
        return jsonify(services=_overview(settings, status, bearer() or ""))

    @ops.get("/v1/ops/dlq")
    def dlq_json() -> Any:
        """The pending dead-letter records (``original_topic``, ``error`` filter them)."""
        api_operator()
        listing = pending_dead_letters(
            settings, settings.service, log, _selection(request.args), limit=LIST_LIMIT
        )
        return jsonify(
            records=[letter.summary() for letter in listing.records], truncated=listing.truncated
        )

    @ops.post("/v1/ops/dlq/redrive")
    def redrive_json() -> Any:
        """Redrive ``records`` (ids) or the matches of ``filter``; ``dry_run`` moves nothing."""
        principal = api_operator()
        body = request.get_json(silent=True)
        selection, dry_run = _selection_of_body(body)
        result = redrive(
            settings, settings.service, log, selection, actor=_actor(principal), dry_run=dry_run
        )
        return jsonify(result.as_dict())

    @ops.get("/v1/ops/audit")
    def audit_json() -> Any:
        """The latest console actions, newest first."""
        api_operator()
        return jsonify(audit=[_jsonable(row) for row in log.recent()])

    @ops.get("/ops")
    def console_page() -> Answer:
        principal = page_operator()
        if isinstance(principal, Answer):
            return principal
        return console(principal, filters=_filters(request.args))

    @ops.get("/ops/overview")
    def overview_page() -> Answer:
        principal = page_operator()
        if isinstance(principal, Answer):
            return principal
        return PAGES.response(
            "overview.html",
            negotiate(),
            service=settings.service,
            principal=principal,
            services=_overview(settings, status, bearer() or ""),
            csrf=csrf_token(),
        )

    @ops.get("/ops/login")
    def login_page() -> Response:
        return PAGES.response("login.html", negotiate(), service=settings.service)

    @ops.post("/ops/login")
    def login() -> Answer:
        token = (request.form.get("token") or "").strip()
        lang = negotiate()
        try:
            principal = authenticator.decode(token) if token else None
        except Problem:
            principal = None
        if principal is None:
            return PAGES.response(
                "login.html", lang, status=401, service=settings.service, failed=True
            )
        if OPS_ROLE not in principal.roles:
            return refused("forbidden", lang)
        answer = redirect(f"/ops?lang={lang}", code=303)
        answer.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_MAX_AGE_S,
            path="/ops",
            secure=not settings.is_development,
            httponly=True,
            samesite="Strict",
        )
        return answer

    @ops.post("/ops/logout")
    def logout() -> Answer:
        principal = page_operator()
        if isinstance(principal, Answer):
            return principal
        answer = redirect("/ops/login", code=303)
        if csrf_ok(request.form):
            answer.delete_cookie(COOKIE, path="/ops")
        return answer

    @ops.post("/ops/dlq/redrive")
    def redrive_page() -> Answer:
        principal = page_operator()
        if isinstance(principal, Answer):
            return principal
        form = request.form
        filters = _filters(form)
        if not csrf_ok(form):
            return refused("expired", negotiate())
        try:
            if form.get("one"):
                selection = Selection(ids=frozenset({form["one"]}))
            elif form.get("action") == "selected":
                selection = Selection(ids=frozenset(form.getlist("record")))
            else:
                selection = _selection(filters)
            result = redrive(
                settings,
                settings.service,
                log,
                selection,
                actor=_actor(principal),
                dry_run=form.get("dry_run") == "true",
            )
        except DomainError as exc:
            return console(
                principal, filters=filters, problem=exc, code=problem_from_domain_error(exc).status
            )
        return console(principal, filters=filters, result=result.as_dict())

    return ops


def _actor(principal: Principal) -> str:
    return principal.sub or "?"


def _filters(args: Mapping[str, str]) -> dict[str, str]:
    return {
        "original_topic": (args.get("original_topic") or "").strip(),
        "error": (args.get("error") or "").strip(),
    }


def _selection(args: Mapping[str, str]) -> Selection:
    filters = _filters(args)
    return Selection(
        original_topic=filters["original_topic"] or None, error=filters["error"] or None
    )


def _selection_of_body(body: Any) -> tuple[Selection, bool]:
    """``{"records": [ids]}`` or ``{"filter": {"original_topic", "error"}}``
    (``{}``: every pending record), with an optional ``dry_run``."""
    if not isinstance(body, dict):
        raise Problem(400, 'Send a JSON object: {"records": [...]} or {"filter": {...}}.')
    errors: dict[str, str] = {}
    unknown = sorted(set(body) - {"records", "filter", "dry_run"})
    if unknown:
        errors["body"] = f"unknown fields {unknown}"
    if ("records" in body) == ("filter" in body):
        errors["selection"] = "give exactly one of records and filter"
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        errors["dry_run"] = "true or false"
    records = body.get("records")
    if "records" in body and (
        not isinstance(records, list) or not all(isinstance(r, str) for r in records)
    ):
        errors["records"] = "a list of record ids (<partition>@<offset>)"
    chosen = body.get("filter")
    if "filter" in body and (
        not isinstance(chosen, dict)
        or set(chosen) - {"original_topic", "error"}
        or not all(isinstance(v, str) for v in chosen.values())
    ):
        errors["filter"] = "an object of original_topic and error (strings)"
    if errors:
        raise Problem(422, "The request body or parameters are not valid.", errors=errors)
    if records is not None:
        return Selection(ids=frozenset(records)), dry_run
    return (
        Selection(
            original_topic=chosen.get("original_topic") or None, error=chosen.get("error") or None
        ),
        dry_run,
    )


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _overview(settings: Any, own: Callable[[], dict[str, Any]], token: str) -> list[dict[str, Any]]:
    """Each service of ``MLP_OPS_SERVICE_URLS``: its status, asked with the
    operator's own token (this one's in-process), or ``down`` and why."""

    def ask(name: str, url: str) -> dict[str, Any]:
        row: dict[str, Any] = {"service": name, "url": url}
        if name == settings.service:
            return row | {"state": "up", "status": own()}
        try:
            answer = requests.get(
                f"{url}/v1/ops/status",
                headers={"Authorization": f"Bearer {token}"},
                timeout=OVERVIEW_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            return row | {"state": "down", "error": type(exc).__name__}
        if answer.status_code != 200:
            return row | {"state": "down", "error": f"HTTP {answer.status_code}"}
        try:
            return row | {"state": "up", "status": answer.json()}
        except ValueError:
            return row | {"state": "down", "error": "not JSON"}

    pairs = list(settings.ops_service_urls)
    if not pairs:
        return []
    with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
        return list(pool.map(lambda pair: ask(*pair), pairs))
