"""A local webhook receiver: a partner's HTTP endpoint on 127.0.0.1 that records
what the notifications service delivers to it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One POST as it arrived: its headers, its body, when (``time.monotonic()``),
    the path it was sent to and the status it was answered."""

    headers: dict[str, str]
    body: bytes
    at: float
    path: str = "/hooks"
    status: int = 200


class Receiver:
    """Records every POST to :attr:`url` in :attr:`requests` and answers the codes
    of ``plan`` in turn, then 200; ``hang`` makes it never answer in time, and
    :attr:`outage` set to a status answers every request with it (a partner's
    server down) until it is ``None`` again.

    It speaks HTTP/1.1, so a sender may keep its connection, as it would to a
    partner's server."""

    def __init__(self, plan: list[int] | None = None, hang: bool = False) -> None:
        self.requests: list[Received] = []
        self.plan = list(plan or [])
        self.hang = hang
        self.outage: int | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.outage is not None:
                    code = receiver.outage
                else:
                    code = receiver.plan.pop(0) if receiver.plan else 200
                received = Received(dict(self.headers), body, time.monotonic(), self.path, code)
                receiver.requests.append(received)
                if receiver.hang:
                    time.sleep(30)
                    return
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
