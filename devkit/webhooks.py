"""A local webhook receiver: a partner's HTTP endpoint on 127.0.0.1 that records
what the notifications service delivers to it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One POST as it arrived: its headers, its body and when (``time.monotonic()``)."""

    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """Records every POST to :attr:`url` in :attr:`requests` and answers the codes
    of ``plan`` in turn, then 200; ``hang`` makes it never answer in time.

    It speaks HTTP/1.1, so a sender may keep its connection, as it would to a
    partner's server."""

    def __init__(self, plan: list[int] | None = None, hang: bool = False) -> None:
        self.requests: list[Received] = []
        self.plan = list(plan or [])
        self.hang = hang
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received = Received(dict(self.headers), body, time.monotonic())
                receiver.requests.append(received)
                if receiver.hang:
                    time.sleep(30)
                    return
                code = receiver.plan.pop(0) if receiver.plan else 200
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
