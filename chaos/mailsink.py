"""The campaign's SMTP sink: an in-memory aiosmtpd server that keeps what the
checks read of each message (recipient, template, Message-ID, the calendar
part's method and UID, the RSVP link) and can be taken down and brought back
on the same port, as a mail relay's outage."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from deploy.local.ports import restartable_port
from shared.config import LOOPBACK

_PARSER = BytesParser(policy=policy.default)
_RSVP_LINK = re.compile(r"https?://[^\s<>\"]+/v1/rsvp/[A-Za-z0-9_.\-~]+")


@dataclass(frozen=True)
class Mail:
    """One message as it arrived (``at``: ``time.monotonic()``)."""

    at: float
    recipient: str
    template: str
    message_id: str
    calendar_method: str | None
    calendar_uid: str | None
    rsvp_link: str | None


def parse(recipient: str, content: bytes, at: float) -> Mail:
    msg = _PARSER.parsebytes(content)
    method = uid = link = None
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "text/calendar":
            text = part.get_content()
            text = text.decode() if isinstance(text, bytes) else text
            unfolded = text.replace("\r\n ", "").replace("\n ", "")
            for line in unfolded.splitlines():
                if line.startswith("METHOD:"):
                    method = line.split(":", 1)[1].strip()
                elif line.startswith("UID:"):
                    uid = line.split(":", 1)[1].strip()
        elif kind == "text/plain" and link is None:
            found = _RSVP_LINK.search(part.get_content())
            link = found.group(0) if found else None
    return Mail(
        at=at,
        recipient=recipient.lower(),
        template=str(msg.get("X-MLP-Template", "")),
        message_id=str(msg.get("Message-ID", "")),
        calendar_method=method,
        calendar_uid=uid,
        rsvp_link=link,
    )


class MailSink:
    """Every message received, in order; :meth:`down` refuses connections until :meth:`up`."""

    def __init__(self) -> None:
        self.port = restartable_port()
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def up(self) -> MailSink:
        self.controller = Controller(self, hostname=LOOPBACK, port=self.port)
        self.controller.start()
        return self

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.monotonic()
        content = envelope.original_content or b""
        parsed = [parse(rcpt, content, at) for rcpt in envelope.rcpt_tos]
        with self.lock:
            self.mails.extend(parsed)
        return "250 OK"

    def snapshot(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)

    def count(self) -> int:
        with self.lock:
            return len(self.mails)
