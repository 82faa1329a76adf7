"""Rules of the notifications service, without I/O: which mails exist and which
of them are essential, idempotency keys and Message-IDs, retry schedules, the
webhook signature, the target (SSRF) guard, signed unsubscribe links and how
long rows are kept."""

from __future__ import annotations

import base64
import email.policy
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

# template -> essential? Essential (transactional) mail always goes; the others
# carry an unsubscribe link and respect the recipient's opt-out.
TEMPLATES: dict[str, bool] = {
    "invitation": True,
    "accepted": True,
    "promoted": True,
    "waitlisted": True,
    "declined": True,
    "revoked": True,
    "cancelled": True,
    "changed": True,
    "invitation_reminder": False,
    "document_reminder": False,
    "papers_available": False,
    "papers_published": False,
    "starts_tomorrow": False,
    "survey_invitation": True,  # the one-time link: the survey cannot be answered without it
    "survey_reminder": False,
}
LANGUAGES = ("en", "fr", "de")
DEFAULT_LANGUAGE = "en"

# invitation.* status -> the mail it causes (accepted with promoted=true: "promoted").
STATUS_TEMPLATES = {
    "accepted": "accepted",
    "waitlisted": "waitlisted",
    "declined": "declined",
    "revoked": "revoked",
}
# Statuses of people who still expect to come (or may): they hear of changes.
INVOLVED_STATUSES = ("pending", "sent", "accepted", "waitlisted")
# Fields of an event whose change makes a calendar update.
CALENDAR_FIELDS = frozenset({"starts_on", "ends_on", "venue", "timezone"})

MAIL_BACKOFF_S = (5, 15, 60, 300, 600)  # then every 600 s, for ever: mail is never dropped
WEBHOOK_BACKOFF_S = (2, 10, 60, 300, 1800, 7200, 21600, 43200)
MAIL_FAILED_AFTER = 5  # attempts after which notification.failed says "still failing"


def is_essential(template: str) -> bool:
    return TEMPLATES[template]


def language_for(requested: str | None) -> str:
    """The recipient's language when we have mails in it, English otherwise."""
    code = (requested or "").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def normalise_email(email: str) -> str:
    return email.strip().lower()


def parse_mailbox(text: str) -> Address:
    """One mailbox, ``MLP Ops <no-reply@mlp-ops.local>`` or a bare address, read
    with the e-mail package's own header parser; ValueError unless it is exactly
    one well-formed mailbox."""
    header = email.policy.default.header_factory("From", text)
    if len(header.addresses) != 1 or header.defects or not header.addresses[0].domain:
        raise ValueError(f"{text!r} is not one mailbox such as 'MLP Ops <no-reply@example.org>'.")
    return header.addresses[0]


def bare_address(mailbox: str) -> str:
    """``MLP Ops <no-reply@mlp-ops.local>`` → ``no-reply@mlp-ops.local``."""
    return parse_mailbox(mailbox).addr_spec


def email_hash(email: str) -> str:
    """How opt-outs are stored: no address in clear."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def idempotency_key(cause_id: str, recipient: str, template: str) -> str:
    """One mail per cause, recipient and template."""
    raw = f"{cause_id}|{normalise_email(recipient)}|{template}"
    return hashlib.sha256(raw.encode()).hexdigest()


def message_id(key: str, domain: str = "mlp-ops.local") -> str:
    """A Message-ID derived from the idempotency key: a resend has the same one."""
    return f"<{key[:40]}@{domain}>"


def calendar_uid(event_id: str, invitation_id: str) -> str:
    """Stable per invitation and event: every update and the cancel name the same entry."""
    return f"{event_id}.{invitation_id}@mlp-ops"


def next_mail_attempt(attempts: int, now: datetime) -> datetime:
    delay = MAIL_BACKOFF_S[min(attempts - 1, len(MAIL_BACKOFF_S) - 1)]
    return now + timedelta(seconds=delay)


def next_webhook_attempt(
    attempts: int, created_at: datetime, now: datetime, horizon_s: int
) -> datetime | None:
    """When to try a delivery again after ``attempts`` failures; None: dead-letter it."""
    delay = WEBHOOK_BACKOFF_S[min(attempts - 1, len(WEBHOOK_BACKOFF_S) - 1)]
    when = now + timedelta(seconds=delay)
    if when > created_at + timedelta(seconds=horizon_s):
        return None
    return when


# --- Standard Webhooks ------------------------------------------------------


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>``."""
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


# --- SSRF guard ---------------------------------------------------------------

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254")})
# IPv6 ranges Python's ``is_global`` still calls global that reach somewhere
# else: 6to4 (2002::/16 embeds an IPv4 address, 2002:7f00:1:: is loopback's)
# and the deprecated site-local fec0::/10.
REFUSED_NETWORKS = (
    ("a 6to4 address", ipaddress.ip_network("2002::/16")),
    ("a site-local address", ipaddress.ip_network("fec0::/10")),
)
DEFAULT_WEBHOOK_PORTS = frozenset({80, 443, 8080, 8443})
Resolver = Callable[..., list[Any]]


class UnsafeTarget(ValueError):
    """A webhook target this service will not call."""


@dataclass(frozen=True)
class Target:
    """A checked target: connect to one of ``addresses`` (never resolve ``host``
    again), send ``Host: netloc`` and, for https, verify the certificate for ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    netloc: str
    path: str
    addresses: tuple[str, ...]


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "" if allow_loopback else "a loopback address"
    for label, network in REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return label
    for label, flag in (
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("an unspecified address", address.is_unspecified),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        ("a non-global address", not address.is_global),
    ):
        if flag:
            return label
    return ""


def check_target(
    url: str,
    *,
    allow_loopback: bool,
    ports: frozenset[int] = DEFAULT_WEBHOOK_PORTS,
    resolve: Resolver = socket.getaddrinfo,
) -> Target:
    """Refuse non-http(s) URLs, ports outside ``ports`` and hosts that resolve to
    anything but public addresses (loopback only when ``allow_loopback``, and then
    on any port: the local receivers of development and tests listen on ephemeral
    ones); return the resolved target. The refusal never names the addresses."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget(f"The URL is not valid: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("Only http and https URLs can receive webhooks.")
    host = parts.hostname
    if not host:
        raise UnsafeTarget("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeTarget("Credentials in the URL are not accepted; use the signature.")
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(f"The host {host} does not resolve.") from exc
    addresses: list[str] = []
    loopback = True
    for info in infos:
        raw = str(info[4][0]).split("%")[0]
        address = ipaddress.ip_address(raw)
        why = _refusal(address, allow_loopback)
        if why:
            raise UnsafeTarget(f"The host {host} resolves to {why}; it is refused.")
        loopback = loopback and address.is_loopback
        if raw not in addresses:
            addresses.append(raw)
    if not addresses:
        raise UnsafeTarget(f"The host {host} does not resolve.")
    if port not in ports and not (allow_loopback and loopback):
        allowed = ", ".join(str(p) for p in sorted(ports))
        raise UnsafeTarget(f"Port {port} cannot receive webhooks; use one of {allowed}.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(
        url=url,
        scheme=parts.scheme,
        host=host,
        port=port,
        netloc=parts.netloc,
        path=path,
        addresses=tuple(addresses),
    )


# --- unsubscribe links ----------------------------------------------------------


def _serializer(keys: Sequence[str]) -> URLSafeSerializer:
    """itsdangerous signs with the last key of a list and verifies with all:
    ``keys`` name the signing key first (``MLP_UNSUBSCRIBE_SECRET``)."""
    return URLSafeSerializer(list(reversed(keys)), salt="mlp-notifications-unsubscribe")


def unsubscribe_token(keys: Sequence[str], email: str) -> str:
    return _serializer(keys).dumps({"h": email_hash(email)})


def read_unsubscribe_token(keys: Sequence[str], token: str) -> str | None:
    """The e-mail hash a token names, or None when none of ``keys`` signed it."""
    try:
        data = _serializer(keys).loads(token)
    except BadSignature:
        return None
    value = data.get("h") if isinstance(data, dict) else None
    return value if isinstance(value, str) and len(value) == 64 else None


# --- retention -------------------------------------------------------------------


def expiry(start: datetime, days: int) -> datetime:
    """The ``expires_at`` of a row retained ``days`` from ``start``: the TTL
    indexes of mails, feed items, deliveries and contacts delete it then."""
    return start + timedelta(days=days)


def event_end(ends_on: Any) -> datetime | None:
    """When an event is over: midnight UTC after its last day (``ends_on``), if known."""
    try:
        last = date.fromisoformat(str(ends_on))
    except ValueError:
        return None
    return datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)


def contact_expiry(ends_on: Any, now: datetime, days: int) -> datetime:
    """A contact is kept ``days`` after its event ends (papers and their notices
    come after the meeting), counted from ``now`` when that is later or unknown."""
    end = event_end(ends_on)
    return expiry(max(end, now) if end is not None else now, days)


def deferred_link_expiry(closes_at: datetime | None, now: datetime, days: int) -> datetime:
    """A survey link waiting for its address is kept until its survey closes
    (then it opens nothing), or, when the record names no closing, ``days``."""
    return closes_at if closes_at is not None else expiry(now, days)


def tomorrow_in(timezone: str, now: datetime) -> str:
    """Tomorrow's date (ISO) where the event takes place."""
    from zoneinfo import ZoneInfo

    try:
        zone = ZoneInfo(timezone)
    except Exception:
        zone = ZoneInfo("UTC")
    return (now.astimezone(zone) + timedelta(days=1)).date().isoformat()


def utcnow() -> datetime:
    return datetime.now(UTC)
