"""HTTP routes of the events service (thin: validation and authorisation here,
write paths in ``operations``)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView

from services.events import operations
from services.events.domain import query_terms, visibility_filter
from services.events.operations import Context
from services.events.schemas import (
    SORTABLE,
    CancelSchema,
    EventCreateSchema,
    EventListSchema,
    EventPatchSchema,
    EventQuerySchema,
    EventSchema,
)
from shared.auth import current_principal, require_roles
from shared.http import etag, page_body, parse_sort
from shared.problems import Problem
from shared.web import ApiBlueprint, require_body, service_context

blp = ApiBlueprint("events", __name__, url_prefix="/v1", description="Programme events")

_event_schema = EventSchema()


def ctx() -> Context:
    return service_context()


def _respond(event: dict[str, Any], status: int = 200) -> Response:
    tag = etag(event["version"])
    if request.method == "GET" and request.if_none_match.contains_weak(str(event["version"])):
        return Response(status=304, headers={"ETag": tag})
    response = jsonify(_event_schema.dump(event))
    response.status_code = status
    response.headers["ETag"] = tag
    if status == 201:
        response.headers["Location"] = f"/v1/events/{event['id']}"
    return response


def _visible_event(event_id: str) -> dict[str, Any]:
    """The event if the caller may see it; 404 otherwise (its existence stays private)."""
    query = {"$and": [{"_id": event_id}, visibility_filter(current_principal())]}
    items, _ = ctx().store.find(query, [("_id", 1)], 0, 1)
    if not items:
        raise Problem(404, f"There is no event {event_id}.")
    return items[0]


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The catalogue: filter, sort and page the events the caller may see."""
        clauses: list[dict[str, Any]] = [visibility_filter(current_principal())]
        for name in ("status", "format", "programme"):
            if name in args:
                clauses.append({name: args[name]})
        if "country" in args:
            country = args["country"]
            clauses.append({"$or": [{"host_country": country}, {"guest_countries": country}]})
        if "from_" in args:
            clauses.append({"ends_on": {"$gte": args["from_"].isoformat()}})
        if "to" in args:
            clauses.append({"starts_on": {"$lte": args["to"].isoformat()}})
        if args.get("q"):
            terms = query_terms(args["q"])
            if terms:
                clauses.append({"search_terms": {"$all": terms}})
        query = {"$and": clauses}
        sort = parse_sort(args["sort"], SORTABLE, default="starts_on")
        page, size = args["page"], args["page_size"]
        items, total = ctx().store.find(query, sort, (page - 1) * size, size)
        return page_body(items, total, page, size)

    @require_roles("secretariat")
    @blp.arguments(EventCreateSchema)
    @blp.response(201, EventSchema)
    def post(self, fields: dict[str, Any]) -> Response:
        """Create a programme event as a draft (secretariat)."""
        event = operations.create_event(ctx(), fields, current_principal())
        return _respond(event, 201)


@blp.route("/events/<event_id>")
class EventItem(MethodView):
    @blp.response(200, EventSchema)
    @blp.alt_response(304, description="Not modified since the ETag given (If-None-Match)")
    @blp.problems(404)
    def get(self, event_id: str) -> Response:
        """One event, with its ETag."""
        return _respond(_visible_event(event_id))

    @require_roles("secretariat")
    @blp.arguments(EventPatchSchema(partial=True))
    @blp.response(200, EventSchema)
    @blp.problems(400, 404, 409, 412)
    def patch(self, changes: dict[str, Any], event_id: str) -> Response:
        """Change fields of a draft or published event; send If-Match with the ETag."""
        require_body()
        return _respond(
            operations.update_event(ctx(), event_id, changes, request.headers.get("If-Match"))
        )


def _transition_view(action: str, doc: str) -> None:
    def view(event_id: str) -> Response:
        return _respond(
            operations.transition(ctx(), event_id, action, if_match=request.headers.get("If-Match"))
        )

    view.__name__ = f"{action}_event"
    view.__doc__ = doc
    blp.route(f"/events/<event_id>/{action}", methods=["POST"])(
        require_roles("secretariat")(
            blp.problems(404, 409, 412)(blp.response(200, EventSchema)(view))
        )
    )


_transition_view("publish", "Publish a draft event to its audience (secretariat).")
_transition_view("complete", "Mark a published event as completed (secretariat).")


@blp.route("/events/<event_id>/cancel", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(CancelSchema, required=False)
@blp.response(200, EventSchema)
@blp.problems(404, 409, 412)
def cancel_event(args: dict[str, Any], event_id: str) -> Response:
    """Cancel a draft or published event, with an optional reason (secretariat)."""
    return _respond(
        operations.transition(
            ctx(),
            event_id,
            "cancel",
            reason=args.get("reason", ""),
            if_match=request.headers.get("If-Match"),
        )
    )
