"""A local SMTP sink that delivers every message into a Maildir.

``python -m deploy.local serve smtp`` listens on ``$MLP_SMTP_HOST:$MLP_SMTP_PORT``
(default ``127.0.0.1:1025``, see :mod:`deploy.local.settings`) until SIGTERM/SIGINT
and writes each message into the Maildir at ``$MLP_MAIL_DIR`` (default ``var/mail``),
so people and tests read the mail with any mail tool or ``mailbox.Maildir(path)``.
Tests use :class:`SmtpSink`.

Each delivered message gets ``X-Envelope-From`` and one ``Delivered-To`` header per
envelope recipient prepended, so blind copies are visible too.
"""

from __future__ import annotations

import mailbox
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.config import LOCAL_MAIL_DIR, LOCAL_SMTP_PORT, LOOPBACK


class MaildirHandler:
    """aiosmtpd handler: accept every message and add it to a Maildir."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = Path(maildir)
        self._box = mailbox.Maildir(str(self.maildir), create=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Deliver the message; the Maildir's tmp-then-rename makes delivery atomic."""
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        headers = [f"X-Envelope-From: <{envelope.mail_from or ''}>"]
        headers += [f"Delivered-To: {rcpt}" for rcpt in envelope.rcpt_tos]
        data = ("\r\n".join(headers) + "\r\n").encode() + content
        with self._lock:
            self._box.add(data)
        return "250 Message accepted for delivery"


class SmtpSink:
    """The SMTP sink served by an aiosmtpd ``Controller`` thread."""

    def __init__(
        self, host: str = LOOPBACK, port: int = LOCAL_SMTP_PORT, maildir: Path | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.maildir = Path(maildir or LOCAL_MAIL_DIR)
        self.handler = MaildirHandler(self.maildir)
        self._controller: Controller | None = None

    def start(self) -> SmtpSink:
        """Listen and serve in a background thread; return once connections are accepted."""
        if self._controller is None:
            controller = Controller(self.handler, hostname=self.host, port=self.port)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[mailbox.MaildirMessage]:
        """Every message delivered so far, oldest first by delivery time."""
        box = mailbox.Maildir(str(self.maildir), create=True)
        return sorted(box, key=lambda message: message.get_date())


def run_foreground(host: str, port: int, maildir: Path) -> None:
    """Serve in the foreground until SIGTERM or SIGINT."""
    sink = SmtpSink(host, port, maildir).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"SMTP sink on {host}:{port}, delivering into the Maildir {sink.maildir}", flush=True)
    while not stop.wait(1.0):
        pass
    sink.stop()
