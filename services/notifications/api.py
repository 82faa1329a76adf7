"""HTTP routes of the notifications service (thin: validation and authorisation
here, writes in ``operations``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request
from flask.views import MethodView

from services.notifications import domain, operations
from services.notifications.operations import Context
from services.notifications.schemas import (
    DeliveryListSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    FeedItemSchema,
    FeedQuerySchema,
    FeedSchema,
    SubscriptionCreatedSchema,
    SubscriptionCreateSchema,
    SubscriptionListSchema,
    SubscriptionSchema,
    UnsubscribedSchema,
)
from services.notifications.store import NotificationStore
from shared.auth import current_principal, require_roles
from shared.http import ListArgs, page_body
from shared.problems import Problem
from shared.web import ApiBlueprint, service_context

blp = ApiBlueprint(
    "notifications",
    __name__,
    url_prefix="/v1",
    description="In-app feed, partner webhooks, mail preferences",
)
SUBSCRIBER_ROLES = ("partner", "secretariat", "ops")


def ctx() -> Context:
    return service_context()


def store() -> NotificationStore:
    return ctx().store


def _feed_query() -> dict[str, Any]:
    principal = current_principal()
    return store().feed_query(principal.sub, principal.verified_email)


@blp.route("/notifications")
class Feed(MethodView):
    @require_roles()
    @blp.arguments(FeedQuerySchema, location="query")
    @blp.response(200, FeedSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's notifications (matched on the token's subject or verified
        e-mail), newest first."""
        page, size = args["page"], args["page_size"]
        items, total, unread = store().feed_page(_feed_query(), (page - 1) * size, size)
        return {**page_body(items, total, page, size), "unread": unread}


@blp.route("/notifications/<item_id>/read", methods=["POST"])
@require_roles()
@blp.response(200, FeedItemSchema)
@blp.problems(404)
def mark_read(item_id: str) -> dict[str, Any]:
    """Mark one of the caller's notifications read; someone else's is 404."""
    doc = store().mark_read(_feed_query(), item_id, datetime.now(UTC))
    if doc is None:
        raise Problem(404, f"There is no notification {item_id} for you.")
    return doc


# --- subscriptions ----------------------------------------------------------------


def _owned(subscription_id: str) -> dict[str, Any]:
    sub = store().owned_subscription(subscription_id, current_principal().sub or "")
    if sub is None:
        raise Problem(404, f"There is no subscription {subscription_id}.")
    return sub


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @require_roles(*SUBSCRIBER_ROLES)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, SubscriptionListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The caller's own webhook subscriptions."""
        page, size = args["page"], args["page_size"]
        owner = current_principal().sub
        items, total = store().subscriptions_page(owner, (page - 1) * size, size)
        return page_body(items, total, page, size)

    @require_roles(*SUBSCRIBER_ROLES)
    @blp.arguments(SubscriptionCreateSchema)
    @blp.response(201, SubscriptionCreatedSchema)
    @blp.problems(409)
    def post(self, body: dict[str, Any]) -> Response:
        """Subscribe a URL to partner-visible topics; the signing secret is shown only here.

        An owner has at most ``MLP_WEBHOOK_MAX_SUBSCRIPTIONS`` of them (409 beyond)."""
        settings = ctx().settings
        try:
            domain.check_target(
                body["url"],
                allow_loopback=settings.webhook_allow_loopback,
                ports=settings.webhook_ports,
            )
        except domain.UnsafeTarget as exc:
            raise Problem(422, str(exc), slug="unsafe-target", errors={"url": [str(exc)]}) from exc
        principal = current_principal()
        doc = operations.create_subscription(
            ctx(),
            owner_sub=principal.sub or "",
            owner_email=principal.verified_email,
            url=body["url"],
            topics=body["topics"],
            description=body["description"],
        )
        response = jsonify(SubscriptionCreatedSchema().dump(doc))
        response.status_code = 201
        response.headers["Location"] = f"/v1/subscriptions/{doc['_id']}"
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/subscriptions/<subscription_id>")
class SubscriptionItem(MethodView):
    @require_roles(*SUBSCRIBER_ROLES)
    @blp.response(200, SubscriptionSchema)
    @blp.problems(404)
    def get(self, subscription_id: str) -> dict[str, Any]:
        """One of the caller's subscriptions (never its secret)."""
        return _owned(subscription_id)

    @require_roles(*SUBSCRIBER_ROLES)
    @blp.response(204)
    @blp.problems(404)
    def delete(self, subscription_id: str) -> None:
        """Stop a subscription; its pending deliveries are cancelled."""
        operations.delete_subscription(ctx(), _owned(subscription_id))


@blp.route("/subscriptions/<subscription_id>/deliveries")
@require_roles(*SUBSCRIBER_ROLES)
@blp.arguments(DeliveryQuerySchema, location="query")
@blp.response(200, DeliveryListSchema)
@blp.problems(404)
def deliveries(args: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    """The delivery log: status code, latency and attempts of each delivery, newest first."""
    sub = _owned(subscription_id)
    page, size = args["page"], args["page_size"]
    items, total = store().deliveries_page(sub["_id"], args.get("status"), (page - 1) * size, size)
    return page_body(items, total, page, size)


@blp.route("/subscriptions/<subscription_id>/deliveries/<delivery_id>/redeliver", methods=["POST"])
@require_roles(*SUBSCRIBER_ROLES)
@blp.response(202, DeliverySchema)
@blp.problems(404, 409)
def redeliver(subscription_id: str, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again (dead-lettered or not), with the same webhook-id."""
    return operations.redeliver(ctx(), _owned(subscription_id), delivery_id)


# --- mail preferences ---------------------------------------------------------------


def _token_hash(token: str) -> str:
    email_hash = domain.read_unsubscribe_token(ctx().settings.unsubscribe_keys, token)
    if email_hash is None:
        raise Problem(404, "This unsubscribe link is not valid.")
    return email_hash


@blp.route("/preferences/unsubscribe/<token>")
class Unsubscribe(MethodView):
    @blp.response(200, UnsubscribedSchema)
    @blp.problems(404)
    def get(self, token: str) -> dict[str, Any]:
        """Show what the link does; a GET never changes anything (mail scanners prefetch)."""
        email_hash = _token_hash(token)
        done = store().opted_out(email_hash)
        return {
            "unsubscribed": done,
            "detail": "POST to this link to stop reminders and paper notices; "
            "invitations, confirmations and cancellations always reach you.",
        }

    @blp.response(200, UnsubscribedSchema)
    @blp.problems(404)
    def post(self, token: str) -> dict[str, Any]:
        """Opt out of non-essential mail (RFC 8058 one-click: ``List-Unsubscribe=One-Click``)."""
        _ = request.get_data(cache=False)  # form body of one-click clients, ignored
        operations.unsubscribe(ctx(), _token_hash(token))
        return {
            "unsubscribed": True,
            "detail": "You will no longer receive reminders and paper notices.",
        }
