"""HTTP conventions shared by every list and every versioned resource:
``{"items": [...], "total": N}`` pages with ``page``/``page_size``/``sort``,
ETags with ``If-Match`` for optimistic concurrency, and the key a per-client
rate limit counts by."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from marshmallow import Schema, fields, validate
from pymongo import ASCENDING, DESCENDING

from shared.errors import PreconditionFailed, PreconditionRequired
from shared.problems import Problem

MAX_PAGE_SIZE = 500
# MongoDB's skip is a signed 64-bit integer: an unbounded page made (page - 1) *
# page_size overflow it (a 500). A million pages of 500 is far beyond any list.
MAX_PAGE = 1_000_000


class ListArgs(Schema):
    """Query arguments of every list endpoint (a sorted one adds :func:`sort_argument`)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def sort_argument(allowed: Iterable[str], default: str) -> fields.String:
    """The ``sort`` query argument of a list sortable by the ``allowed`` names: the
    grammar :func:`parse_sort` reads, as a pattern the OpenAPI document shows."""
    names = "|".join(sorted(allowed))
    return fields.String(
        load_default=default,
        validate=validate.Regexp(
            f"^[-+]?(?:{names})(?:,[-+]?(?:{names}))*$",
            error=f"Sort by {', '.join(sorted(allowed))}: comma-separated, '-' first "
            "for descending.",
        ),
        metadata={"description": "Field names, comma-separated, '-' first for descending."},
    )


class PageSchema(Schema):
    """The envelope of every list answer; a list schema adds its ``items``."""

    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


def parse_sort(sort: str | None, allowed: dict[str, str], default: str) -> list[tuple[str, int]]:
    """Turn ``"-starts_on,title"`` into a MongoDB sort; ``allowed`` maps API to stored names."""
    spec = []
    for part in (sort or default).split(","):
        name = part.strip()
        direction = DESCENDING if name.startswith("-") else ASCENDING
        name = name.lstrip("-+")
        if name not in allowed:
            raise Problem(
                422,
                "The sort parameter names a field lists cannot be sorted by.",
                errors={"sort": [f"Unknown sort field {name!r}; use one of {sorted(allowed)}."]},
            )
        spec.append((allowed[name], direction))
    # A unique tie-breaker keeps pages stable when sort values repeat.
    if all(field != "_id" for field, _ in spec):
        spec.append(("_id", spec[0][1]))
    return spec


def page_body(items: list[Any], total: int, page: int, page_size: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "page_size": page_size}


# One or more entity tags (RFC 9110 8.8.3), strong or weak, comma-separated.
ENTITY_TAGS = r'^\s*(W/)?"[^"]*"\s*(,\s*(W/)?"[^"]*"\s*)*$'


def if_match_parameter(required: bool) -> dict[str, Any]:
    """The ``If-Match`` header of a write, as :func:`check_if_match` reads it: a
    required one must name the version read (entity tags; ``*`` or an empty
    value is 428), an optional one may also be ``*``."""
    return {
        "in": "header",
        "name": "If-Match",
        "required": required,
        "schema": {
            "type": "string",
            "pattern": ENTITY_TAGS if required else rf"^\s*\*\s*$|{ENTITY_TAGS}",
        },
        "description": (
            "The ETag of the resource as read: 428 without it, 412 when it changed since."
            if required
            else "The ETag of the resource as read: 412 when it changed since."
        ),
    }


def etag(version: int) -> str:
    """The strong ETag of a resource at ``version``."""
    return f'"{version}"'


def check_if_match(current_version: int, if_match: str | None, *, required: bool = False) -> None:
    """Refuse a write whose ``If-Match`` (the header's value, passed in by the
    view) names another version than the current.

    Without ``If-Match`` the write applies to whatever is current (last writer
    wins), unless ``required``: a write that must bind to the version the caller
    saw (an approval) is refused without a tag naming it, ``*`` included (428).
    """
    if if_match is None and not required:
        return
    candidates = {tag.strip().removeprefix("W/") for tag in (if_match or "").split(",")}
    if required:
        candidates -= {"", "*"}
        if not candidates:
            raise PreconditionRequired(
                "Send If-Match with the ETag of the version you read: this change binds to it.",
                current_etag=etag(current_version),
            )
    if "*" not in candidates and etag(current_version) not in candidates:
        raise PreconditionFailed(
            "The resource changed since you read it; read it again and reapply your change.",
            current_etag=etag(current_version),
        )


def client_key(address: str | None) -> str:
    """What a per-client rate limit counts by: an IPv4 address, or the /64 prefix
    of an IPv6 one (one subscriber's network: a single host may rotate through
    2^64 addresses of it). ``address`` is the peer as the app sees it, i.e. after
    ``MLP_TRUSTED_PROXIES`` hops of ``X-Forwarded-For`` (``shared.web``)."""
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)
