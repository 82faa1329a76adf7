"""Mail rendering, without I/O: Jinja2 templates (plain text and HTML, in the
recipient's language with English fallback), iCalendar attachments and the
MIME message with its Message-ID and List-Unsubscribe headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from markupsafe import Markup, escape

from services.notifications.domain import DEFAULT_LANGUAGE, language_for, parse_mailbox
from shared.fields import display_name
from shared.l10n import Formatter

TEMPLATE_DIR = Path(__file__).parent / "templates"

FOOTERS = {
    "en": (
        "This message was sent by MLP Ops on behalf of the programme secretariat.",
        "Stop reminders and paper notices",
    ),
    "fr": (
        "Ce message a été envoyé par MLP Ops pour le secrétariat du programme.",
        "Ne plus recevoir les rappels et avis de documents",
    ),
    "de": (
        "Diese Nachricht wurde von MLP Ops im Auftrag des Programmsekretariats gesendet.",
        "Keine Erinnerungen und Dokumenthinweise mehr erhalten",
    ),
}
FIELD_NAMES = {
    "en": {
        "starts_on": "start date",
        "ends_on": "end date",
        "venue": "venue",
        "timezone": "time zone",
    },
    "fr": {
        "starts_on": "date de début",
        "ends_on": "date de fin",
        "venue": "lieu",
        "timezone": "fuseau horaire",
    },
    "de": {"starts_on": "Beginn", "ends_on": "Ende", "venue": "Ort", "timezone": "Zeitzone"},
}

_URL = re.compile(r"https?://[^\s<>\"']+")


def _linkify(text: str) -> Markup:
    """Escape ``text`` and turn its URLs into links."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(escape(text[last : match.start()]))
        url = escape(match.group(0))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    # Text parts are not HTML; the HTML layout escapes everything it inserts.
    autoescape=lambda name: bool(name and name.endswith(".html.j2")),  # noqa: S701
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)
_env.filters["linkify"] = _linkify


@dataclass(frozen=True)
class Rendered:
    template: str
    language: str
    subject: str
    text: str
    html: str


def _template(name: str, language: str) -> tuple[Any, str]:
    """The template in ``language``, or in English when there is none in it."""
    lang = language_for(language)
    try:
        return _env.get_template(f"{lang}/{name}.j2"), lang
    except TemplateNotFound:
        return _env.get_template(f"{DEFAULT_LANGUAGE}/{name}.j2"), DEFAULT_LANGUAGE


def _block(template: Any, name: str, context: dict[str, Any]) -> str:
    if name not in template.blocks:
        return ""
    return "".join(template.blocks[name](template.new_context(context))).strip()


def localised(context: dict[str, Any], event: dict[str, Any], lang: str) -> dict[str, Any]:
    """What the templates say about dates, times and places, in the reader's
    language (``shared.l10n``): the event's days, its place with the country's
    name, its zone, the deadline as a moment in the event's zone (and its day,
    for subjects), a paper's due date, and countries by name (``country``, the
    rows of ``countries``). The context holds them as stored: ISO dates, UTC
    moments, ISO 3166 codes."""
    fmt = Formatter(lang)
    timezone = event.get("timezone") or "UTC"
    deadline = context.get("deadline")
    return {
        "dates": fmt.days(event.get("starts_on"), event.get("ends_on")),
        "starts_on": fmt.day(event.get("starts_on"), "full"),
        "place": fmt.place(event.get("venue")),
        "zone": fmt.zone(timezone),
        "deadline": fmt.moment(deadline, timezone) or None,
        "deadline_day": fmt.moment_day(deadline, timezone) or None,
        "due_on": fmt.day(context.get("due_on")) or str(context.get("due_on") or ""),
        "country_name": fmt.country(context.get("country")) if context.get("country") else "",
        "countries": [
            {**c, "name": fmt.country(c.get("country"))} for c in context.get("countries") or []
        ],
    }


def render(
    name: str,
    language: str | None,
    context: dict[str, Any],
    *,
    action_url: str | None = None,
    unsubscribe_url: str | None = None,
) -> Rendered:
    """Subject, text and HTML of mail ``name`` for one recipient."""
    template, lang = _template(name, language or DEFAULT_LANGUAGE)
    event = {"title": "", "starts_on": "", "ends_on": "", "timezone": "", "venue": {}}
    event.update({k: v for k, v in (context.get("event") or {}).items() if v is not None})
    ctx = {
        "name": "",
        "deadline": None,
        "reason": "",
        "rsvp_url": "",
        "confirm_url": "",
        "cancel_url": "",
        "nominated": False,
        "nominate_url": "",
        "nominee_name": "",
        "moved_up_name": "",
        "country": "",
        "places": 0,
        "remaining": 0,
        "status": "",
        "countries": [],
        "kind": "",
        "title": event.get("title", ""),
        "due_on": "",
        "survey_url": "",
        "closes_on": None,
        **context,
        "document": {"title": "", "kind": "", **(context.get("document") or {})},
        "event": event,
        **localised(context, event, lang),
        "changes": ", ".join(FIELD_NAMES[lang].get(f, f) for f in context.get("changed") or []),
    }
    subject = " ".join(_block(template, "subject", ctx).split())
    body = _block(template, "body", ctx)
    footer, unsubscribe_label = FOOTERS[lang]
    text = f"{body}\n\n-- \n{footer}\n"
    if unsubscribe_url:
        text += f"{unsubscribe_label}: {unsubscribe_url}\n"
    html = _env.get_template("layout.html.j2").render(
        lang=lang,
        subject=subject,
        event_title=event.get("title", ctx["title"]),
        paragraphs=[p.strip() for p in body.split("\n\n") if p.strip()],
        action_url=action_url,
        action_label=_block(template, "action", ctx),
        footer=footer,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_label=unsubscribe_label,
    )
    return Rendered(template=name, language=lang, subject=subject, text=text, html=html)


# --- iCalendar ------------------------------------------------------------------


def calendar(
    *,
    method: str,
    uid: str,
    sequence: int,
    event: dict[str, Any],
    attendee_email: str,
    attendee_name: str,
    organizer: str,
    url: str | None = None,
    stamp: datetime | None = None,
    language: str | None = None,
) -> bytes:
    """A VCALENDAR with one all-day VEVENT: ``REQUEST`` (invitation or update,
    higher ``sequence`` each time) or ``CANCEL`` (same UID); its location in the
    reader's language (the country's name)."""
    cal = Calendar()
    cal.add("prodid", "-//MLP Ops//notifications//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    entry = Event()
    entry.add("uid", uid)
    entry.add("sequence", sequence)
    entry.add("dtstamp", stamp or datetime.now().astimezone())
    starts = date.fromisoformat(event["starts_on"])
    ends = date.fromisoformat(event.get("ends_on") or event["starts_on"])
    entry.add("dtstart", starts)
    entry.add("dtend", ends + timedelta(days=1))  # DTEND of an all-day event is exclusive
    entry.add("summary", event.get("title", ""))
    venue = event.get("venue") or {}
    if venue.get("city") or venue.get("country") or venue.get("online"):
        entry.add("location", Formatter(language or DEFAULT_LANGUAGE).place(venue))
    if url:
        entry.add("url", url)
        entry.add("description", f"Reply: {url}")
    entry.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    org = vCalAddress(f"mailto:{organizer}")
    org.params["cn"] = vText("MLP Ops")
    entry.add("organizer", org)
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["cn"] = vText(attendee_name or attendee_email)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    entry.add("attendee", attendee)
    cal.add_component(entry)
    return cal.to_ical()


# --- MIME -----------------------------------------------------------------------


class Unbuildable(ValueError):
    """No message can be written to this recipient (an address no header holds):
    the mail fails for this one recipient, never for the others of its cause."""


# What the e-mail package's address parser raises for a malformed address.
_ADDRESS_ERRORS = (ValueError, IndexError, MessageError)


def mailbox(name: str, email: str) -> Address:
    """The recipient's mailbox, built by the e-mail package: a display name with
    a comma, quotes or angle brackets is quoted (it never adds a recipient), one
    with control or line-separator characters shows them as spaces."""
    try:
        address = Address(display_name=display_name(name or ""), addr_spec=email)
    except _ADDRESS_ERRORS as exc:
        raise Unbuildable(f"not an address a mail can be sent to ({exc})") from exc
    if not address.username or not address.domain:
        raise Unbuildable("not an address a mail can be sent to (no local part or domain)")
    if not address.addr_spec.isascii():  # the parser already refuses a non-ASCII local part
        raise Unbuildable("an internationalised domain needs SMTPUTF8, which is not used here")
    return address


def build_message(
    *,
    rendered: Rendered,
    sender: str,
    recipient: str,
    recipient_name: str,
    message_id: str,
    ics: bytes | None = None,
    ics_method: str | None = None,
    unsubscribe_url: str | None = None,
    when: datetime | None = None,
) -> bytes:
    """The whole message (text + HTML alternatives, an optional calendar);
    :class:`Unbuildable` when the recipient's address cannot be written."""
    to = mailbox(recipient_name, recipient)
    try:
        return _message_bytes(
            rendered=rendered,
            sender=parse_mailbox(sender),
            to=to,
            message_id=message_id,
            ics=ics,
            ics_method=ics_method,
            unsubscribe_url=unsubscribe_url,
            when=when,
        )
    except _ADDRESS_ERRORS as exc:  # e.g. an address only SMTPUTF8 could carry
        raise Unbuildable(f"the message cannot be written ({exc})") from exc


def _message_bytes(
    *,
    rendered: Rendered,
    sender: Address,
    to: Address,
    message_id: str,
    ics: bytes | None,
    ics_method: str | None,
    unsubscribe_url: str | None,
    when: datetime | None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Message-ID"] = message_id or make_msgid()
    msg["Date"] = format_datetime(when or datetime.now().astimezone())
    msg["Auto-Submitted"] = "auto-generated"
    # Which mail this is, for the recipient's filters and the fault campaign's count.
    msg["X-MLP-Template"] = rendered.template
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    if ics is not None:
        msg.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="invite.ics" if ics_method != "CANCEL" else "cancel.ics",
            params={"method": ics_method or "REQUEST"},
        )
    msg["Content-Language"] = rendered.language
    # CRLF line ends (the bytes go to smtplib as they are); long headers such as
    # List-Unsubscribe stay whole instead of becoming encoded words.
    return msg.as_bytes(policy=SMTP.clone(max_line_length=998))
