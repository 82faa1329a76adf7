"""Every service folder follows one layout (deploy/catalog.py's SERVICE_MODULES,
OPTIONAL_MODULES and OPTIONAL_FOLDERS), and adding a service is its folder plus
one catalogue entry: a fake sixth service, ``surveys``, built in a temporary
folder, appears in the generated Procfile, compose and Kubernetes files and in
the local stack without any other change."""

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

SURVEYS_PORT = 8005
SURVEYS = {
    "__init__.py": '"""The surveys service (a fake one: the layout tests build it)."""\n',
    "config.py": f'''"""Settings of the surveys service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Env, Settings, common_settings, refuse_unsafe

DEFAULT_PORT = {SURVEYS_PORT}


@dataclass(frozen=True)
class SurveysSettings(Settings):
    service: str = "surveys"
    port: int = DEFAULT_PORT


def load_settings(environ: Mapping[str, str] | None = None) -> SurveysSettings:
    return refuse_unsafe(SurveysSettings(**common_settings(Env(environ), "surveys", DEFAULT_PORT)))
''',
    "app.py": '''"""The surveys service's Flask app factory."""

from __future__ import annotations

from flask import Flask

from services.surveys.api import blp
from services.surveys.config import SurveysSettings, load_settings
from services.surveys.store import SurveyStore
from shared.service import start_service
from shared.web import create_service_app


def create_app(settings: SurveysSettings | None = None) -> Flask:
    ctx = start_service(settings or load_settings(), SurveyStore)
    return create_service_app(ctx, title="MLP Ops surveys", blueprints=[blp])
''',
    "api.py": '''"""HTTP routes of the surveys service."""

from __future__ import annotations

from flask_smorest import Blueprint

from services.surveys.schemas import SurveySchema

blp = Blueprint("surveys", __name__, url_prefix="/v1", description="Surveys")


@blp.route("/surveys")
@blp.response(200, SurveySchema(many=True))
def list_surveys() -> list[dict[str, str]]:
    return []
''',
    "schemas.py": '''"""marshmallow schemas of the surveys service."""

from marshmallow import Schema, fields


class SurveySchema(Schema):
    title = fields.String(required=True)
''',
    "domain.py": '''"""Rules of surveys, without I/O."""


def valid_title(title: str) -> bool:
    return bool(title.strip())
''',
    "operations.py": '''"""Every write path of the surveys service."""

from __future__ import annotations

from services.surveys.config import SurveysSettings
from services.surveys.domain import valid_title
from services.surveys.store import SurveyStore
from shared.errors import Invalid
from shared.service import ServiceContext

Context = ServiceContext[SurveysSettings, SurveyStore]


def create_survey(ctx: Context, title: str) -> None:
    if not valid_title(title):
        raise Invalid("a survey needs a title")
    ctx.store.surveys.insert_one({"title": title})
''',
    "store.py": '''"""MongoDB access of the surveys service."""

from pymongo.database import Database


class SurveyStore:
    def __init__(self, db: Database) -> None:
        self.surveys = db["surveys"]

    def ensure_indexes(self) -> None:
        self.surveys.create_index("title")
''',
    "handlers.py": '''"""What the surveys service does with other services' records: nothing yet."""

from shared.consumer import Subscriptions

subscriptions = Subscriptions()
''',
    "jobs.py": '''"""Periodic work of the surveys worker: none."""

from __future__ import annotations

from services.surveys.operations import Context
from shared.schedule import PeriodicJob


def periodic_jobs(ctx: Context) -> list[PeriodicJob]:
    return []
''',
    "worker.py": '''"""The surveys service's worker: ``python -m services.surveys.worker``."""

from services.surveys.config import load_settings
from services.surveys.handlers import subscriptions
from services.surveys.jobs import periodic_jobs
from services.surveys.store import SurveyStore
from shared.worker import run_worker


def main() -> None:
    run_worker(load_settings(), SurveyStore, subscriptions, periodic_jobs)


if __name__ == "__main__":
    main()
''',
}


@pytest.fixture
def surveys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake service's folder, importable as ``services.surveys``, and its
    one catalogue entry.

    ``services`` is a regular package, so the folder goes in a temporary
    ``services/`` added to the package's ``__path__`` (where Python looks for
    its submodules) for the test: the fake is imported exactly as a real
    service (``DeployedService.port`` reads its ``config.DEFAULT_PORT``), and
    the repository's own ``services/`` is never written to.
    """
    folder = tmp_path / "services" / "surveys"
    folder.mkdir(parents=True)
    for name, text in SURVEYS.items():
        (folder / name).write_text(text)
    monkeypatch.setattr(services, "__path__", [*services.__path__, str(folder.parent)])
    importlib.invalidate_caches()
    entry = catalog.DeployedService("surveys")
    monkeypatch.setattr(catalog, "DEPLOYED", (*catalog.DEPLOYED, entry))
    yield folder
    for module in [m for m in sys.modules if m.split(".")[:2] == ["services", "surveys"]]:
        del sys.modules[module]
    if hasattr(services, "surveys"):
        delattr(services, "surveys")


def test_the_fake_service_follows_the_layout_and_its_modules_import(surveys):
    assert check_service_folder(surveys) == []
    for name in SURVEYS:
        importlib.import_module(f"services.surveys.{Path(name).stem}".removesuffix(".__init__"))
    assert catalog.DeployedService("surveys").port == SURVEYS_PORT


def test_one_catalog_entry_puts_the_fake_service_in_every_generated_file(surveys):
    before = {path: path.read_text() for path in manifests.rendered() if path.exists()}

    entries = parse_procfile(manifests.procfile()).processes
    assert entries["surveys-web"].endswith("--bind 127.0.0.1:${MLP_SURVEYS_PORT:-8005}")
    assert "'services.surveys.app:create_app()'" in entries["surveys-web"]
    assert entries["surveys-worker"] == ".venv/bin/python -m services.surveys.worker"

    doc = manifests.compose()["services"]
    assert doc["surveys-web"]["ports"] == ["8005:8005"]
    assert doc["surveys-web"]["build"]["args"] == {"SERVICE": "surveys"}
    assert doc["surveys-worker"]["command"] == ["worker"]
    assert doc["surveys-worker"]["environment"]["MLP_SURVEYS_WORKER_METRICS_PORT"] == "8105"

    files = manifests.k8s_files()
    surveys_yaml = manifests.K8S / "base" / "surveys.yaml"
    assert surveys_yaml in files
    kustomization = yaml.safe_load(files[manifests.K8S / "base" / "kustomization.yaml"])
    assert kustomization["resources"] == [f"{s.name}.yaml" for s in catalog.DEPLOYED] + [
        manifests.PROVISIONING
    ]
    docs = [d for text in files.values() for d in yaml.safe_load_all(text)]
    k8s_objects = [d for d in docs if d.get("kind") not in {"Kustomization", "Namespace"}]
    assert check_k8s(k8s_objects, {"/readyz", "/healthz", "/metrics"}) == []

    local = LocalStack.from_environ({})
    assert local.service_ports["surveys"] == SURVEYS_PORT
    assert stack.ports(local)["surveys service"] == (SURVEYS_PORT, "set MLP_SURVEYS_PORT")
    assert "surveys" in ready.checks(local)

    # Generated in memory only: the checked-in files are as they were.
    assert {path: path.read_text() for path in before} == before
    assert not (SERVICES / "surveys").exists()


def test_the_layout_check_reports_a_missing_module_and_an_undeclared_one(surveys, tmp_path):
    broken = tmp_path / "broken" / "surveys"
    shutil.copytree(surveys, broken)
    (broken / "jobs.py").unlink()
    (broken / "helpers.py").write_text('"""Odds and ends."""\n')
    (broken / "rsvp_page.py").write_text('"""An optional kind: allowed."""\n')
    (broken / "lib").mkdir()
    (broken / "config.py").write_text('"""No port."""\n\ndef load_settings(environ=None): ...\n')
    (broken / "worker.py").write_text('"""Not runnable."""\n\ndef main() -> None: ...\n')
    problems = check_service_folder(broken)
    assert problems == [
        "surveys: no jobs.py",
        "surveys: module helpers.py is none of " + ", ".join(catalog.OPTIONAL_MODULES),
        "surveys: folder lib/ is none of " + ", ".join(catalog.OPTIONAL_FOLDERS),
        "surveys: config.py defines no DEFAULT_PORT",
        "surveys: worker.py does not run as python -m",
    ]
