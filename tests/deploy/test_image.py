"""The service image (deploy/Dockerfile) without a Docker engine: its pins are the
lock's, it copies only what exists and what it may hold, it runs unprivileged,
and its entry point really starts the web and answers the health check."""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import requests
from packaging.requirements import Requirement

from deploy import catalog
from deploy.local.ports import free_port
from deploy.requirements import normalise, parse_pins, render, runtime_pins
from devkit.env import service_env

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def check_dockerfile(text: str, root: Path, dockerignore: str) -> list[str]:
    """Problems of a service Dockerfile; an empty list when it is sound."""
    problems = []
    ins = dockerfile_instructions(text)
    words = [w for w, _ in ins]
    args = dict((a.split("=", 1) + [""])[:2] for w, a in ins if w == "ARG")
    froms = [a for w, a in ins if w == "FROM"]
    if len(froms) < 2:
        problems.append("not multi-stage")
    if args.get("PYTHON_IMAGE") != "python:3.11-slim":
        problems.append("base image is not python:3.11-slim")
    if "SERVICE" not in args:
        problems.append("no ARG SERVICE")
    users = [a for w, a in ins if w == "USER"]
    if not users or users[-1].split(":")[0] in {"root", "0"}:
        problems.append("runs as root")
    if "HEALTHCHECK" not in words:
        problems.append("no HEALTHCHECK")
    if "ENTRYPOINT" not in words:
        problems.append("no ENTRYPOINT")
    ignored_all = dockerignore.splitlines()[1:2] == ["*"] or "*" in dockerignore.splitlines()
    allowed = {line[1:].rstrip("/") for line in dockerignore.splitlines() if line.startswith("!")}
    for word, rest in ins:
        if word != "COPY" or "--from=" in rest:
            continue
        parts = [p for p in rest.split() if not p.startswith("--")]
        for src in parts[:-1]:
            src = src.replace("${SERVICE}", "events").rstrip("/")
            if not (root / src).exists():
                problems.append(f"COPY source {src} does not exist")
            if ignored_all and not any(src == a or src.startswith(a + "/") for a in allowed):
                problems.append(f"COPY source {src} is excluded by .dockerignore")
        if any(p.rstrip("/") in {".", "services", "tests", "deploy"} for p in parts[:-1]):
            problems.append(f"copies more than one service: COPY {rest}")
    return problems


def test_runtime_requirements_are_the_locks_pins():
    lock = (ROOT / "requirements.lock").read_text()
    checked_in = (ROOT / "deploy" / "requirements-runtime.txt").read_text()
    assert checked_in == render(lock), "run: python -m deploy.requirements"
    lock_pins = parse_pins(lock)
    for name, version in parse_pins(checked_in).items():
        assert lock_pins[name] == version
    assert not {"pytest", "ruff", "testcontainers", "SecantusDB"} & set(parse_pins(checked_in))


def test_runtime_pins_are_closed_under_their_dependencies():
    """pip install --no-deps + pip check in the image: every dependency must be pinned."""
    pins = {normalise(n) for n in runtime_pins((ROOT / "requirements.lock").read_text())}
    missing = []
    for name in pins:
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if normalise(req.name) not in pins:
                missing.append(f"{name} needs {req.name}")
    assert missing == []


def test_a_stale_runtime_file_is_detected():
    lock = (ROOT / "requirements.lock").read_text()
    bumped = lock.replace("Flask==", "Flask==0.0.0\n#", 1)
    assert render(bumped) != (ROOT / "deploy" / "requirements-runtime.txt").read_text()


def test_dockerfile_is_sound():
    problems = check_dockerfile(DOCKERFILE.read_text(), ROOT, (ROOT / ".dockerignore").read_text())
    assert problems == []
    for service in catalog.names():
        assert (ROOT / "services" / service / "app.py").exists()
        assert (ROOT / "services" / service / "worker.py").exists()


def test_what_the_image_holds_imports_nothing_it_leaves_out():
    """The image holds shared/ and services/<name>/ only: neither imports devkit/,
    tests/, bench/ or deploy/ (development code)."""
    left_out = {"devkit", "tests", "bench", "deploy"}
    found = []
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            else:
                continue
            where = path.relative_to(ROOT)
            found += [f"{where}: {m}" for m in modules if m.split(".")[0] in left_out]
    assert found == []


def test_dockerfile_checker_reports_each_breakage():
    text = DOCKERFILE.read_text()
    ignore = (ROOT / ".dockerignore").read_text()
    cases = {
        "runs as root": text.replace("USER 10001:10001", "USER root"),
        "no HEALTHCHECK": re.sub(r"HEALTHCHECK[^\n]*\\\n[^\n]*\n", "", text),
        "no ARG SERVICE": text.replace("ARG SERVICE\n", ""),
        "does not exist": text.replace("deploy/entrypoint.sh", "deploy/entrypoint-gone.sh"),
        "not python:3.11-slim": text.replace("python:3.11-slim", "python:3.11"),
        "copies more than one service": text.replace(
            "COPY services/${SERVICE}/ services/${SERVICE}/", "COPY services/ services/"
        ),
    }
    for expected, broken in cases.items():
        assert broken != text, expected
        problems = check_dockerfile(broken, ROOT, ignore)
        assert any(expected in p for p in problems), (expected, problems)
    leaky = ignore.replace("!deploy/entrypoint.sh\n", "")
    assert any("excluded by .dockerignore" in p for p in check_dockerfile(text, ROOT, leaky))


def _entrypoint(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
    full_env = {
        **os.environ,
        **env,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "MLP_SERVICE": "events",
    }
    return subprocess.Popen(
        [str(ROOT / "deploy" / "entrypoint.sh"), *args],
        cwd=ROOT,
        env=full_env,
        start_new_session=True,
        **kw,
    )


def test_entrypoint_resolves_the_service_port():
    out = _entrypoint(["sh", "-c", "echo $PORT"], {}, stdout=subprocess.PIPE)
    assert out.communicate(timeout=30)[0].decode().strip() == "8001"
    out = _entrypoint(
        ["sh", "-c", "echo $PORT"], {"MLP_EVENTS_PORT": "9123"}, stdout=subprocess.PIPE
    )
    assert out.communicate(timeout=30)[0].decode().strip() == "9123"


def test_entrypoint_web_serves_and_passes_the_healthcheck(kafka, mongo, tmp_path):
    port = free_port()
    env = {
        **service_env("events", kafka.bootstrap, mongo.uri),
        "PORT": str(port),
        "MLP_WEB_WORKERS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    log = (tmp_path / "web.log").open("wb")
    web = _entrypoint(["web"], env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # still starting: a loaded machine may also be slow to answer
            assert web.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.3)
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        check = _entrypoint(["healthcheck"], env)
        assert check.wait(timeout=30) == 0
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        assert web.wait(timeout=30) == 0
    # With nothing listening the health check fails.
    assert _entrypoint(["healthcheck"], env, stderr=subprocess.DEVNULL).wait(timeout=30) != 0
