"""The Kubernetes manifests (deploy/k8s): every file parses, the base and the
rendered example overlay have the objects each service needs with the required
fields, probes hit real routes of the app, images and ports agree. Each check is
shown to fail on a deliberately broken copy."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.checks import check_k8s, check_k8s_provisioning, check_kustomization

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def _load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def base_docs() -> list[dict]:
    docs = []
    for path in sorted((K8S / "base").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += _load(path)
    return docs


def test_every_manifest_parses_and_kustomizations_name_existing_files():
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        assert all(isinstance(d, dict) and "kind" in d for d in _load(path)), path
    for path in K8S.rglob("kustomization.yaml"):
        assert check_kustomization(path) == []


def test_probes_point_at_real_routes(service_routes):
    assert {"/healthz", "/readyz", "/metrics"} <= service_routes


def test_base_is_sound(service_routes):
    assert check_k8s(base_docs(), service_routes) == []
    assert check_k8s_provisioning(base_docs()) == []


def test_the_provisioning_jobs_apply_the_checked_in_acl_model():
    from deploy.acls import MODEL_FILE

    [acl_config] = [d for d in base_docs() if d["kind"] == "ConfigMap"]
    assert acl_config["data"] == {"kafka-acls.json": MODEL_FILE.read_text()}


def test_the_provisioning_checker_reports_a_missing_job_and_a_model_not_applied():
    docs = copy.deepcopy(base_docs())
    kafka_init = _find(docs, "Job", "kafka-init")
    kafka_init["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "python",
        "-m",
        "shared.bus",
        "provision",
    ]
    docs.remove(_find(docs, "Job", "mongo-init"))
    problems = check_k8s_provisioning(docs)
    assert problems == [
        "kafka-init: does not apply the ACL model (['python', '-m', 'shared.bus', 'provision'])",
        "no mongo-init Job",
    ]


def _rendered_overlay() -> list[dict]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / "example")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


def test_example_overlay_renders_and_is_sound(service_routes):
    docs = _rendered_overlay()
    assert check_k8s(docs, service_routes, rendered=True) == []
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"mlp-ops"}
    for d in docs:
        if d["kind"] == "Deployment":
            image = d["spec"]["template"]["spec"]["containers"][0]["image"]
            assert image.startswith("registry.example.org/mlp-ops/") and image.endswith(":1.0.0")


def _find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _web(docs):
    return _find(docs, "Deployment", "events-web")["spec"]["template"]["spec"]["containers"][0]


def _worker(docs):
    return _find(docs, "Deployment", "events-worker")["spec"]["template"]["spec"]["containers"][0]


def _env(container, name):
    return next(e for e in container["env"] if e["name"] == name)


BREAKAGES = {
    "readinessProbe path /ready is no route": lambda d: _web(d)["readinessProbe"]["httpGet"].update(
        path="/ready"
    ),
    "liveness probe is not /healthz": lambda d: _web(d)["livenessProbe"]["httpGet"].update(
        path="/metrics"
    ),
    "livenessProbe port web undeclared": lambda d: _web(d)["livenessProbe"]["httpGet"].update(
        port="web"
    ),
    "no memory limits": lambda d: _web(d)["resources"]["limits"].pop("memory"),
    "selector does not match": lambda d: _find(d, "Deployment", "events-worker")["spec"][
        "selector"
    ]["matchLabels"].update({"app.kubernetes.io/component": "web"}),
    "pods may run as root": lambda d: _find(d, "Deployment", "events-web")["spec"]["template"][
        "spec"
    ].pop("securityContext"),
    "lacks ['apiVersion']": lambda d: d[0].pop("apiVersion"),
    "web and worker Deployments required": lambda d: d.remove(
        _find(d, "Deployment", "events-worker")
    ),
    "does not listen on 8001": lambda d: _web(d)["ports"][0].update(containerPort=8080),
    "MLP_JWT_SECRET does not come from a Secret": lambda d: _web(d)["env"].__setitem__(
        -1, {"name": "MLP_JWT_SECRET", "value": "plain"}
    ),
    "events-worker: MLP_INTERNAL_TOPIC_KEYS does not come from a Secret": lambda d: _find(
        d, "Deployment", "events-worker"
    )["spec"]["template"]["spec"]["containers"][0].update(env=[]),
    "are not mlp-ops/events": lambda d: _web(d).update(image="mlp-ops/other:dev"),
    "Service events: selector matches no web pod": lambda d: _find(d, "Service", "events")["spec"][
        "selector"
    ].update({"app.kubernetes.io/component": "worker"}),
    "targetPort metrics unknown": lambda d: _find(d, "Service", "events")["spec"]["ports"][
        0
    ].update(targetPort="metrics"),
    "no PodDisruptionBudget": lambda d: d.remove(_find(d, "PodDisruptionBudget", "events-web")),
    "targets events-worker": lambda d: _find(d, "HorizontalPodAutoscaler", "events-web")["spec"][
        "scaleTargetRef"
    ].update(name="events-worker"),
    "bad replica bounds": lambda d: _find(d, "HorizontalPodAutoscaler", "events-web")[
        "spec"
    ].update(minReplicas=20),
    "events-worker: MLP_KAFKA_USERNAME is not svc-events": lambda d: _env(
        _worker(d), "MLP_KAFKA_USERNAME"
    ).update(value="svc-notifications"),
    "events-worker: MLP_KAFKA_PASSWORD does not come from a Secret": lambda d: _worker(d)[
        "env"
    ].remove(_env(_worker(d), "MLP_KAFKA_PASSWORD")),
    "Deployment events-web: MLP_MONGO_PASSWORD is written in the manifest": lambda d: _env(
        _web(d), "MLP_MONGO_PASSWORD"
    ).update(value="hunter2"),
    "events-web: holds a Kafka password it never uses": lambda d: _web(d)["env"].append(
        _env(_worker(d), "MLP_KAFKA_PASSWORD")
    ),
    "Job mongo-init: pods may run as root": lambda d: _find(d, "Job", "mongo-init")["spec"][
        "template"
    ]["spec"].pop("securityContext"),
}


@pytest.mark.parametrize("expected", list(BREAKAGES))
def test_k8s_checker_reports_a_breakage(service_routes, expected):
    docs = copy.deepcopy(base_docs())
    BREAKAGES[expected](docs)
    problems = check_k8s(docs, service_routes)
    assert any(expected in p for p in problems), problems


def test_rendered_checker_reports_dangling_config_and_secret(service_routes):
    docs = _rendered_overlay()
    without_secret = [d for d in docs if d["kind"] != "Secret"]
    assert any("Secret" in p for p in check_k8s(without_secret, service_routes, rendered=True))
    without_cm = [d for d in docs if d["kind"] != "ConfigMap"]
    assert any("ConfigMap" in p for p in check_k8s(without_cm, service_routes, rendered=True))


def test_kustomization_checker_reports_a_missing_resource(tmp_path):
    shutil.copytree(K8S, tmp_path / "k8s")
    (tmp_path / "k8s" / "base" / "events.yaml").unlink()
    problems = check_kustomization(tmp_path / "k8s" / "base" / "kustomization.yaml")
    assert problems == ["kustomization.yaml: resource events.yaml does not exist"]
