"""Settings of the catalogue service, read from the environment once at start
(``MLP_`` variables; the service README lists them with their defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import LOOPBACK, Env, Settings, common_settings, refuse_unsafe

DEFAULT_PORT = 8006
SEARCH_STRATEGIES = ("terms", "text")
DEFAULT_DOCUMENTS_PUBLIC_URL = f"http://{LOOPBACK}:8003"
DEFAULT_PUBLIC_URL = f"http://{LOOPBACK}:{DEFAULT_PORT}"


@dataclass(frozen=True)
class CatalogueSettings(Settings):
    service: str = "catalogue"
    port: int = DEFAULT_PORT
    # Where visitors download published papers: the documents service's public base URL.
    documents_public_url: str = DEFAULT_DOCUMENTS_PUBLIC_URL
    # The website's own public address: canonical links and og:url.
    public_url: str = DEFAULT_PUBLIC_URL
    # "terms": the indexed weighted term list (any Mongo-wire server);
    # "text": MongoDB's $text index (a real MongoDB only).
    search: str = "terms"


def load_settings(environ: Mapping[str, str] | None = None) -> CatalogueSettings:
    env = Env(environ)
    search = env.str("CATALOGUE_SEARCH", "terms")
    if search not in SEARCH_STRATEGIES:
        raise SystemExit(
            f"MLP_CATALOGUE_SEARCH must be one of {', '.join(SEARCH_STRATEGIES)}, got {search!r}."
        )
    settings = CatalogueSettings(
        **common_settings(env, "catalogue", DEFAULT_PORT),
        documents_public_url=env.str("DOCUMENTS_PUBLIC_URL", DEFAULT_DOCUMENTS_PUBLIC_URL).rstrip(
            "/"
        ),
        public_url=env.str("CATALOGUE_PUBLIC_URL", DEFAULT_PUBLIC_URL).rstrip("/"),
        search=search,
    )
    return refuse_unsafe(settings)
