"""HTTP routes of the events service, programme events and hosting proposals
(thin: validation and authorisation here, write paths in ``operations``)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView

from services.events import operations
from services.events.domain import proposal_filter, query_terms, visibility_filter
from services.events.operations import Context
from services.events.schemas import (
    PROPOSAL_SORTABLE,
    SORTABLE,
    CancelSchema,
    EventCreateSchema,
    EventListSchema,
    EventPatchSchema,
    EventQuerySchema,
    EventSchema,
    ProposalAcceptSchema,
    ProposalCreateSchema,
    ProposalDeclineSchema,
    ProposalListSchema,
    ProposalQuerySchema,
    ProposalSchema,
)
from shared.auth import Principal, coordinator_country, current_principal, require_roles
from shared.http import etag, page_body, parse_sort
from shared.problems import Problem
from shared.web import ApiBlueprint, require_body, service_context

blp = ApiBlueprint(
    "events", __name__, url_prefix="/v1", description="Programme events and hosting proposals"
)

_event_schema = EventSchema()
# Arguments are parsed by schema instances, never classes: given a class, webargs
# builds a new schema (deep copies of all its fields) for every request — about
# a fifth of the app's CPU per create.


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
    @blp.arguments(EventQuerySchema(), location="query")
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
    @blp.arguments(EventCreateSchema())
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
@blp.arguments(CancelSchema(), required=False)
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


# --- hosting proposals -------------------------------------------------------

_proposal_schema = ProposalSchema()
PROPOSAL_READERS = ("secretariat", "ops", "coordinator")


def _respond_proposal(proposal: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(_proposal_schema.dump(proposal))
    response.status_code = status
    response.headers["ETag"] = etag(proposal["version"])
    if status == 201:
        response.headers["Location"] = f"/v1/proposals/{proposal['id']}"
    return response


def _readable(principal: Principal) -> dict[str, Any]:
    """The proposals filter of the caller: a coordinator without a country is 403."""
    if principal.has_any({"secretariat", "ops"}):
        return proposal_filter(principal, None)
    return proposal_filter(principal, coordinator_country(principal))


@blp.route("/proposals")
class Proposals(MethodView):
    @require_roles(*PROPOSAL_READERS)
    @blp.arguments(ProposalQuerySchema(), location="query")
    @blp.response(200, ProposalListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Proposals, newest first: all for the secretariat, a coordinator's country's for them."""
        clauses: list[dict[str, Any]] = [_readable(current_principal())]
        for name in ("status", "country"):
            if name in args:
                clauses.append({name: args[name]})
        sort = parse_sort(args["sort"], PROPOSAL_SORTABLE, default="-submitted_at")
        page, size = args["page"], args["page_size"]
        items, total = ctx().store.find_proposals({"$and": clauses}, sort, (page - 1) * size, size)
        return page_body(items, total, page, size)

    @require_roles("coordinator")
    @blp.arguments(ProposalCreateSchema())
    @blp.response(201, ProposalSchema)
    def post(self, fields: dict[str, Any]) -> Response:
        """Propose to host a peer learning event, for the coordinator's own country."""
        principal = current_principal()
        country = coordinator_country(principal)
        return _respond_proposal(operations.submit_proposal(ctx(), fields, principal, country), 201)


@blp.route("/proposals/<proposal_id>")
class ProposalItem(MethodView):
    @require_roles(*PROPOSAL_READERS)
    @blp.response(200, ProposalSchema)
    def get(self, proposal_id: str) -> Response:
        """One proposal; another country's is 404 to a coordinator."""
        query = {"$and": [{"_id": proposal_id}, _readable(current_principal())]}
        items, _ = ctx().store.find_proposals(query, [("_id", 1)], 0, 1)
        if not items:
            raise Problem(404, f"There is no proposal {proposal_id}.")
        return _respond_proposal(items[0])


@blp.route("/proposals/<proposal_id>/accept", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(ProposalAcceptSchema(partial=True), required=False)
@blp.response(200, ProposalSchema)
def accept_proposal(choices: dict[str, Any], proposal_id: str) -> Response:
    """Accept a submitted proposal: a draft event is made from it (its ``event_id``);
    the body sets the draft's ``programme`` and any other event field (secretariat)."""
    proposal, _ = operations.accept_proposal(
        ctx(), proposal_id, choices, current_principal(), request.headers.get("If-Match")
    )
    return _respond_proposal(proposal)


@blp.route("/proposals/<proposal_id>/decline", methods=["POST"])
@require_roles("secretariat")
@blp.arguments(ProposalDeclineSchema())
@blp.response(200, ProposalSchema)
def decline_proposal(args: dict[str, Any], proposal_id: str) -> Response:
    """Decline a submitted proposal with a reason, which the coordinator is sent (secretariat)."""
    return _respond_proposal(
        operations.decline_proposal(
            ctx(), proposal_id, args["reason"], current_principal(), request.headers.get("If-Match")
        )
    )
