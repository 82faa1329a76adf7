"""The HTTP side of partner webhooks: one signed POST of a delivery (Standard
Webhooks headers), the target checked again at send time, never through a proxy,
never following a redirect."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from services.notifications import domain
from services.notifications.config import NotificationsSettings


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: ``error`` is empty when the partner answered 2xx."""

    status_code: int | None
    latency_ms: float
    error: str

    @property
    def ok(self) -> bool:
        return not self.error


class WebhookClient:
    """Posts deliveries to subscribers' URLs (one HTTP session, shared by the
    dispatcher's threads)."""

    def __init__(
        self,
        ns: NotificationsSettings,
        resolve: Callable[..., list[Any]] = socket.getaddrinfo,
    ) -> None:
        self.ns = ns
        self.resolve = resolve
        self.session = requests.Session()
        self.session.trust_env = False  # never through a proxy from the environment

    def post(self, sub: dict[str, Any], doc: dict[str, Any]) -> Attempt:
        """POST delivery ``doc`` to subscription ``sub``'s URL, signed with its secret."""
        status_code: int | None = None
        error = ""
        started = time.perf_counter()
        try:
            domain.check_target(
                sub["url"], allow_loopback=self.ns.webhook_allow_loopback, resolve=self.resolve
            )
            response = self.session.post(
                sub["url"],
                data=doc["body"].encode(),
                headers=_headers(sub["secret"], doc["_id"], doc["body"]),
                timeout=(min(3.0, self.ns.webhook_timeout_s), self.ns.webhook_timeout_s),
                allow_redirects=False,
            )
            status_code = response.status_code
            response.close()
            if not 200 <= status_code < 300:
                error = f"answered {status_code}"
        except domain.UnsafeTarget as exc:
            error = f"refused target: {exc}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        return Attempt(status_code, (time.perf_counter() - started) * 1000, error)


def _headers(secret: str, webhook_id: str, body: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "content-type": "application/json",
        "user-agent": "mlp-ops-webhooks/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": domain.sign(secret, webhook_id, timestamp, body),
    }
