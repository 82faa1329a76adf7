"""MongoDB access of the catalogue service: the secretariat's ``practices``, the
read models built from topics (``events``, ``papers``, ``practice_views``), the
search read model ``entries`` and the index of every query path.

``entries`` holds one document per public event, paper and practice, with its
weighted term list (``terms``, multikey-indexed, and ``weights``) and the facet
fields. A search reaches its candidates through one index, then ranks them and
counts the facets from one projected pass (:func:`domain.rank`,
:func:`domain.facet_counts`). Where a real MongoDB serves, ``MLP_CATALOGUE_SEARCH=text``
finds and scores the candidates with a ``$text`` index over the same fields instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, TEXT, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.database import Database

from services.catalogue import domain
from services.catalogue.config import CatalogueSettings
from services.catalogue.domain import Hit
from shared.erasure import Erasure, Step
from shared.payloads import plain
from shared.payloads.catalogue import PracticePayload
from shared.payloads.documents import DocumentPayload
from shared.payloads.events import EventPayload
from shared.readmodel import apply_if_newer

PUBLISHED: dict[str, Any] = {"publication": "published"}
HIT_FIELDS = ("type", "countries", "policy_areas", "formats", "year", "date")


def from_db(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in {"_id", "search_terms"}}
    out["id"] = doc["_id"]
    return out


# What an erasure erases here (shared.erasure): the catalogue is public
# record (practices, events, published papers); it knows people only as the
# staff accounts that created practices.
ERASURE = Erasure(
    steps=(Step("practices", "created_by", "account", fields=("created_by",), event_field=None),),
    retained=("practices, events, papers: the programme's public record, no person",),
)


class CatalogueStore:
    def __init__(self, db: Database, search: str = "terms") -> None:
        self.search_strategy = search
        self.practices = db["practices"]
        self.events = db["events"]
        self.papers = db["papers"]
        self.practice_views = db["practice_views"]
        self.entries = db["entries"]

    def ensure_indexes(self) -> None:
        """One index per query path; each list's ends on its default sort."""
        p = self.practices
        p.create_index([("publication", ASCENDING), ("updated_at", DESCENDING)])
        p.create_index([("country", ASCENDING), ("updated_at", DESCENDING)])
        p.create_index([("policy_area", ASCENDING), ("updated_at", DESCENDING)])
        p.create_index([("policy_area", ASCENDING), ("target_groups", ASCENDING)])
        p.create_index([("target_groups", ASCENDING)])
        p.create_index([("tags", ASCENDING)])
        p.create_index([("evidence", ASCENDING)])
        p.create_index([("start_year", ASCENDING)])
        p.create_index([("events", ASCENDING)])
        p.create_index([("search_terms", ASCENDING)])
        p.create_index([("updated_at", DESCENDING)])
        self.events.create_index([("host_country", ASCENDING), ("starts_on", DESCENDING)])
        self.events.create_index([("guest_countries", ASCENDING), ("starts_on", DESCENDING)])
        self.events.create_index([("follows_up", ASCENDING)])
        self.papers.create_index([("event_id", ASCENDING), ("kind", ASCENDING)])
        v = self.practice_views
        v.create_index([("events", ASCENDING)])
        v.create_index([("papers", ASCENDING)])
        v.create_index([("country", ASCENDING), ("publication", ASCENDING)])
        v.create_index([("transfers.country", ASCENDING)])
        v.create_index([("policy_area", ASCENDING), ("target_groups", ASCENDING)])
        e = self.entries
        e.create_index([("terms", ASCENDING)])
        e.create_index([("type", ASCENDING), ("date", DESCENDING)])
        e.create_index([("countries", ASCENDING), ("date", DESCENDING)])
        e.create_index([("policy_areas", ASCENDING), ("date", DESCENDING)])
        e.create_index([("formats", ASCENDING), ("date", DESCENDING)])
        e.create_index([("year", ASCENDING), ("date", DESCENDING)])
        e.create_index([("date", DESCENDING)])
        if self.search_strategy == "text":
            e.create_index(
                [("title", TEXT), ("terms", TEXT), ("summary", TEXT)],
                weights={"title": 10, "terms": 3, "summary": 3},
                default_language="none",
                name="entries_text",
            )

    # --- practices (the secretariat's records) ---------------------------------

    def insert_practice(self, doc: dict[str, Any], session: ClientSession) -> None:
        self.practices.insert_one(doc, session=session)

    def get_practice(
        self, practice_id: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.practices.find_one({"_id": practice_id}, session=session)
        return from_db(doc) if doc else None

    def update_practice(
        self,
        practice_id: str,
        expected_version: int,
        values: dict[str, Any],
        session: ClientSession,
        *,
        transfer: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Apply ``values`` (and append ``transfer``) if the practice is still at
        ``expected_version``; bump the version."""
        update: dict[str, Any] = {"$set": values, "$inc": {"version": 1}}
        if transfer is not None:
            update["$push"] = {"transfers": transfer}
        doc = self.practices.find_one_and_update(
            {"_id": practice_id, "version": expected_version},
            update,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return from_db(doc) if doc else None

    def find_practices(
        self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = self.practices.count_documents(query)
        cursor = self.practices.find(query, {"search_terms": 0}).sort(sort).skip(skip).limit(limit)
        return [from_db(doc) for doc in cursor], total

    def known_events(self, event_ids: Iterable[str], session: ClientSession) -> set[str]:
        ids = list(event_ids)
        return {
            d["_id"] for d in self.events.find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
        }

    def known_papers(self, paper_ids: Iterable[str], session: ClientSession) -> set[str]:
        ids = list(paper_ids)
        return {
            d["_id"] for d in self.papers.find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
        }

    # --- read models from topics ----------------------------------------------

    def record_event(self, event: EventPayload, session: ClientSession) -> bool:
        """Keep the newest version of a programme event; False when the record was stale."""
        fields = {k: v for k, v in plain(event).items() if k not in {"event_id", "version"}}
        return apply_if_newer(self.events, event.event_id, event.version, fields, session)

    def record_paper(self, paper: DocumentPayload, session: ClientSession) -> bool:
        """Keep the newest state of a paper (``revision`` orders them)."""
        fields = {
            k: v
            for k, v in plain(paper).items()
            if k not in {"document_id", "revision", "occurred_at"}
        }
        fields["changed_at"] = paper.occurred_at
        return apply_if_newer(
            self.papers,
            paper.document_id,
            paper.revision,
            fields,
            session,
            version_field="revision",
        )

    def record_practice(self, practice: PracticePayload, session: ClientSession) -> bool:
        """Keep the newest public version of a practice (from its own topics)."""
        fields = {
            k: v
            for k, v in plain(practice).items()
            if k not in {"practice_id", "version", "transfer"}
        }
        return apply_if_newer(
            self.practice_views, practice.practice_id, practice.version, fields, session
        )

    def practice_events(self, practice_id: str, session: ClientSession) -> list[str]:
        """The events the held public view of the practice names (before a change)."""
        doc = self.practice_views.find_one({"_id": practice_id}, {"events": 1}, session=session)
        return list((doc or {}).get("events") or [])

    def get_event(
        self, event_id: str, session: ClientSession | None = None
    ) -> dict[str, Any] | None:
        doc = self.events.find_one({"_id": event_id}, session=session)
        return from_db(doc) if doc else None

    def _public(self, query: dict[str, Any], limit: int = 0) -> list[dict[str, Any]]:
        """The events matching ``query`` (one indexed field) that the public may see,
        soonest first: :func:`domain.event_is_public` decides, the one rule of it."""
        found = [from_db(d) for d in self.events.find(query)]
        public = sorted(
            (e for e in found if domain.event_is_public(e)), key=lambda e: e.get("starts_on", "")
        )
        return public[:limit] if limit else public

    def public_event(self, event_id: str) -> dict[str, Any] | None:
        found = self._public({"_id": event_id})
        return found[0] if found else None

    def public_events(self, event_ids: Iterable[str]) -> list[dict[str, Any]]:
        return self._public({"_id": {"$in": list(event_ids)}})

    def followers(self, event_id: str) -> list[dict[str, Any]]:
        """The public events that follow up ``event_id``."""
        return self._public({"follows_up": event_id})

    def country_events(self, country: str, role: str, limit: int) -> list[dict[str, Any]]:
        """Public events ``country`` hosted (``role="host_country"``) or attended, newest first."""
        return list(reversed(self._public({role: country})))[:limit]

    def event_papers(
        self, event_ids: Iterable[str], session: ClientSession | None = None
    ) -> list[dict[str, Any]]:
        """The published papers of these events."""
        query = {"event_id": {"$in": list(event_ids)}, "status": "published"}
        cursor = self.papers.find(query, session=session).sort([("kind", ASCENDING)])
        return [from_db(d) for d in cursor]

    def published_papers(self, paper_ids: Iterable[str]) -> list[dict[str, Any]]:
        query = {"_id": {"$in": list(paper_ids)}, "status": "published"}
        return [from_db(d) for d in self.papers.find(query)]

    def get_practice_view(self, practice_id: str) -> dict[str, Any] | None:
        doc = self.practice_views.find_one({"_id": practice_id, **PUBLISHED})
        return from_db(doc) if doc else None

    def event_practices(
        self, event_ids: Iterable[str], session: ClientSession | None = None
    ) -> list[dict[str, Any]]:
        """The published practices presented at any of these events."""
        query = {"events": {"$in": list(event_ids)}, **PUBLISHED}
        return [from_db(d) for d in self.practice_views.find(query, session=session)]

    def country_practices(self, country: str) -> list[dict[str, Any]]:
        query = {"country": country, **PUBLISHED}
        cursor = self.practice_views.find(query).sort([("title", ASCENDING)])
        return [from_db(d) for d in cursor]

    def country_transfers(self, country: str) -> list[dict[str, Any]]:
        """Published practices ``country`` followed up (a transfer of its own)."""
        query = {"transfers.country": country, **PUBLISHED}
        return [from_db(d) for d in self.practice_views.find(query)]

    def similar_candidates(
        self, practice: dict[str, Any], *, views: bool = True, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Published practices of the same area sharing a target group: from the
        public views (the website) or the secretariat's records (the API)."""
        query: dict[str, Any] = {"policy_area": practice["policy_area"], **PUBLISHED}
        if practice.get("target_groups"):
            query["target_groups"] = {"$in": practice["target_groups"]}
        collection = self.practice_views if views else self.practices
        cursor = collection.find(query, {"search_terms": 0}).limit(limit)
        return [from_db(d) for d in cursor]

    # --- the search read model -----------------------------------------------

    def reindex_event(self, event_id: str, session: ClientSession) -> None:
        """Rebuild the entry of an event and of its papers from the read models."""
        event = self.get_event(event_id, session)
        if event is None:
            return
        practices = self.event_practices([event_id], session)
        self.put_entry(f"event:{event_id}", domain.event_entry(event, practices), session)
        for doc in self.papers.find({"event_id": event_id}, session=session):
            paper = from_db(doc)
            self.put_entry(
                f"paper:{paper['id']}", domain.paper_entry(paper, event, practices), session
            )

    def reindex_paper(self, paper_id: str, session: ClientSession) -> None:
        doc = self.papers.find_one({"_id": paper_id}, session=session)
        if doc is None:
            return
        paper = from_db(doc)
        event = self.get_event(paper["event_id"], session)
        practices = self.event_practices([paper["event_id"]], session)
        self.put_entry(f"paper:{paper_id}", domain.paper_entry(paper, event, practices), session)

    def reindex_practice(
        self, practice_id: str, events: Iterable[str], session: ClientSession
    ) -> None:
        """Rebuild a practice's entry and those of ``events`` (before and after the
        change: an event inherits the words of the practices presented there)."""
        doc = self.practice_views.find_one({"_id": practice_id}, session=session)
        entry = domain.practice_entry(from_db(doc)) if doc else None
        self.put_entry(f"practice:{practice_id}", entry, session)
        for event_id in sorted(set(events)):
            self.reindex_event(event_id, session)

    def put_entry(
        self, entry_id: str, entry: dict[str, Any] | None, session: ClientSession
    ) -> None:
        """Store the entry, or remove it when the public may no longer see it."""
        if entry is None:
            self.entries.delete_one({"_id": entry_id}, session=session)
        else:
            entry["indexed_at"] = datetime.now(UTC)
            self.entries.replace_one({"_id": entry_id}, entry, upsert=True, session=session)

    def insert_entries(self, entries: list[dict[str, Any]]) -> None:
        """Bulk-load entries (the benchmark's generated programme)."""
        if entries:
            self.entries.insert_many(entries, ordered=False)

    def search(self, terms: list[str], filters: dict[str, Any]) -> list[Hit]:
        """Every entry matching all ``terms`` and ``filters``, with its score.

        The term-list strategy asks MongoDB for one indexed equality — the most
        selective predicate, :func:`domain.lead_predicate` — and checks the other
        terms and filters here, on the same projected pass: a Mongo-wire server
        whose planner uses an index only for a lone equality (the local one)
        then never scans the collection, and MongoDB reads the same entries.
        """
        query, projection = search_query(self.search_strategy, terms, filters)
        text = "$text" in query
        hits = []
        for doc in self.entries.find(query, projection):
            weights = doc.get("weights") or {}
            if not text and not domain.matches(doc, weights, terms, filters):
                continue
            relevance = doc["score"] if text else domain.score(weights, terms)
            hits.append(
                Hit(
                    id=doc["_id"],
                    type=doc["type"],
                    countries=tuple(doc.get("countries") or ()),
                    policy_areas=tuple(doc.get("policy_areas") or ()),
                    formats=tuple(doc.get("formats") or ()),
                    year=doc.get("year"),
                    date=doc.get("date") or "",
                    score=relevance,
                )
            )
        return hits

    def search_page(
        self, terms: list[str], filters: dict[str, Any], order: str, skip: int, limit: int
    ) -> tuple[list[dict[str, Any]], int, dict[str, dict[str, int]]]:
        """One page of matching entries in ``order``, the total and the facet counts."""
        hits = domain.rank(self.search(terms, filters), order)
        page = hits[skip : skip + limit]
        scores = {h.id: h.score for h in page}
        items = self.entries_by_ids([h.id for h in page])
        for item in items:
            item["score"] = scores[item["_id"]]
        return items, len(hits), domain.facet_counts(hits)

    def entries_by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        """The entries of ``ids``, in that order, without their term lists."""
        docs = self.entries.find({"_id": {"$in": ids}}, {"terms": 0, "weights": 0})
        by_id = {d["_id"]: d for d in docs}
        return [by_id[i] for i in ids if i in by_id]

    def upcoming_events(self, today: str, limit: int) -> list[dict[str, Any]]:
        """Public events ending today or later, soonest first."""
        query = {"type": "event", "date": {"$gte": today}}
        cursor = self.entries.find(query, {"terms": 0, "weights": 0}).sort([("date", ASCENDING)])
        return list(cursor.limit(limit))

    def recent_entries(self, kind: str, since: str, today: str, limit: int) -> list[dict[str, Any]]:
        """Entries of ``kind`` dated from ``since`` to before ``today``, newest first
        (a bounded range: the index serves it without reading the whole history)."""
        query = {"type": kind, "date": {"$gte": since, "$lt": today}}
        cursor = self.entries.find(query, {"terms": 0, "weights": 0}).sort([("date", DESCENDING)])
        return list(cursor.limit(limit))


def search_query(
    strategy: str, terms: list[str], filters: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The MongoDB query and projection of a search. ``terms``: one indexed
    equality (the lead predicate; the rest is checked on the pass), projecting the
    query terms' weights. ``text``: ``$text`` with every term quoted (all must
    match) and the filters, projecting the text score."""
    projection: dict[str, Any] = dict.fromkeys(HIT_FIELDS, 1)
    if strategy == "text" and terms:
        projection["score"] = {"$meta": "textScore"}
        return {"$text": {"$search": " ".join(f'"{t}"' for t in terms)}, **filters}, projection
    projection.update({f"weights.{t}": 1 for t in terms})
    query = dict([domain.lead_predicate(terms, filters)]) if terms or filters else {}
    return query, projection


def store_factory(settings: CatalogueSettings) -> Callable[[Database], CatalogueStore]:
    """What ``start_service`` builds the store with: the search strategy is a setting."""

    def build(db: Database) -> CatalogueStore:
        return CatalogueStore(db, settings.search)

    return build
