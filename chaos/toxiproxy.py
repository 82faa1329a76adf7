"""Toxiproxy (github.com/Shopify/toxiproxy): the TCP proxy between the services
and their Kafka brokers and MongoDB, into whose links the campaign puts
latency, resets and stalls. Built once with ``go install`` into ``var/tools``
(version :data:`VERSION`), run as a local process, driven over its REST API."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import requests

from deploy.local.errors import PrerequisiteError
from deploy.local.ports import port_in_use, restartable_port
from deploy.local.process import START_TIMEOUT, ServerProcess, require_command
from shared.config import LOOPBACK

VERSION = "v2.5.0"
MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "var" / "tools"
STREAMS = ("upstream", "downstream")


def ensure_toxiproxy(tools: Path = TOOLS) -> Path:
    """The ``toxiproxy-server`` binary, built from the Go module proxy on first use."""
    binary = tools / f"toxiproxy-server-{VERSION}"
    if binary.exists():
        return binary
    go = require_command("go", "Go builds Toxiproxy for the fault campaign")
    tools.mkdir(parents=True, exist_ok=True)
    build = tools / "build"
    env = {**os.environ, "GOBIN": str(build), "GOFLAGS": "-mod=mod"}
    result = subprocess.run(
        [go, "install", f"{MODULE}@{VERSION}"], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise PrerequisiteError(
            f"`go install {MODULE}@{VERSION}` failed:\n{result.stdout}{result.stderr}"
        )
    shutil.move(build / "server", binary)
    return binary


class Toxiproxy(ServerProcess):
    """The proxy server and its REST API on :attr:`api_port`."""

    name = "toxiproxy"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, None)
        self.api_port = restartable_port()
        self.api = f"http://{LOOPBACK}:{self.api_port}"
        self.http = requests.Session()

    def start(self, timeout: float = START_TIMEOUT) -> Toxiproxy:
        binary = ensure_toxiproxy()
        self._spawn([str(binary), "-host", LOOPBACK, "-port", str(self.api_port)])
        self._wait_ready(timeout)
        return self

    def _ready(self) -> bool:
        return port_in_use(LOOPBACK, self.api_port)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"{self.api}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def proxy(self, name: str, listen_port: int, upstream_port: int) -> None:
        """Forward ``listen_port`` to ``upstream_port`` on loopback."""
        self._call(
            "POST",
            "/proxies",
            {
                "name": name,
                "listen": f"{LOOPBACK}:{listen_port}",
                "upstream": f"{LOOPBACK}:{upstream_port}",
                "enabled": True,
            },
        )

    def add_toxic(
        self,
        proxy: str,
        toxic: str,
        kind: str,
        streams: tuple[str, ...] = STREAMS,
        **attributes: int,
    ) -> None:
        """Put a toxic (``latency``, ``reset_peer``, ``timeout``, ...) on ``streams``
        of ``proxy``; ``toxic`` names it for :meth:`remove_toxic`."""
        for stream in streams:
            self._call(
                "POST",
                f"/proxies/{proxy}/toxics",
                {
                    "name": f"{toxic}-{stream}",
                    "type": kind,
                    "stream": stream,
                    "toxicity": 1.0,
                    "attributes": attributes,
                },
            )

    def remove_toxic(self, proxy: str, toxic: str, streams: tuple[str, ...] = STREAMS) -> None:
        for stream in streams:
            self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}-{stream}")

    def toxics(self) -> dict[str, list[str]]:
        """Every proxy's toxics now (the campaign ends with none)."""
        proxies = self._call("GET", "/proxies")
        return {name: [t["name"] for t in p.get("toxics", [])] for name, p in proxies.items()}
