"""The benchmarks' SMTP sink: an in-memory aiosmtpd server that notes when each
message arrives, to whom and how large, and keeps nothing else."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller

from deploy.local.ports import free_port

_HEADERS = BytesHeaderParser()


@dataclass(frozen=True)
class Arrival:
    """One message as the sink received it (``at`` on the monotonic clock)."""

    at: float
    recipient: str
    subject: str
    size: int


class TimingSink:
    """SMTP sink that notes when each message arrives, by recipient and template.

    ``arrivals`` maps ``recipient|<first 9 characters of the subject>`` to the
    time of the latest such message; ``by_recipient`` keeps every arrival of a
    recipient in order (a first and a second mail in any language).
    """

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.by_recipient: dict[str, list[Arrival]] = {}
        self.count = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> TimingSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        content = envelope.original_content or b""
        subject = str(_HEADERS.parsebytes(content)["Subject"] or "")
        with self.lock:
            self.count += 1
            for rcpt in envelope.rcpt_tos:
                self.arrivals[f"{rcpt}|{subject[:9]}"] = now
                arrival = Arrival(now, rcpt, subject, len(content))
                self.by_recipient.setdefault(rcpt, []).append(arrival)
        await asyncio.sleep(0)
        return "250 OK"

    def nth(self, recipients: list[str], n: int) -> list[Arrival]:
        """The ``n``-th message (0: the first) of each recipient that has one."""
        with self.lock:
            found = [self.by_recipient.get(r, []) for r in recipients]
        return [arrivals[n] for arrivals in found if len(arrivals) > n]
