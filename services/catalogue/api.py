"""HTTP routes of the catalogue service (thin: validation and authorisation here,
write paths in ``operations``, reads through the store). The public website is
``pages.py``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView

from services.catalogue import domain, operations
from services.catalogue.operations import Context
from services.catalogue.schemas import (
    SORTABLE,
    PracticeCreateSchema,
    PracticeListSchema,
    PracticePatchSchema,
    PracticeQuerySchema,
    PracticeSchema,
    SearchQuerySchema,
    SearchResultSchema,
    SimilarListSchema,
    TransferCreateSchema,
)
from shared.auth import current_principal, require_roles
from shared.http import etag, page_body, parse_sort
from shared.problems import Problem
from shared.web import ApiBlueprint, require_body, service_context

blp = ApiBlueprint(
    "catalogue", __name__, url_prefix="/v1", description="Practices, follow-up and search"
)

SEARCH_FILTERS = {
    "type": "type",
    "country": "countries",
    "policy_area": "policy_areas",
    "format": "formats",
    "year": "year",
}
_practice_schema = PracticeSchema()


def ctx() -> Context:
    return service_context()


def _respond(practice: dict[str, Any], status: int = 200) -> Response:
    tag = etag(practice["version"])
    if request.method == "GET" and request.if_none_match.contains_weak(str(practice["version"])):
        return Response(status=304, headers={"ETag": tag})
    response = jsonify(_practice_schema.dump(practice))
    response.status_code = status
    response.headers["ETag"] = tag
    if status == 201:
        response.headers["Location"] = f"/v1/practices/{practice['id']}"
    return response


def _visible_practice(practice_id: str) -> dict[str, Any]:
    """The practice if the caller may see it (drafts and withdrawn ones: the
    secretariat only); 404 otherwise."""
    practice = ctx().store.get_practice(practice_id)
    if practice is None or (
        practice["publication"] != "published" and not current_principal().is_secretariat
    ):
        raise Problem(404, f"There is no practice {practice_id}.")
    return practice


@blp.route("/practices")
class Practices(MethodView):
    @blp.arguments(PracticeQuerySchema, location="query")
    @blp.response(200, PracticeListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The practices database: filter, sort and page (published ones unless secretariat)."""
        clauses: list[dict[str, Any]] = []
        if not current_principal().is_secretariat:
            clauses.append({"publication": "published"})
        elif "publication" in args:
            clauses.append({"publication": args["publication"]})
        for name in ("country", "policy_area", "evidence", "status"):
            if name in args:
                clauses.append({name: args[name]})
        if "target_group" in args:
            clauses.append({"target_groups": args["target_group"]})
        if "tag" in args:
            clauses.append({"tags": args["tag"]})
        if "event_id" in args:
            clauses.append({"events": args["event_id"]})
        if "year" in args:
            year = args["year"]
            clauses.append({"start_year": {"$lte": year}})
            clauses.append({"$or": [{"end_year": None}, {"end_year": {"$gte": year}}]})
        terms = domain.query_terms(args.get("q"))
        if terms:
            clauses.append({"search_terms": {"$all": terms}})
        query = {"$and": clauses} if clauses else {}
        sort = parse_sort(args["sort"], SORTABLE, default="-updated_at")
        page, size = args["page"], args["page_size"]
        items, total = ctx().store.find_practices(query, sort, (page - 1) * size, size)
        return page_body(items, total, page, size)

    @require_roles("secretariat")
    @blp.arguments(PracticeCreateSchema)
    @blp.response(201, PracticeSchema)
    def post(self, fields: dict[str, Any]) -> Response:
        """Record a practice as a draft (secretariat)."""
        practice = operations.create_practice(ctx(), fields, current_principal())
        return _respond(practice, 201)


@blp.route("/practices/<practice_id>")
class PracticeItem(MethodView):
    @blp.response(200, PracticeSchema)
    def get(self, practice_id: str) -> Response:
        """One practice, with its ETag."""
        return _respond(_visible_practice(practice_id))

    @require_roles("secretariat")
    @blp.arguments(PracticePatchSchema(partial=True))
    @blp.response(200, PracticeSchema)
    def patch(self, changes: dict[str, Any], practice_id: str) -> Response:
        """Change fields of a draft or published practice; send If-Match with the ETag."""
        require_body()
        return _respond(
            operations.update_practice(ctx(), practice_id, changes, request.headers.get("If-Match"))
        )


def _transition_view(action: str, doc: str) -> None:
    def view(practice_id: str) -> Response:
        return _respond(
            operations.transition(
                ctx(), practice_id, action, if_match=request.headers.get("If-Match")
            )
        )

    view.__name__ = f"{action}_practice"
    view.__doc__ = doc
    blp.route(f"/practices/<practice_id>/{action}", methods=["POST"])(
        require_roles("secretariat")(blp.response(200, PracticeSchema)(view))
    )


_transition_view("publish", "Publish a draft or withdrawn practice to the database (secretariat).")
_transition_view("withdraw", "Withdraw a published practice from the database (secretariat).")


@blp.route("/practices/<practice_id>/transfers", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(TransferCreateSchema)
@blp.response(201, PracticeSchema)
def record_transfer(fields: dict[str, Any], practice_id: str) -> Response:
    """Record a country's follow-up of the practice (secretariat); answers the practice."""
    practice = operations.record_transfer(
        ctx(), practice_id, fields, if_match=request.headers.get("If-Match")
    )
    return _respond(practice, 201)


@blp.route("/practices/<practice_id>/similar", methods=["GET"])
@blp.response(200, SimilarListSchema)
def similar(practice_id: str) -> dict[str, Any]:
    """Published practices of the same policy area and target groups, by shared tags."""
    practice = _visible_practice(practice_id)
    candidates = ctx().store.similar_candidates(practice, views=False)
    return {"items": domain.similar_practices(practice, candidates)}


def search(args: dict[str, Any]) -> dict[str, Any]:
    """A search of the public catalogue (the API's and the website's)."""
    terms = domain.query_terms(args.get("q"))
    filters = {stored: args[name] for name, stored in SEARCH_FILTERS.items() if name in args}
    order = args.get("sort") or domain.default_order(terms)
    page, size = args["page"], args["page_size"]
    settings = ctx().settings
    items, total, facets = ctx().store.search_page(terms, filters, order, (page - 1) * size, size)
    shown = []
    for entry in items:
        item = {k: v for k, v in entry.items() if k not in {"_id", "ref", "indexed_at"}}
        item["id"] = entry["ref"]
        if entry["type"] == "paper":
            item["url"] = f"{settings.public_url}/events/{entry['event_id']}#paper-{entry['ref']}"
            item["content_url"] = (
                f"{settings.documents_public_url}/v1/documents/{entry['ref']}/content"
            )
        else:
            item["url"] = f"{settings.public_url}/{entry['type']}s/{entry['ref']}"
        shown.append(item)
    return {**page_body(shown, total, page, size), "facets": facets}


@blp.route("/search", methods=["GET"])
@blp.arguments(SearchQuerySchema, location="query")
@blp.response(200, SearchResultSchema)
def search_catalogue(args: dict[str, Any]) -> dict[str, Any]:
    """Search published events, papers and practices, with facet counts."""
    return search(args)
