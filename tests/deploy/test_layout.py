"""Every service folder follows one layout (deploy/catalog.py's SERVICE_MODULES,
OPTIONAL_MODULES and OPTIONAL_FOLDERS), and adding a service is its folder plus
one catalogue entry: a fake service, ``glossary`` (no service planned has
that name), built in a temporary folder, appears in the generated Procfile,
compose and Kubernetes files and in the local stack without any other change."""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from honcho.environ import parse_procfile

import services
from deploy import catalog, manifests
from deploy.local import ready, stack
from deploy.local.settings import LocalStack
from tests.deploy.checks import check_k8s, check_service_folder

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"


def service_folders(root: Path = SERVICES) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name != "__pycache__")


def test_every_service_folder_follows_the_layout():
    problems = [p for folder in service_folders() for p in check_service_folder(folder)]
    assert problems == []


def test_the_service_folders_are_the_catalogued_services():
    """A new service slots in by its folder and one line in deploy/catalog.py."""
    assert sorted(f.name for f in service_folders()) == sorted(catalog.names())


def test_every_service_listens_on_ports_of_its_own():
    ports = [p for s in catalog.DEPLOYED for p in (s.port, s.worker_metrics_port)]
    assert len(ports) == len(set(ports)), ports


# --- a fake service: its folder (minimal, but the real shape) ------------------

GLOSSARY_PORT = 8090
GLOSSARY = {
    "__init__.py": '"""The glossary service (a fake one: the layout tests build it)."""\n',
    "config.py": f'''"""Settings of the glossary service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Env, Settings, common_settings, refuse_unsafe

DEFAULT_PORT = {GLOSSARY_PORT}


@dataclass(frozen=True)
class GlossarySettings(Settings):
    service: str = "glossary"
    port: int = DEFAULT_PORT


def load_settings(environ: Mapping[str, str] | None = None) -> GlossarySettings:
    settings = GlossarySettings(**common_settings(Env(environ), "glossary", DEFAULT_PORT))
    return refuse_unsafe(settings)
''',
    "app.py": '''"""The glossary service's Flask app factory."""

from __future__ import annotations

from flask import Flask

from services.glossary.api import blp
from services.glossary.config import GlossarySettings, load_settings
from services.glossary.store import GlossaryStore
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: GlossarySettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), GlossaryStore)
    return create_service_app(ctx, title="MLP Ops glossary", blueprints=[blp])
''',
    "api.py": '''"""HTTP routes of the glossary service."""

from __future__ import annotations

from flask_smorest import Blueprint

from services.glossary.schemas import TermSchema

blp = Blueprint("glossary", __name__, url_prefix="/v1", description="Glossary")


@blp.route("/glossary")
@blp.response(200, TermSchema(many=True))
def list_glossary() -> list[dict[str, str]]:
    return []
''',
    "schemas.py": '''"""marshmallow schemas of the glossary service."""

from marshmallow import Schema, fields


class TermSchema(Schema):
    title = fields.String(required=True)
''',
    "domain.py": '''"""Rules of glossary, without I/O."""


def valid_title(title: str) -> bool:
    return bool(title.strip())
''',
    "operations.py": '''"""Every write path of the glossary service."""

from __future__ import annotations

from services.glossary.config import GlossarySettings
from services.glossary.domain import valid_title
from services.glossary.store import GlossaryStore
from shared.errors import Invalid
from shared.service import ServiceContext

Context = ServiceContext[GlossarySettings, GlossaryStore]


def create_survey(ctx: Context, title: str) -> None:
    if not valid_title(title):
        raise Invalid("a survey needs a title")
    ctx.store.glossary.insert_one({"title": title})
''',
    "store.py": '''"""MongoDB access of the glossary service."""

from pymongo.database import Database


class GlossaryStore:
    def __init__(self, db: Database) -> None:
        self.glossary = db["glossary"]

    def ensure_indexes(self) -> None:
        self.glossary.create_index("title")
''',
    "handlers.py": '''"""The glossary service's handlers: none yet."""

from shared.consumer import Subscriptions

subscriptions = Subscriptions()
''',
    "jobs.py": '''"""Periodic work of the glossary worker: none."""

from __future__ import annotations

from services.glossary.operations import Context
from shared.schedule import PeriodicJob


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return []
''',
    "worker.py": '''"""The glossary service's worker: ``python -m services.glossary.worker``."""

from services.glossary.config import load_settings
from services.glossary.handlers import subscriptions
from services.glossary.jobs import periodic_jobs
from services.glossary.store import GlossaryStore
from shared.worker import run_worker


def main() -> None:
    run_worker(load_settings(), GlossaryStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()
''',
}


@pytest.fixture
def glossary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake service's folder, importable as ``services.glossary``, and its
    one catalogue entry.

    ``services`` is a regular package, so the folder goes in a temporary
    ``services/`` added to the package's ``__path__`` (where Python looks for
    its submodules) for the test: the fake is imported exactly as a real
    service (``DeployedService.port`` reads its ``config.DEFAULT_PORT``), and
    the repository's own ``services/`` is never written to.
    """
    folder = tmp_path / "services" / "glossary"
    folder.mkdir(parents=True)
    for name, text in GLOSSARY.items():
        (folder / name).write_text(text)
    monkeypatch.setattr(services, "__path__", [*services.__path__, str(folder.parent)])
    importlib.invalidate_caches()
    entry = catalog.DeployedService("glossary")
    monkeypatch.setattr(catalog, "DEPLOYED", (*catalog.DEPLOYED, entry))
    yield folder
    for module in [m for m in sys.modules if m.split(".")[:2] == ["services", "glossary"]]:
        del sys.modules[module]
    if hasattr(services, "glossary"):
        delattr(services, "glossary")


def test_the_fake_service_follows_the_layout_and_its_modules_import(glossary):
    assert check_service_folder(glossary) == []
    for name in GLOSSARY:
        importlib.import_module(f"services.glossary.{Path(name).stem}".removesuffix(".__init__"))
    assert catalog.DeployedService("glossary").port == GLOSSARY_PORT


def test_one_catalog_entry_puts_the_fake_service_in_every_generated_file(glossary):
    before = {path: path.read_text() for path in manifests.rendered() if path.exists()}

    entries = parse_procfile(manifests.procfile()).processes
    assert entries["glossary-web"].endswith("--bind 127.0.0.1:${MLP_GLOSSARY_PORT:-8090}")
    assert "'services.glossary.app:create_app()'" in entries["glossary-web"]
    assert entries["glossary-worker"].endswith(" -- .venv/bin/python -m services.glossary.worker")

    doc = manifests.compose()["services"]
    assert doc["glossary-web"]["ports"] == ["8090:8090"]
    assert doc["glossary-web"]["build"]["args"] == {"SERVICE": "glossary"}
    assert doc["glossary-worker"]["command"] == ["worker"]
    assert doc["glossary-worker"]["environment"]["MLP_GLOSSARY_WORKER_METRICS_PORT"] == "8190"

    files = manifests.k8s_files()
    glossary_yaml = manifests.K8S / "base" / "glossary.yaml"
    assert glossary_yaml in files
    kustomization = yaml.safe_load(files[manifests.K8S / "base" / "kustomization.yaml"])
    assert kustomization["resources"] == [f"{s.name}.yaml" for s in catalog.DEPLOYED] + [
        manifests.PROVISIONING
    ]
    docs = [d for text in files.values() for d in yaml.safe_load_all(text)]
    k8s_objects = [d for d in docs if d.get("kind") not in {"Kustomization", "Namespace"}]
    assert check_k8s(k8s_objects, {"/readyz", "/healthz", "/metrics"}) == []

    local = LocalStack.from_environ({})
    assert local.service_ports["glossary"] == GLOSSARY_PORT
    assert stack.ports(local)["glossary service"] == (GLOSSARY_PORT, "set MLP_GLOSSARY_PORT")
    assert "glossary" in ready.checks(local)

    # Generated in memory only: the checked-in files are as they were.
    assert {path: path.read_text() for path in before} == before
    assert not (SERVICES / "glossary").exists()


def test_the_layout_check_reports_a_missing_module_and_an_undeclared_one(glossary, tmp_path):
    broken = tmp_path / "broken" / "glossary"
    shutil.copytree(glossary, broken)
    (broken / "jobs.py").unlink()
    (broken / "helpers.py").write_text('"""Odds and ends."""\n')
    (broken / "rsvp_page.py").write_text('"""An optional kind: allowed."""\n')
    (broken / "lib").mkdir()
    (broken / "config.py").write_text('"""No port."""\n\ndef load_settings(environ=None): ...\n')
    (broken / "worker.py").write_text('"""Not runnable."""\n\ndef main() -> None: ...\n')
    problems = check_service_folder(broken)
    assert problems == [
        "glossary: no jobs.py",
        "glossary: module helpers.py is none of " + ", ".join(catalog.OPTIONAL_MODULES),
        "glossary: folder lib/ is none of " + ", ".join(catalog.OPTIONAL_FOLDERS),
        "glossary: config.py defines no DEFAULT_PORT",
        "glossary: worker.py does not run as python -m",
    ]
