"""The SMTP side of the mail outbox: one connection per sender run, opened at
the first mail, and which failures are worth retrying."""

from __future__ import annotations

import smtplib

from services.notifications import domain
from services.notifications.config import NotificationsSettings

SEND_ERRORS = (OSError, smtplib.SMTPException)
"""What a send may raise: the mail is failed (:func:`permanent`) or retried."""


def permanent(exc: Exception) -> bool:
    """A 5xx answer (unknown recipient, refused message) will not improve by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPServerDisconnected)
    return False


class Connection:
    """An SMTP connection to the configured server, opened at the first send
    (STARTTLS and login when configured) and closed on leaving the ``with``."""

    def __init__(self, ns: NotificationsSettings) -> None:
        self.ns = ns
        self.sender = domain.normalise_email(domain.bare_address(ns.mail_from))
        self.smtp: smtplib.SMTP | None = None

    def send(self, to: str, raw: str) -> None:
        """Send the stored message ``raw`` to ``to``; raises one of :data:`SEND_ERRORS`."""
        if self.smtp is None:
            self.smtp = self._connect()
        self.smtp.sendmail(self.sender, [to], raw.encode("utf-8", "surrogateescape"))

    def reset(self) -> None:
        """Drop the connection; the next send opens a new one."""
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except SEND_ERRORS:
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        ns = self.ns
        smtp = smtplib.SMTP(ns.smtp_host, ns.smtp_port, timeout=ns.smtp_timeout_s)
        if ns.smtp_starttls:
            smtp.starttls()
        if ns.smtp_username:
            smtp.login(ns.smtp_username, ns.smtp_password)
        return smtp

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()
