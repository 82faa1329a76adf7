"""MongoDB access of the notifications service and the indexes of every query path.

Collections: ``contacts`` (invitations: address, name, language, status; from
``internal.invitation.issued`` and ``invitation.*``; never the RSVP link, which
only the invitation mail needs), ``events`` (read model from ``event.*``),
``deferred`` (status mails and survey links waiting for their contact; a
link rests as it came, sealed, until its survey closes), ``mails`` (the mail
outbox; unique idempotency key), ``feed`` (in-app notifications), ``optouts``
(e-mail hashes), ``subscriptions`` and ``deliveries`` (partner webhooks; unique
(subscription, ce_id)), ``subscription_owners`` (one row per owner, written when
it subscribes, so the per-owner cap holds under concurrency) and ``fanouts``
(records whose topic has more subscriptions than one consumer transaction
writes, waiting for the webhook dispatcher to expand them into deliveries).

Mails, feed items, deliveries and contacts carry ``expires_at`` once their
retention runs (``domain.expiry``); a TTL index on it deletes them then. A
pending mail or delivery has none: it is never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from shared.erasure import Erasure, Step
from shared.readmodel import apply_if_newer

Session = ClientSession | None

LOG_LENGTH = 50  # attempts a delivery's log keeps
DUPLICATE_KEY = 11000
FINAL_MAIL_STATUSES = ("sent", "failed", "suppressed")
FINAL_DELIVERY_STATUSES = ("succeeded", "dead", "cancelled")
# Each with a TTL index on expires_at (of the deferred rows, survey links carry one).
RETAINED = ("mails", "feed", "deliveries", "contacts", "deferred")
RSVP_PATH = "/v1/rsvp/"


# What an erasure erases here (shared.erasure): contacts, mails (with their
# MIME message), the feed, opt-outs and what waits for a contact all go.
ERASURE = Erasure(
    steps=(
        Step("contacts", "email", "email", delete=True),
        Step("contacts", "_id", "invitation", delete=True),
        Step("mails", "email_hash", "email_sha256", delete=True),
        Step("feed", "email", "email", delete=True),
        Step("feed", "sub", "account", delete=True, event_field=None),
        Step("optouts", "_id", "email_sha256", delete=True, event_field=None),
        Step("deferred", "invitation_id", "invitation", delete=True),
    ),
    retained=("deliveries: webhook deliveries to partners carry no personal data",),
)


class NotificationStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.contacts = db["contacts"]
        self.events = db["events"]
        self.deferred = db["deferred"]
        self.mails = db["mails"]
        self.feed = db["feed"]
        self.optouts = db["optouts"]
        self.subscriptions = db["subscriptions"]
        self.deliveries = db["deliveries"]
        self.subscription_owners = db["subscription_owners"]
        self.fanouts = db["fanouts"]

    def ensure_indexes(self) -> None:
        self.contacts.create_index([("event_id", ASCENDING), ("status", ASCENDING)])
        self.events.create_index([("status", ASCENDING), ("starts_on", ASCENDING)])
        self.deferred.create_index([("invitation_id", ASCENDING)])
        self.mails.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        self.mails.create_index([("cause_id", ASCENDING)])
        self.mails.create_index([("announcing", ASCENDING)], sparse=True)
        self.feed.create_index([("email", ASCENDING), ("created_at", DESCENDING)])
        self.feed.create_index([("sub", ASCENDING), ("created_at", DESCENDING)])
        self.feed.create_index([("role", ASCENDING), ("created_at", DESCENDING)])
        self.feed.create_index([("key", ASCENDING)], unique=True)
        self.subscriptions.create_index(
            [("topics", ASCENDING), ("status", ASCENDING), ("_id", ASCENDING)]
        )
        self.subscriptions.create_index([("owner_sub", ASCENDING), ("created_at", DESCENDING)])
        self.deliveries.create_index(
            [("subscription_id", ASCENDING), ("ce_id", ASCENDING)], unique=True
        )
        self.deliveries.create_index([("subscription_id", ASCENDING), ("created_at", DESCENDING)])
        self.deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        self.fanouts.create_index([("created_at", ASCENDING)])
        for name in RETAINED:
            self.db[name].create_index("expires_at", expireAfterSeconds=0, name="retention")

    # --- read models ------------------------------------------------------------

    def apply_event(self, event_id: str, version: int, fields: dict[str, Any], s: Session) -> bool:
        return apply_if_newer(self.events, event_id, version, fields, s)

    def event(self, event_id: str, s: Session = None) -> dict[str, Any] | None:
        return self.events.find_one({"_id": event_id}, session=s)

    def contact(self, invitation_id: str, s: Session = None) -> dict[str, Any] | None:
        return self.contacts.find_one({"_id": invitation_id}, session=s)

    def apply_contact(
        self, invitation_id: str, version: int, fields: dict[str, Any], s: Session
    ) -> bool:
        """Keep the newest address/link of an invitation (a resend at the same
        version replaces it); False when the record is older."""
        return apply_if_newer(
            self.contacts,
            invitation_id,
            version,
            fields,
            s,
            version_field="contact_version",
            on_insert={"status": "pending"},
            replace_equal=True,
        )

    def apply_status(
        self, invitation_id: str, event_id: str, status: str, version: int, s: Session
    ) -> bool:
        """Keep the newest status of an invitation; False when the record is stale."""
        fields = {"event_id": event_id, "status": status}
        return apply_if_newer(
            self.contacts, invitation_id, version, fields, s, version_field="status_version"
        )

    def retain_contact(self, invitation_id: str, expires_at: datetime, s: Session) -> None:
        """Keep a contact at least until ``expires_at`` (a later record never shortens it)."""
        self.contacts.update_one(
            {"_id": invitation_id}, {"$max": {"expires_at": expires_at}}, session=s
        )

    def retain_contacts_of(self, event_id: str, expires_at: datetime, s: Session) -> None:
        """The event's dates changed: its contacts are kept until ``expires_at``."""
        self.contacts.update_many(
            {"event_id": event_id, "expires_at": {"$ne": expires_at}},
            {"$set": {"expires_at": expires_at}},
            session=s,
        )

    def contacts_of(
        self, event_id: str, statuses: tuple[str, ...], s: Session = None
    ) -> list[dict[str, Any]]:
        query = {"event_id": event_id, "status": {"$in": list(statuses)}, "email": {"$exists": 1}}
        return list(self.contacts.find(query, session=s))

    def defer(self, doc: dict[str, Any], s: Session) -> None:
        self.deferred.insert_one(doc, session=s)

    def take_deferred(self, invitation_id: str, s: Session) -> list[dict[str, Any]]:
        docs = list(self.deferred.find({"invitation_id": invitation_id}, session=s).sort("_id", 1))
        if docs:
            self.deferred.delete_many({"invitation_id": invitation_id}, session=s)
        return docs

    def events_starting(self, dates: list[str]) -> list[dict[str, Any]]:
        return list(self.events.find({"status": "published", "starts_on": {"$in": dates}}))

    # --- mails and feed ---------------------------------------------------------

    def insert_feed(self, doc: dict[str, Any], s: Session) -> None:
        if self.feed.find_one({"key": doc["key"]}, {"_id": 1}, session=s) is None:
            self.feed.insert_one(doc, session=s)

    def insert_mails(self, docs: list[dict[str, Any]], s: Session) -> None:
        """Insert new mails in one round trip (the caller read their keys first:
        in a transaction a duplicate key would abort it)."""
        if docs:
            self.mails.insert_many(docs, ordered=True, session=s)

    def existing_mails(self, keys: list[str], s: Session) -> set[str]:
        """Which of the idempotency keys ``keys`` are in the outbox already."""
        if not keys:
            return set()
        return {d["_id"] for d in self.mails.find({"_id": {"$in": keys}}, {"_id": 1}, session=s)}

    def insert_feed_many(self, docs: list[dict[str, Any]], s: Session) -> None:
        """Insert the feed items whose ``key`` is not there yet, in two round trips."""
        if not docs:
            return
        keys = [d["key"] for d in docs]
        known = {d["key"] for d in self.feed.find({"key": {"$in": keys}}, {"key": 1}, session=s)}
        fresh = [d for d in docs if d["key"] not in known]
        if fresh:
            self.feed.insert_many(fresh, ordered=True, session=s)

    def claim_mails(
        self, now: datetime, hold_until: datetime, token: str, limit: int
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` of the oldest due pending mails until ``hold_until``:
        their ids, then one update that marks with ``token`` those still due, then
        the ones carrying ``token`` (another sender that marked one in between has
        it, and it is not read back here): two senders never hold the same mail."""
        due = {"status": "pending", "next_attempt_at": {"$lte": now}}
        return _claim(self.mails, due, hold_until, token, limit)

    def mail_queue(self, now: datetime) -> dict[str, int]:
        """The mail outbox at a glance (the operator console): pending mails due
        now, pending ones already tried at least once (retrying), and those
        failed for good."""
        pending = {"status": "pending"}
        return {
            "due": self.mails.count_documents({**pending, "next_attempt_at": {"$lte": now}}),
            "retrying": self.mails.count_documents({**pending, "attempts": {"$gte": 1}}),
            "failed": self.mails.count_documents({"status": "failed"}),
        }

    def deliveries_by_state(self) -> dict[str, int]:
        """Webhook deliveries per status (pending, succeeded, dead, cancelled)."""
        rows = self.deliveries.aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}])
        return {str(row["_id"]): row["n"] for row in rows}

    def hold_mails(self, ids: list[str], token: str, until: datetime) -> None:
        """Renew this sender's claim on mails it still holds."""
        if ids:
            self.mails.update_many(
                {"_id": {"$in": ids}, "claim": token, "status": "pending"},
                {"$set": {"next_attempt_at": until}},
            )

    def release_mails(self, ids: list[str], token: str, at: datetime) -> None:
        """Give back claimed mails that were not tried: due again at ``at``."""
        _release(self.mails, ids, token, at)

    def apply_mail_outcomes(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        """Write attempts' outcomes, ``(mail id, update)`` each: one command for them all.
        Each update is atomic on its row and carries the row's announcement with
        it (``announce``), so no transaction is needed here."""
        if len(updates) == 1:
            [(mail_id, update)] = updates
            self.mails.update_one({"_id": mail_id}, update)
        elif updates:
            self.mails.bulk_write([UpdateOne({"_id": i}, u) for i, u in updates], ordered=True)

    def pending_announcements(
        self, ids: list[str] | None, s: Session, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Mails (of ``ids``, or any) whose outcome's announcement is not in the outbox yet."""
        query: dict[str, Any] = {"announcing": True}
        if ids is not None:
            query["_id"] = {"$in": ids}
        return list(self.mails.find(query, {"announce": 1}, session=s).limit(limit))

    def clear_announcements(self, ids: list[str], s: Session) -> None:
        self.mails.update_many(
            {"_id": {"$in": ids}}, {"$unset": {"announce": "", "announcing": ""}}, session=s
        )

    def opted_out(self, email_hash: str) -> bool:
        return self.optouts.find_one({"_id": email_hash}, {"_id": 1}) is not None

    def opted_out_of(self, hashes: list[str]) -> set[str]:
        """Which of the e-mail hashes ``hashes`` opted out: one query for a batch."""
        if not hashes:
            return set()
        return {d["_id"] for d in self.optouts.find({"_id": {"$in": hashes}}, {"_id": 1})}

    def opted_out_since(self, email_hash: str) -> datetime | None:
        """When this address opted out of non-essential mail; None while it has not."""
        row = self.optouts.find_one({"_id": email_hash}, {"at": 1})
        return None if row is None else row.get("at")

    def opt_out(self, email_hash: str, at: datetime) -> None:
        self.optouts.update_one({"_id": email_hash}, {"$setOnInsert": {"at": at}}, upsert=True)

    def feed_query(
        self, sub: str | None, email: str | None, roles: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """The feed of a caller: items for their ``sub`` or address, and items for
        a role they hold (the secretariat's notices)."""
        clauses: list[dict[str, Any]] = []
        if sub:
            clauses.append({"sub": sub})
        if email:
            clauses.append({"email": email})
        if roles:
            clauses.append({"role": {"$in": sorted(roles)}})
        return {"$or": clauses} if clauses else {"_id": None}

    def feed_page(
        self, query: dict[str, Any], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int, int]:
        total = self.feed.count_documents(query)
        unread = self.feed.count_documents({**query, "read_at": None})
        cursor = (
            self.feed.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return list(cursor), total, unread

    def mark_read(self, query: dict[str, Any], item_id: str, at: datetime) -> dict | None:
        doc = self.feed.find_one({"$and": [query, {"_id": item_id}]})
        if doc is None:
            return None
        if doc.get("read_at") is None:
            self.feed.update_one({"_id": item_id}, {"$set": {"read_at": at}})
            doc["read_at"] = at
        return doc

    # --- webhooks: subscriptions ------------------------------------------------

    def lock_owner(self, owner: str, s: Session) -> None:
        """Write the owner's row, so that two transactions creating subscriptions
        for one owner conflict (and one retries) instead of both counting alike."""
        self.subscription_owners.update_one(
            {"_id": owner}, {"$inc": {"creations": 1}}, upsert=True, session=s
        )

    def count_subscriptions(self, owner: str, s: Session) -> int:
        """How many subscriptions ``owner`` has, disabled ones included, deleted ones not."""
        query = {"owner_sub": owner, "status": {"$ne": "deleted"}}
        return self.subscriptions.count_documents(query, session=s)

    def insert_subscription(self, doc: dict[str, Any], s: Session = None) -> None:
        self.subscriptions.insert_one(doc, session=s)

    def subscriptions_for(self, topic: str, s: Session, limit: int = 0) -> list[dict[str, Any]]:
        """The ids of the active subscriptions to ``topic`` (at most ``limit``, 0: all)."""
        cursor = self.subscriptions.find(
            {"topics": topic, "status": "active"}, {"_id": 1}, session=s
        ).sort("_id", ASCENDING)
        return list(cursor.limit(limit))

    def subscription_ids_after(self, topic: str, after: str, limit: int) -> list[str]:
        """One page of the active subscriptions to ``topic``, in id order after ``after``."""
        query = {"topics": topic, "status": "active", "_id": {"$gt": after}}
        cursor = self.subscriptions.find(query, {"_id": 1}).sort("_id", ASCENDING).limit(limit)
        return [doc["_id"] for doc in cursor]

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        return self.subscriptions.find_one({"_id": subscription_id})

    def owned_subscription(self, subscription_id: str, owner: str) -> dict[str, Any] | None:
        return self.subscriptions.find_one(
            {"_id": subscription_id, "owner_sub": owner, "status": {"$ne": "deleted"}}
        )

    def subscriptions_page(
        self, owner: str | None, skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of ``owner``'s subscriptions (deleted ones left out), newest
        first, and how many there are in all."""
        query = {"owner_sub": owner, "status": {"$ne": "deleted"}}
        total = self.subscriptions.count_documents(query)
        cursor = (
            self.subscriptions.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return list(cursor), total

    def mark_subscription_deleted(self, subscription_id: str, at: datetime, s: Session) -> None:
        self.subscriptions.update_one(
            {"_id": subscription_id},
            {"$set": {"status": "deleted", "deleted_at": at}},
            session=s,
        )

    def disable_subscription(self, subscription_id: str, at: datetime, s: Session) -> None:
        self.subscriptions.update_one(
            {"_id": subscription_id},
            {"$set": {"status": "disabled", "disabled_at": at}},
            session=s,
        )

    # --- webhooks: deliveries --------------------------------------------------

    def subscriptions_with_delivery(self, ce_id: str, ids: list[str], s: Session) -> set[str]:
        """Which of the subscriptions ``ids`` already have a delivery of record ``ce_id``."""
        if not ids:
            return set()
        query = {"subscription_id": {"$in": ids}, "ce_id": ce_id}
        return {
            d["subscription_id"]
            for d in self.deliveries.find(query, {"subscription_id": 1}, session=s)
        }

    def insert_deliveries(self, docs: list[dict[str, Any]], s: Session) -> None:
        if docs:
            self.deliveries.insert_many(docs, ordered=True, session=s)

    def insert_new_deliveries(self, docs: list[dict[str, Any]]) -> int:
        """Insert ``docs``, skipping those whose (subscription, ce_id) exists; how many were new."""
        if not docs:
            return 0
        try:
            return len(self.deliveries.insert_many(docs, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return int(exc.details.get("nInserted", 0))

    # --- webhooks: fan-outs of topics with many subscriptions --------------------

    def add_fanout(self, doc: dict[str, Any], s: Session) -> None:
        """Queue the fan-out of one record (once: a replay finds it there)."""
        self.fanouts.update_one(
            {"_id": doc["_id"]}, {"$setOnInsert": {**doc, "after": ""}}, upsert=True, session=s
        )

    def add_fanouts(self, docs: list[dict[str, Any]], s: Session) -> None:
        """Queue the fan-outs of new records (fresh ``ce_id``s) in one insert."""
        if docs:
            self.fanouts.insert_many(docs, ordered=True, session=s)

    def pending_fanouts(self) -> list[dict[str, Any]]:
        return list(self.fanouts.find().sort("created_at", ASCENDING).limit(100))

    def advance_fanout(self, fanout_id: str, after: str) -> None:
        self.fanouts.update_one({"_id": fanout_id}, {"$set": {"after": after}})

    def finish_fanout(self, fanout_id: str) -> None:
        self.fanouts.delete_one({"_id": fanout_id})

    def delivery_of(self, subscription_id: str, delivery_id: str) -> dict[str, Any] | None:
        return self.deliveries.find_one({"_id": delivery_id, "subscription_id": subscription_id})

    def deliveries_page(
        self, subscription_id: str, status: str | None, skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a subscription's delivery log (``status`` ones only, when
        given), newest first, without the bodies; and how many there are in all."""
        query: dict[str, Any] = {"subscription_id": subscription_id}
        if status is not None:
            query["status"] = status
        total = self.deliveries.count_documents(query)
        cursor = (
            self.deliveries.find(query, {"body": 0})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return list(cursor), total

    def requeue_delivery(self, delivery_id: str, at: datetime) -> dict[str, Any] | None:
        """Make a delivery due again at ``at``, its retry horizon starting anew."""
        self.deliveries.update_one(
            {"_id": delivery_id},
            {
                "$set": {"status": "pending", "next_attempt_at": at, "horizon_from": at},
                "$unset": {"expires_at": ""},  # pending again: kept until it is done
            },
        )
        return self.deliveries.find_one({"_id": delivery_id})

    def cancel_pending_deliveries(
        self, subscription_id: str, expires_at: datetime, s: Session
    ) -> None:
        self.deliveries.update_many(
            {"subscription_id": subscription_id, "status": "pending"},
            {"$set": {"status": "cancelled", "expires_at": expires_at}},
            session=s,
        )

    def record_delivery_attempts(
        self, attempts: list[tuple[str, dict[str, Any], dict[str, Any]]], s: Session
    ) -> None:
        """Set the outcome ``values`` of attempts and log each (the last 50 are
        kept): ``(delivery id, values, log entry)`` each, in one command."""
        writes = [
            UpdateOne(
                {"_id": delivery_id},
                {"$set": values, "$push": {"log": {"$each": [entry], "$slice": -LOG_LENGTH}}},
            )
            for delivery_id, values, entry in attempts
        ]
        if writes:
            self.deliveries.bulk_write(writes, ordered=True, session=s)

    def due_subscription(self, now: datetime, busy: list[str]) -> str | None:
        """The subscription of the oldest due delivery, leaving out those in ``busy``."""
        query: dict[str, Any] = {"status": "pending", "next_attempt_at": {"$lte": now}}
        if busy:
            query["subscription_id"] = {"$nin": busy}
        doc = self.deliveries.find_one(
            query, {"subscription_id": 1}, sort=[("next_attempt_at", ASCENDING)]
        )
        return None if doc is None else doc["subscription_id"]

    def claim_deliveries_of(
        self, subscription_id: str, now: datetime, hold_until: datetime, token: str, limit: int
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` of one subscription's oldest due deliveries until
        ``hold_until``, as :meth:`claim_mails` takes mails (ids, one marking
        update, the marked ones read back): no two dispatchers hold the same one."""
        due = {
            "subscription_id": subscription_id,
            "status": "pending",
            "next_attempt_at": {"$lte": now},
        }
        return _claim(self.deliveries, due, hold_until, token, limit)

    def release_deliveries(self, ids: list[str], token: str, at: datetime) -> None:
        """Give back claimed deliveries that were not tried: due again at ``at``."""
        _release(self.deliveries, ids, token, at)

    def cancel_deliveries(self, ids: list[str], expires_at: datetime) -> None:
        """Cancel deliveries, unless sent or cancelled meanwhile."""
        if ids:
            self.deliveries.update_many(
                {"_id": {"$in": ids}, "status": "pending"},
                {"$set": {"status": "cancelled", "expires_at": expires_at}},
            )

    def count_failures(
        self, subscription_id: str, *, reset: bool, dead: int, s: Session
    ) -> dict[str, Any] | None:
        """A batch's outcomes: after a success the run of dead deliveries is the
        ``dead`` ones that followed it, else it grows by ``dead``; returns the
        subscription as it is now."""
        change = {"$set": {"consecutive_failures": dead}} if reset else None
        change = change or {"$inc": {"consecutive_failures": dead}}
        return self.subscriptions.find_one_and_update(
            {"_id": subscription_id}, change, session=s, return_document=ReturnDocument.AFTER
        )

    # --- rows written before retention ---------------------------------------------

    def scrub_legacy_rows(
        self, *, mails_until: datetime, deliveries_until: datetime, feed_until: datetime
    ) -> int:
        """Rows from before retention existed: finished mails lose their message and
        address, feed items their RSVP link, and each gets an ``expires_at`` (from
        now: their finishing time was not kept); how many rows changed."""
        finished_mail = {"status": {"$in": list(FINAL_MAIL_STATUSES)}}
        changed = self.mails.update_many(
            {**finished_mail, "expires_at": {"$exists": False}},
            {"$set": {"expires_at": mails_until}, "$unset": {"raw": "", "to": ""}},
        ).modified_count
        changed += self.deliveries.update_many(
            {"status": {"$in": list(FINAL_DELIVERY_STATUSES)}, "expires_at": {"$exists": False}},
            {"$set": {"expires_at": deliveries_until}},
        ).modified_count
        changed += self.feed.update_many(
            {"link": {"$regex": RSVP_PATH}}, {"$set": {"link": None}}
        ).modified_count
        changed += self.feed.update_many(
            {"expires_at": {"$exists": False}}, {"$set": {"expires_at": feed_until}}
        ).modified_count
        return changed

    def event_ends(self) -> dict[str, Any]:
        """Event id -> ``ends_on``, of every event in the read model."""
        return {e["_id"]: e.get("ends_on") for e in self.events.find({}, {"ends_on": 1})}

    def legacy_contacts(self) -> Iterator[dict[str, Any]]:
        """Contacts with an RSVP link or without ``expires_at``, with their event
        and its snapshot's end."""
        query = {"$or": [{"rsvp_url": {"$exists": True}}, {"expires_at": {"$exists": False}}]}
        return self.contacts.find(query, {"event_id": 1, "event.ends_on": 1})

    def scrub_contacts(self, expiries: dict[str, datetime]) -> int:
        """Drop the RSVP link of each contact of ``expiries`` and keep it until its date."""
        if not expiries:
            return 0
        result = self.contacts.bulk_write(
            [
                UpdateOne({"_id": i}, {"$unset": {"rsvp_url": ""}, "$max": {"expires_at": at}})
                for i, at in expiries.items()
            ],
            ordered=False,
        )
        return result.modified_count


def _claim(
    rows: Collection, due: dict[str, Any], hold_until: datetime, token: str, limit: int
) -> list[dict[str, Any]]:
    """Take up to ``limit`` of the oldest ``due`` rows until ``hold_until``: their
    ids, one update marking with ``token`` those still due, then the ones carrying
    ``token`` (a row another claimant marked in between is theirs)."""
    cursor = rows.find(due, {"_id": 1}).sort("next_attempt_at", ASCENDING).limit(limit)
    ids = [d["_id"] for d in cursor]
    if not ids:
        return []
    rows.update_many(
        {**due, "_id": {"$in": ids}}, {"$set": {"next_attempt_at": hold_until, "claim": token}}
    )
    return _in_order(ids, rows.find({"_id": {"$in": ids}, "claim": token}))


def _release(rows: Collection, ids: list[str], token: str, at: datetime) -> None:
    """Give back rows still pending under ``token``: due again at ``at``."""
    if ids:
        rows.update_many(
            {"_id": {"$in": ids}, "claim": token, "status": "pending"},
            {"$set": {"next_attempt_at": at}},
        )


def _in_order(ids: list[str], docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``docs`` in the order of ``ids`` (the order they fell due in)."""
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    return sorted(docs, key=lambda d: position[d["_id"]])
