"""The local stack (``make run``, ``python -m deploy.local``): its settings come
from shared/config.py's constants and the environment, read once; its Procfile
is generated from deploy/catalog.py; its modules import each other without a
cycle."""

from __future__ import annotations

import ast
import importlib
import socket
from pathlib import Path

import pytest
from honcho.environ import parse_procfile

from deploy import catalog, manifests
from deploy.local import ready, stack
from deploy.local.__main__ import SERVED, main
from deploy.local.ports import free_port
from deploy.local.settings import LocalStack
from shared import config

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"


def test_with_nothing_set_the_stack_is_where_the_services_look_by_default():
    local = LocalStack.from_environ({})
    assert local.kafka_bootstrap == config.DEFAULT_KAFKA_BOOTSTRAP
    # A Mongo-wire server of its own for each service, where its settings look.
    for s in catalog.DEPLOYED:
        own = importlib.import_module(f"services.{s.name}.config").load_settings({})
        assert local.mongo_uris[s.name] == own.mongo_uri
    assert len(set(local.mongo_uris.values())) == len(catalog.DEPLOYED)
    assert (local.smtp_host, local.smtp_port) == (config.LOOPBACK, config.LOCAL_SMTP_PORT)
    assert str(local.mail_dir) == config.LOCAL_MAIL_DIR
    assert local.jwt_secret == config.DEVELOPMENT_JWT_SECRET
    assert local.service_ports == {s.name: s.port for s in catalog.DEPLOYED}
    assert local.runs_kafka and local.runs_mongo


def test_moving_a_local_server_moves_what_the_services_are_given():
    local = LocalStack.from_environ({"MLP_KAFKA_PORT": "19092", "MLP_MONGO_PORT": "27018"})
    assert local.runs_kafka and local.runs_mongo
    env = local.environment()
    assert env["MLP_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert env["MLP_EVENTS_MONGO_URI"] == "mongodb://127.0.0.1:27019/?directConnection=true"
    moved = LocalStack.from_environ({"MLP_DOCUMENTS_PORT": "18003"}).environment()
    assert moved["MLP_DOCUMENTS_PUBLIC_URL"] == "http://127.0.0.1:18003"  # the catalogue's links
    given = {"MLP_DOCUMENTS_PUBLIC_URL": "https://papers.example.org"}
    assert (
        LocalStack.from_environ(given).environment()["MLP_DOCUMENTS_PUBLIC_URL"]
        == given["MLP_DOCUMENTS_PUBLIC_URL"]
    )
    assert stack.local_kafka(local).port == 19092
    assert stack.local_mongos(local)["events"].port == 27019
    assert stack.local_mongos(local)["catalogue"].port == 27024


def test_a_service_given_a_mongodb_of_its_own_gets_no_local_server():
    local = LocalStack.from_environ({"MLP_SURVEYS_MONGO_URI": "mongodb://surveys-db:27017/"})
    assert "surveys" not in stack.local_mongos(local)
    assert local.environment()["MLP_SURVEYS_MONGO_URI"] == "mongodb://surveys-db:27017/"
    assert "MongoDB (surveys)" not in stack.ports(local)
    assert "MongoDB (events)" in stack.ports(local)


def test_servers_run_elsewhere_are_not_started():
    local = LocalStack.from_environ(
        {"MLP_KAFKA_BOOTSTRAP": "kafka:9092", "MLP_MONGO_URI": "mongodb://a:1,b:2/?replicaSet=rs0"}
    )
    assert stack.local_kafka(local) is None and stack.local_mongos(local) == {}
    assert not any(name.startswith(("Kafka", "MongoDB")) for name in stack.ports(local))
    assert set(local.environment().values()) >= {"mongodb://a:1,b:2/?replicaSet=rs0"}


def test_the_stack_waits_for_and_checks_the_ports_of_every_catalogued_service():
    local = LocalStack.from_environ({"MLP_EVENTS_PORT": "18001"})
    assert stack.ports(local)["events service"] == (18001, "set MLP_EVENTS_PORT")
    assert {f"{s.name} service" for s in catalog.DEPLOYED} <= set(stack.ports(local))
    assert set(catalog.names()) <= set(ready.checks(local))
    assert "http://127.0.0.1:18001" in ready.summary(local, 1.0)
    port = local.service_ports["catalogue"]
    assert f"website        http://127.0.0.1:{port}/" in ready.summary(local, 1.0)


def test_check_ports_names_a_taken_port_and_what_to_set(monkeypatch, capsys):
    monkeypatch.setenv("MLP_KAFKA_BOOTSTRAP", "kafka.example.org:9092")  # no local broker
    monkeypatch.setenv("MLP_MONGO_URI", "mongodb://mongo.example.org/")  # nor MongoDB
    monkeypatch.setenv("MLP_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("MLP_EVENTS_PORT", str(free_port()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("MLP_INVITATIONS_PORT", str(taken.getsockname()[1]))
        assert main(["check-ports"]) == 1
    err = capsys.readouterr().err
    assert "(invitations service) is already in use" in err
    assert "set MLP_INVITATIONS_PORT" in err


def test_an_unknown_command_prints_the_usage(capsys):
    assert main(["serve", "redis"]) == 2
    assert "usage: python -m deploy.local" in capsys.readouterr().err


def test_the_procfile_runs_every_catalogued_service_and_the_infrastructure():
    entries = parse_procfile((LOCAL / "Procfile").read_text()).processes
    expected = {"kafka", "smtp", "ready", *(f"mongo-{name}" for name in catalog.names())}
    expected |= {f"{s.name}-{role}" for s in catalog.DEPLOYED for role in ("web", "worker")}
    assert set(entries) == expected
    for s in catalog.DEPLOYED:
        assert entries[f"{s.name}-web"].endswith(
            f"--bind 127.0.0.1:${{MLP_{s.upper}_PORT:-{s.port}}}"
        )
    for what in SERVED:
        assert entries[what] == (
            f".venv/bin/python -m deploy.local keep {what} -- "
            f".venv/bin/python -m deploy.local serve {what}"
        )
    assert manifests.PROCFILE == LOCAL / "Procfile"


def _local_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.split(".")[2] for n in names if n.startswith("deploy.local.")}
    return found - {path.stem}


def test_deploy_local_has_no_import_cycle():
    graph = {p.stem: _local_imports(p) for p in LOCAL.glob("*.py")}
    graph = {k: {m for m in v if m in graph} for k, v in graph.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join((*path, module)))
        if module not in done:
            for imported in graph[module]:
                visit(imported, (*path, module))
            done.add(module)

    for module in graph:
        visit(module, ())


def test_run_hands_honcho_the_generated_procfile_and_the_stacks_environment(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(stack.os, "execve", lambda *args: calls.append(args))
    monkeypatch.setattr(stack.os, "chdir", lambda path: calls.append(path))
    monkeypatch.setattr(stack, "ROOT", tmp_path)
    stack.run(LocalStack.from_environ({"MLP_KAFKA_PORT": "19092"}))
    [root, (honcho, argv, env)] = calls
    assert root == tmp_path and (tmp_path / "var").is_dir()
    assert argv[1:] == ["-f", str(LOCAL / "Procfile"), "-d", str(tmp_path), "start"]
    assert honcho.endswith("/honcho")
    assert env["MLP_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert env["MLP_INVITATIONS_MONGO_URI"] == config.local_mongo_uri(27019)
