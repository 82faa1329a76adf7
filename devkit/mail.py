"""Mail as a person reads it from the local SMTP sink's Maildir: who a message
went to, its subject and plain text, and the personal links in it (RSVP and
survey links), for the tests and the demo, which cannot otherwise learn links
whose tokens are stored only as hashes."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterable
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

_URL = re.compile(r"https?://[^\s<>\"']+")


def messages(maildir: Path) -> list[mailbox.MaildirMessage]:
    """Every message in ``maildir``, oldest first."""
    box = mailbox.Maildir(str(maildir), create=True)
    return sorted(box, key=lambda message: message.get_date())


def recipient(message: Message) -> str:
    """The bare address a message went to, lower-cased."""
    return parseaddr(str(message.get("To") or ""))[1].lower()


def subject(message: Message) -> str:
    return str(make_header(decode_header(message.get("Subject") or "")))


def text(message: Message) -> str:
    """The plain-text part."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""


def links(message: Message, path: str) -> list[str]:
    """The URLs in a message's text whose path contains ``path`` (``/v1/rsvp/``)."""
    return [url for url in _URL.findall(text(message)) if path in url]


def latest_links(found: Iterable[Message], path: str) -> dict[str, str]:
    """Recipient -> the newest link containing ``path`` among ``found``."""
    out: dict[str, str] = {}
    for message in found:
        for url in links(message, path):
            out[recipient(message)] = url
    return out
