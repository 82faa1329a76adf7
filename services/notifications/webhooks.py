"""The HTTP side of partner webhooks: one signed POST of a delivery (Standard
Webhooks headers), the target checked again at send time, never through a proxy,
never following a redirect.

The connection goes to an address the check accepted, never to a second
resolution of the name (that would reopen the DNS-rebinding window): urllib3's
connection classes connect to the checked IP while the request carries
``Host: <the URL's host>`` and, for https, TLS sends the name as SNI and
verifies the certificate for it (``server_hostname`` / ``assert_hostname``).
One attempt is bounded as a whole (connect, send, answer: the webhook timeout)
and reads at most :data:`MAX_RESPONSE_BYTES` of the answer, which it discards.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import certifi
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError
from urllib3.util.ssl_match_hostname import CertificateError

from services.notifications import domain
from services.notifications.config import NotificationsSettings

CONNECT_TIMEOUT_S = 3.0  # per address, within the attempt's deadline
MAX_RESPONSE_BYTES = 64 * 1024  # of a partner's answer; only its status matters
_CHUNK = 8192
_SEND_ERRORS = (OSError, HTTPError, http.client.HTTPException, CertificateError)


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: ``error`` is empty when the partner answered 2xx."""

    status_code: int | None
    latency_ms: float
    error: str

    @property
    def ok(self) -> bool:
        return not self.error


class _Deadline:
    """Shuts the connection's socket down when the attempt's time is up, which
    wakes any read or write blocked on it (a partner trickling its answer one
    byte at a time gets no more than the deadline)."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = threading.Event()
        self.connection: HTTPConnection | None = None
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def _expire(self) -> None:
        self.expired.set()
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # closed meanwhile
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self.timer.cancel()


class WebhookClient:
    """Posts deliveries to subscribers' URLs; safe to share between the
    dispatcher's threads (each attempt has its own connection)."""

    def __init__(
        self,
        ns: NotificationsSettings,
        resolve: Callable[..., list[Any]] = socket.getaddrinfo,
        ca_certs: str | None = None,
    ) -> None:
        self.ns = ns
        self.resolve = resolve
        self.ca_certs = ca_certs or certifi.where()  # the CA bundle requests used

    def post(self, sub: dict[str, Any], doc: dict[str, Any]) -> Attempt:
        """POST delivery ``doc`` to subscription ``sub``'s URL, signed with its secret."""
        started = time.perf_counter()
        status_code: int | None = None
        try:
            target = domain.check_target(
                sub["url"],
                allow_loopback=self.ns.webhook_allow_loopback,
                ports=self.ns.webhook_ports,
                resolve=self.resolve,
            )
        except domain.UnsafeTarget as exc:
            return Attempt(None, (time.perf_counter() - started) * 1000, f"refused target: {exc}")
        headers = {"Host": target.netloc, **_headers(sub["secret"], doc["_id"], doc["body"])}
        deadline = _Deadline(self.ns.webhook_timeout_s)
        connection: HTTPConnection | None = None
        try:
            connection = self._connect(target, deadline)
            connection.request(
                "POST",
                target.path,
                body=doc["body"].encode(),
                headers=headers,
                preload_content=False,
                decode_content=False,
            )
            response = connection.getresponse()
            if deadline.expired.is_set():  # the headers were cut short: no answer
                raise TimeoutError("the deadline passed while reading the answer")
            status_code = response.status
            _discard(response, deadline)  # the status stands even if the body is cut
            error = "" if 200 <= status_code < 300 else f"answered {status_code}"
        except _SEND_ERRORS as exc:
            error = _describe(exc, target, deadline, self.ns.webhook_timeout_s)
        finally:
            deadline.cancel()
            if connection is not None:
                connection.close()
        return Attempt(status_code, (time.perf_counter() - started) * 1000, error)

    def _connect(self, target: domain.Target, deadline: _Deadline) -> HTTPConnection:
        """A connection to the first checked address that answers."""
        failure: BaseException = ConnectionError("no address to connect to")
        for address in target.addresses:
            timeout = min(CONNECT_TIMEOUT_S, deadline.remaining())
            if timeout <= 0 or deadline.expired.is_set():
                break
            connection = self._connection(target, address, timeout)
            deadline.connection = connection
            try:
                connection.connect()
            except _SEND_ERRORS as exc:
                connection.close()
                failure = exc
                continue
            if deadline.expired.is_set() or connection.sock is None:
                connection.close()
                raise TimeoutError("the deadline passed while connecting")
            connection.sock.settimeout(max(0.001, deadline.remaining()))
            return connection
        raise failure

    def _connection(self, target: domain.Target, address: str, timeout: float) -> HTTPConnection:
        if target.scheme == "https":
            return HTTPSConnection(
                address,
                target.port,
                timeout=timeout,
                cert_reqs="CERT_REQUIRED",
                ca_certs=self.ca_certs,
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        return HTTPConnection(address, target.port, timeout=timeout)


def _discard(response: Any, deadline: _Deadline) -> None:
    """Read the answer's body, up to :data:`MAX_RESPONSE_BYTES`, and drop it."""
    read = 0
    while read < MAX_RESPONSE_BYTES and not deadline.expired.is_set():
        chunk = response.read(min(_CHUNK, MAX_RESPONSE_BYTES - read))
        if not chunk:
            return
        read += len(chunk)


def _describe(
    exc: BaseException, target: domain.Target, deadline: _Deadline, timeout_s: float
) -> str:
    """What went wrong, in words a partner can act on, naming the host but never
    the address it resolved to."""
    if deadline.expired.is_set() or isinstance(exc, TimeoutError | socket.timeout):
        return f"no complete answer within {timeout_s:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the certificate is not valid for {target.host} ({exc.verify_message})"
    if isinstance(exc, CertificateError):
        return f"TLS: the certificate does not name {target.host}"
    text = f"{type(exc).__name__}: {exc}"
    for address in target.addresses:
        text = text.replace(address, target.host)
    return text[:500]


def _headers(secret: str, webhook_id: str, body: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "content-type": "application/json",
        "user-agent": "mlp-ops-webhooks/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": domain.sign(secret, webhook_id, timestamp, body),
    }
