"""A local SMTP sink that delivers every message into a Maildir.

``python -m deploy.local.smtp_sink`` listens on ``$MLP_SMTP_HOST:$MLP_SMTP_PORT``
(default ``127.0.0.1:1025``) until SIGTERM/SIGINT and writes each message into the
Maildir at ``$MLP_MAIL_DIR`` (default ``var/mail``), so people and tests read the mail
with any mail tool or ``mailbox.Maildir(path)``. Tests use :class:`SmtpSink`.

Each delivered message gets ``X-Envelope-From`` and one ``Delivered-To`` header per
envelope recipient prepended, so blind copies are visible too.
"""

from __future__ import annotations

import mailbox
import os
import signal
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


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
        self, host: str = "127.0.0.1", port: int = 1025, maildir: Path | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.maildir = Path(maildir or os.environ.get("MLP_MAIL_DIR", "var/mail"))
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


def main() -> None:
    """Serve in the foreground until SIGTERM or SIGINT."""
    from deploy.local.infra import refuse_taken_port

    host = os.environ.get("MLP_SMTP_HOST", "127.0.0.1")
    try:
        port = int(os.environ.get("MLP_SMTP_PORT", "1025"))
        refuse_taken_port(port, "SMTP sink", "set MLP_SMTP_PORT")
    except Exception as exc:
        sys.exit(str(exc))
    sink = SmtpSink(host, port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"SMTP sink on {host}:{port}, delivering into the Maildir {sink.maildir}", flush=True)
    while not stop.wait(1.0):
        pass
    sink.stop()


if __name__ == "__main__":
    main()
