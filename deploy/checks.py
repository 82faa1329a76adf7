"""Static checks of the deployment files, used by ``tests/deploy``: each returns
a list of problems (empty when sound), so a test can break a copy on purpose and
see the problem reported."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from shared.config import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[1]
MLP_VAR = re.compile(r"\bMLP_[A-Z0-9_]+\b")
ONE_SHOT_RESTARTS = {"no", "on-failure", None}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SERVICE_NAMES = tuple(SERVICE_PORTS)


def documented_variables(root: Path = ROOT) -> str:
    """The text that documents ``MLP_`` variables: the README and shared/config.py."""
    return (root / "README.md").read_text() + (root / "shared" / "config.py").read_text()


def undocumented(names: set[str], documentation: str) -> list[str]:
    """``MLP_`` names not in ``documentation``; ``MLP_<SERVICE>_X`` counts as documented
    when ``MLP_EVENTS_X`` is (the README documents the per-service family once)."""
    known = set(MLP_VAR.findall(documentation))
    missing = []
    for name in sorted(names):
        generic = name
        for service in SERVICE_NAMES:
            generic = generic.replace(f"MLP_{service.upper()}_", "MLP_EVENTS_")
        if name not in known and generic not in known:
            missing.append(name)
    return missing


def module_file(root: Path, module: str) -> Path | None:
    base = root / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__main__.py"):
        if candidate.exists():
            return candidate
    return None


def _command(value: Any) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _own_image_service(spec: dict[str, Any]) -> str | None:
    build = spec.get("build")
    if isinstance(build, dict):
        return (build.get("args") or {}).get("SERVICE")
    return None


def check_compose(doc: Any, root: Path = ROOT, documentation: str | None = None) -> list[str]:
    """Problems of a parsed docker-compose document."""
    from deploy.catalog import names as deployed_names

    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        return ["no services mapping"]
    problems: list[str] = []
    services: dict[str, dict[str, Any]] = doc["services"]
    documentation = documentation if documentation is not None else documented_variables(root)

    for name, spec in services.items():
        build = spec.get("build")
        if build is not None:
            context = root / (build if isinstance(build, str) else build.get("context", "."))
            if not context.is_dir():
                problems.append(f"{name}: build context {context} does not exist")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            if not (context / (dockerfile or "Dockerfile")).is_file():
                problems.append(f"{name}: Dockerfile {dockerfile} does not exist")
        elif "image" not in spec:
            problems.append(f"{name}: neither build nor image")

        own = _own_image_service(spec)
        command = _command(spec.get("command"))
        if own is not None:
            if not (root / "services" / own / "app.py").is_file():
                problems.append(f"{name}: build arg SERVICE={own} names no service")
            if not command:
                problems.append(f"{name}: no command (web or worker)")
            elif command[0] == "web":
                if "def create_app" not in _read(root / "services" / own / "app.py"):
                    problems.append(f"{name}: services/{own}/app.py has no create_app")
            elif command[0] == "worker":
                if not (root / "services" / own / "worker.py").is_file():
                    problems.append(f"{name}: services/{own}/worker.py does not exist")
            elif command[:2] == ["python", "-m"] and len(command) > 2:
                path = module_file(root, command[2])
                if path is None:
                    problems.append(f"{name}: module {command[2]} does not exist")
                elif "__main__" not in _read(path):
                    problems.append(f"{name}: module {command[2]} is not runnable")
                elif len(command) > 3 and command[3] not in _read(path):
                    problems.append(f"{name}: {command[2]} has no command {command[3]!r}")
            else:
                problems.append(f"{name}: unknown command {command}")

        env = spec.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        for port in spec.get("ports") or []:
            published, _, target = str(port).rpartition(":")
            if own is not None and command[:1] == ["web"]:
                expected = str(SERVICE_PORTS.get(own))
                if target != expected:
                    problems.append(f"{name}: container port {target} is not {own}'s {expected}")
                if str(env.get(f"MLP_{own.upper()}_PORT")) != target:
                    problems.append(f"{name}: MLP_{own.upper()}_PORT does not match port {target}")
            if not published or not target.isdigit():
                problems.append(f"{name}: port {port!r} is not host:container")

        for dep, cond in (spec.get("depends_on") or {}).items():
            condition = (cond or {}).get("condition", "service_started")
            if dep not in services:
                problems.append(f"{name}: depends on unknown service {dep}")
                continue
            if condition not in CONDITIONS:
                problems.append(f"{name}: unknown depends_on condition {condition}")
            if condition == "service_healthy" and "healthcheck" not in services[dep]:
                problems.append(f"{name}: waits for {dep} to be healthy but it has no healthcheck")
            if (
                condition == "service_completed_successfully"
                and services[dep].get("restart") not in ONE_SHOT_RESTARTS
            ):
                problems.append(f"{name}: waits for {dep} to complete but it restarts forever")

    text_vars: set[str] = set()
    _collect_vars(doc, text_vars)
    for var in undocumented(text_vars, documentation):
        problems.append(f"variable {var} is documented neither in README.md nor shared/config.py")

    for service in deployed_names():
        images = set()
        for role in ("web", "worker"):
            spec = services.get(f"{service}-{role}")
            if spec is None:
                problems.append(f"{service}: no {service}-{role} in compose")
                continue
            images.add(spec.get("image"))
            if "healthcheck" not in spec:
                problems.append(f"{service}-{role}: no healthcheck")
            if not spec.get("depends_on"):
                problems.append(f"{service}-{role}: no depends_on")
        if len(images) > 1:
            problems.append(f"{service}: web and worker run different images {sorted(images)}")

    kafka_env = (services.get("kafka") or {}).get("environment") or {}
    if str(kafka_env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")).lower() != "false":
        problems.append("kafka: automatic topic creation is not off")
    if "broker" not in str(kafka_env.get("KAFKA_PROCESS_ROLES", "")) or "controller" not in str(
        kafka_env.get("KAFKA_PROCESS_ROLES", "")
    ):
        problems.append("kafka: not a KRaft combined broker+controller")
    provisioners = [
        n
        for n, s in services.items()
        if _command(s.get("command"))[:4] == ["python", "-m", "shared.bus", "provision"]
    ]
    if not provisioners:
        problems.append("no topic-provisioning service (python -m shared.bus provision)")
    mongo_cmd = _command((services.get("mongo") or {}).get("command"))
    replset = mongo_cmd[mongo_cmd.index("--replSet") + 1] if "--replSet" in mongo_cmd else None
    if replset is None:
        problems.append("mongo: not started as a replica set")
    for name, spec in services.items():
        uri = str((spec.get("environment") or {}).get("MLP_MONGO_URI", ""))
        if uri and f"replicaSet={replset}" not in uri:
            problems.append(f"{name}: MLP_MONGO_URI does not name replica set {replset}")
    return problems


def _collect_vars(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _collect_vars(key, out)
            _collect_vars(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect_vars(item, out)
    elif isinstance(node, str):
        out.update(MLP_VAR.findall(node))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
