"""Static checks of the deployment files for ``tests/deploy``: each returns a
list of problems (empty when sound), so a test can break a copy on purpose and
see the problem reported."""

from __future__ import annotations

import ast
import re
import shlex
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from deploy.catalog import DEPLOYED, OPTIONAL_FOLDERS, OPTIONAL_MODULES, SERVICE_MODULES

ROOT = Path(__file__).resolve().parents[2]
MLP_VAR = re.compile(r"\bMLP_[A-Z0-9_]+\b")
ONE_SHOT_RESTARTS = {"no", "on-failure", None}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SERVICE_NAMES = tuple(s.name for s in DEPLOYED)
SERVICE_PORTS = {s.name: s.port for s in DEPLOYED}
# A variable holding a credential: it must never have a value written in a file.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEYS?$")
REQUIRED_REFERENCE = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")
REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?+]?)")


DOCUMENTATION = ("README.md", "services/*/README.md", "docs/*.md", "shared/config.py")


def documented_variables(root: Path = ROOT) -> str:
    """The text that documents ``MLP_`` variables: the READMEs (the repository's
    and each service's), the guides in ``docs/`` and shared/config.py; a file
    that does not exist adds nothing."""
    paths = sorted({path for pattern in DOCUMENTATION for path in root.glob(pattern)})
    return "".join(_read(path) for path in paths)


def undocumented(names: set[str], documentation: str) -> list[str]:
    """``MLP_`` names not in ``documentation``; ``MLP_<SERVICE>_X`` counts as documented
    when ``MLP_EVENTS_X`` is (the per-service family may be documented once)."""
    known = set(MLP_VAR.findall(documentation))
    missing = []
    for name in sorted(names):
        generic = name
        for service in SERVICE_NAMES:
            generic = generic.replace(f"MLP_{service.upper()}_", "MLP_EVENTS_")
        if name not in known and generic not in known:
            missing.append(name)
    return missing


# --- a service folder --------------------------------------------------------

# What the deployment relies on in a service's modules: the catalogue reads the
# port, gunicorn calls create_app, the Procfile and the image run the worker.
DEFINES = {
    "config.py": ("DEFAULT_PORT", "load_settings"),
    "app.py": ("create_app",),
    "worker.py": ("main",),
}


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _runnable(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body
    )


def _declared(module: str) -> bool:
    return module in SERVICE_MODULES or any(fnmatch(module, kind) for kind in OPTIONAL_MODULES)


def check_service_folder(folder: Path) -> list[str]:
    """Problems of the layout of one service folder: a module of
    ``SERVICE_MODULES`` missing, a module or folder of none of the declared
    kinds, or a name the deployment relies on not defined."""
    service = folder.name
    problems = [f"{service}: no {n}" for n in SERVICE_MODULES if not (folder / n).is_file()]
    for path in sorted(folder.iterdir()):
        if path.name == "__pycache__":
            continue
        if path.is_dir():
            if path.name not in OPTIONAL_FOLDERS:
                kinds = ", ".join(OPTIONAL_FOLDERS)
                problems.append(f"{service}: folder {path.name}/ is none of {kinds}")
        elif path.suffix == ".py" and not _declared(path.name):
            kinds = ", ".join(OPTIONAL_MODULES)
            problems.append(f"{service}: module {path.name} is none of {kinds}")
    for name, required in DEFINES.items():
        path = folder / name
        if not path.is_file():
            continue
        try:
            tree = ast.parse(path.read_text(), str(path))
        except SyntaxError as exc:
            problems.append(f"{service}: {name} does not parse ({exc.msg})")
            continue
        for missing in sorted(set(required) - _defined(tree)):
            problems.append(f"{service}: {name} defines no {missing}")
        if name == "worker.py" and not _runnable(tree):
            problems.append(f"{service}: worker.py does not run as python -m")
    return problems


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

        for var, value in env.items():
            problems += _secret_value_problems(name, var, str(value))
        for volume in spec.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if source.startswith("./") and not (root / source).exists():
                problems.append(f"{name}: mounts {source}, which does not exist")

    text_vars: set[str] = set()
    _collect_vars(doc, text_vars)
    for var in undocumented(text_vars, documentation):
        problems.append(f"variable {var} is not documented ({', '.join(DOCUMENTATION)})")

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
    problems += _credential_problems(services)
    mongo = services.get("mongo") or {}
    mongo_cmd = _command(mongo.get("command"))
    replset = mongo_cmd[mongo_cmd.index("--replSet") + 1] if "--replSet" in mongo_cmd else None
    if replset is None:
        problems.append("mongo: not started as a replica set")
    if "--keyFile" not in mongo_cmd:
        problems.append("mongo: runs without a key file (so without authentication)")
    if "MONGO_INITDB_ROOT_PASSWORD" not in (mongo.get("environment") or {}):
        problems.append("mongo: no root user (MONGO_INITDB_ROOT_PASSWORD)")
    if mongo.get("ports"):
        problems.append("mongo: published on the host (use deploy/compose/mongo-on-host.yml)")
    for name, spec in services.items():
        uri = str((spec.get("environment") or {}).get("MLP_MONGO_URI", ""))
        if uri and f"replicaSet={replset}" not in uri:
            problems.append(f"{name}: MLP_MONGO_URI does not name replica set {replset}")
    return problems


def _secret_value_problems(service: str, var: str, value: str) -> list[str]:
    """A credential is only ever a required reference, ``${NAME:?...}``: no
    literal value, no default, in the file."""
    problems = []
    if SECRET_NAME.search(var) and not REQUIRED_REFERENCE.fullmatch(value):
        problems.append(f"{service}: {var} is not a required variable (${{NAME:?...}})")
    for ref, operator in REFERENCE.findall(value):
        if SECRET_NAME.search(ref) and operator != ":?":
            problems.append(f"{service}: {ref} may fall back to a default")
    return problems


def _credential_problems(services: dict[str, dict[str, Any]]) -> list[str]:
    """Kafka authenticates and authorises everyone, every service logs in with
    a principal of its own, and the provisioning step applies the ACL model."""
    problems = []
    kafka_env = (services.get("kafka") or {}).get("environment") or {}
    protocols = str(kafka_env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", ""))
    for entry in filter(None, protocols.split(",")):
        listener, _, protocol = entry.partition(":")
        if not protocol.startswith("SASL_"):
            problems.append(f"kafka: listener {listener} does not authenticate ({protocol})")
    if not protocols:
        problems.append("kafka: no KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")
    if "StandardAuthorizer" not in str(kafka_env.get("KAFKA_AUTHORIZER_CLASS_NAME", "")):
        problems.append("kafka: no authorizer, so no ACLs")
    if str(kafka_env.get("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "false")).lower() != "false":
        problems.append("kafka: allows everyone where no ACL is found")
    provisioning = [
        spec
        for spec in services.values()
        if _command(spec.get("command"))[:4] == ["python", "-m", "shared.bus", "provision"]
    ]
    if provisioning and not any("--acls" in _command(p.get("command")) for p in provisioning):
        problems.append("the provisioning step applies no ACL model (--acls)")
    for service in SERVICE_NAMES:
        principal = f"svc-{service}"
        for role in ("web", "worker"):
            env = (services.get(f"{service}-{role}") or {}).get("environment") or {}
            if env.get("MLP_MONGO_USERNAME") != principal or "MLP_MONGO_PASSWORD" not in env:
                problems.append(f"{service}-{role}: no MongoDB credentials of its own")
            kafka_login = env.get("MLP_KAFKA_USERNAME") == principal and "MLP_KAFKA_PASSWORD" in env
            if role == "worker" and not kafka_login:
                problems.append(f"{service}-worker: no Kafka credentials of its own")
            if role == "worker" and not str(env.get("MLP_KAFKA_SECURITY_PROTOCOL")).startswith(
                "SASL_"
            ):
                problems.append(f"{service}-worker: does not log in to Kafka (SASL)")
            if role == "web" and "MLP_KAFKA_PASSWORD" in env:
                problems.append(f"{service}-web: holds a Kafka password it never uses")
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


# --- Kubernetes ------------------------------------------------------------

REQUIRED_TOP = ("apiVersion", "kind", "metadata")


def _probe_path(container: dict[str, Any], probe: str) -> str | None:
    return ((container.get(probe) or {}).get("httpGet") or {}).get("path")


def _port_names(container: dict[str, Any]) -> dict[Any, int]:
    ports: dict[Any, int] = {}
    for port in container.get("ports") or []:
        ports[port.get("containerPort")] = port.get("containerPort")
        if "name" in port:
            ports[port["name"]] = port.get("containerPort")
    return ports


def check_k8s(
    docs: list[dict[str, Any]],
    routes: set[str],
    *,
    rendered: bool = False,
) -> list[str]:
    """Problems of a list of Kubernetes objects (the base, or a rendered overlay).

    ``routes`` are the URL rules of the services' apps (probes must hit real
    routes). ``rendered`` also requires every ConfigMap/Secret reference to
    resolve to an object in ``docs`` (kustomize renames generated ones).
    """
    from deploy.catalog import DEPLOYED

    problems: list[str] = []
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            problems.append(f"document {i} is not a mapping")
            continue
        missing = [k for k in REQUIRED_TOP if k not in doc]
        name = (doc.get("metadata") or {}).get("name")
        if missing or not name:
            lacks = missing or ["metadata.name"]
            problems.append(f"document {i} ({doc.get('kind')}) lacks {lacks}")
            continue
        by_kind.setdefault(doc["kind"], {})[name] = doc

    deployments = by_kind.get("Deployment", {})
    workloads = [("Deployment", n, d) for n, d in deployments.items()]
    workloads += [("Job", n, d) for n, d in by_kind.get("Job", {}).items()]
    for kind_name, name, dep in workloads:
        spec = dep.get("spec") or {}
        template = spec.get("template") or {}
        pod_labels = (template.get("metadata") or {}).get("labels") or {}
        match = (spec.get("selector") or {}).get("matchLabels") or {}
        if kind_name == "Deployment" and (
            not match or any(pod_labels.get(k) != v for k, v in match.items())
        ):
            problems.append(f"Deployment {name}: selector does not match its pod labels")
        pod = template.get("spec") or {}
        if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
            problems.append(f"{kind_name} {name}: pods may run as root")
        containers = pod.get("containers") or []
        if not containers:
            problems.append(f"{kind_name} {name}: no containers")
        for c in containers:
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for kind in ("cpu", "memory"):
                    if kind not in (res.get(part) or {}):
                        problems.append(f"{kind_name} {name}: no {kind} {part}")
            if not c.get("image"):
                problems.append(f"{kind_name} {name}: no image")
            for var in c.get("env") or []:
                if SECRET_NAME.search(var.get("name", "")) and "value" in var:
                    problems.append(f"{kind_name} {name}: {var['name']} is written in the manifest")
            ports = _port_names(c)
            for probe in ("readinessProbe", "livenessProbe"):
                get = (c.get(probe) or {}).get("httpGet")
                if get is None:
                    continue
                path = get.get("path")
                if path not in routes:
                    problems.append(f"Deployment {name}: {probe} path {path} is no route")
                if get.get("port") not in ports:
                    problems.append(f"Deployment {name}: {probe} port {get.get('port')} undeclared")
            if rendered:
                for ref in c.get("envFrom") or []:
                    cm = (ref.get("configMapRef") or {}).get("name")
                    if cm and cm not in by_kind.get("ConfigMap", {}):
                        problems.append(f"{kind_name} {name}: ConfigMap {cm} does not exist")
                    sr = (ref.get("secretRef") or {}).get("name")
                    if sr and sr not in by_kind.get("Secret", {}):
                        problems.append(f"{kind_name} {name}: Secret {sr} missing")
                for var in c.get("env") or []:
                    sk = ((var.get("valueFrom") or {}).get("secretKeyRef")) or {}
                    if sk:
                        secret = by_kind.get("Secret", {}).get(sk.get("name"))
                        if secret is None:
                            problems.append(f"{kind_name} {name}: Secret {sk.get('name')} missing")
                        elif sk.get("key") not in (secret.get("data") or {}):
                            problems.append(f"{kind_name} {name}: Secret key {sk['key']} missing")

    for s in DEPLOYED:
        web = deployments.get(f"{s.name}-web")
        worker = deployments.get(f"{s.name}-worker")
        if web is None or worker is None:
            problems.append(f"{s.name}: web and worker Deployments required")
            continue
        wc = web["spec"]["template"]["spec"]["containers"][0]
        kc = worker["spec"]["template"]["spec"]["containers"][0]
        if _probe_path(wc, "readinessProbe") != "/readyz":
            problems.append(f"{s.name}-web: readiness probe is not /readyz")
        if _probe_path(wc, "livenessProbe") != "/healthz":
            problems.append(f"{s.name}-web: liveness probe is not /healthz")
        if s.port not in _port_names(wc).values():
            problems.append(f"{s.name}-web: does not listen on {s.port}")
        env = {e["name"]: e for e in wc.get("env") or []}
        if (env.get(f"MLP_{s.upper}_PORT") or {}).get("value") != str(s.port):
            problems.append(f"{s.name}-web: MLP_{s.upper}_PORT is not {s.port}")
        if "secretKeyRef" not in ((env.get("MLP_JWT_SECRET") or {}).get("valueFrom") or {}):
            problems.append(f"{s.name}-web: MLP_JWT_SECRET does not come from a Secret")
        for role, container in (("web", wc), ("worker", kc)):
            keys = {e["name"]: e for e in container.get("env") or []}.get("MLP_INTERNAL_TOPIC_KEYS")
            if "secretKeyRef" not in ((keys or {}).get("valueFrom") or {}):
                problems.append(
                    f"{s.name}-{role}: MLP_INTERNAL_TOPIC_KEYS does not come from a Secret"
                )
        problems += _k8s_login_problems(s.name, wc, kc)
        if not any("configMapRef" in r for r in wc.get("envFrom") or []):
            problems.append(f"{s.name}-web: no ConfigMap reference")
        if wc.get("args") != ["web"] or kc.get("args") != ["worker"]:
            problems.append(f"{s.name}: web/worker entry points wrong")
        images = {_repository(wc.get("image", "")), _repository(kc.get("image", ""))}
        if len(images) != 1 or not next(iter(images)).endswith(s.image):
            problems.append(f"{s.name}: images {sorted(images)} are not {s.image}")

        svc = by_kind.get("Service", {}).get(s.name)
        web_labels = web["spec"]["template"]["metadata"]["labels"]
        if svc is None:
            problems.append(f"{s.name}: no Service")
        else:
            sel = svc["spec"].get("selector") or {}
            if not sel or any(web_labels.get(k) != v for k, v in sel.items()):
                problems.append(f"Service {s.name}: selector matches no web pod")
            for port in svc["spec"].get("ports") or []:
                if port.get("targetPort") not in _port_names(wc):
                    target = port.get("targetPort")
                    problems.append(f"Service {s.name}: targetPort {target} unknown")
                if port.get("port") != s.port:
                    problems.append(f"Service {s.name}: port {port.get('port')} is not {s.port}")
        pdb = by_kind.get("PodDisruptionBudget", {}).get(f"{s.name}-web")
        if pdb is None:
            problems.append(f"{s.name}: no PodDisruptionBudget for web")
        else:
            sel = (pdb["spec"].get("selector") or {}).get("matchLabels") or {}
            if not sel or any(web_labels.get(k) != v for k, v in sel.items()):
                problems.append(f"PodDisruptionBudget {s.name}-web: selects no web pod")
        hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(f"{s.name}-web")
        if hpa is None:
            problems.append(f"{s.name}: no HorizontalPodAutoscaler for web")
        else:
            ref = hpa["spec"].get("scaleTargetRef") or {}
            if ref.get("kind") != "Deployment" or ref.get("name") != f"{s.name}-web":
                problems.append(f"HorizontalPodAutoscaler {s.name}-web: targets {ref.get('name')}")
            if not 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"].get("maxReplicas", 0):
                problems.append(f"HorizontalPodAutoscaler {s.name}-web: bad replica bounds")
    return problems


def _k8s_login_problems(service: str, web: dict[str, Any], worker: dict[str, Any]) -> list[str]:
    """Each process logs in as the service's own principal, its passwords from a Secret."""
    problems = []
    principal = f"svc-{service}"
    for role, container, logins in (
        ("web", web, ("MONGO",)),
        ("worker", worker, ("MONGO", "KAFKA")),
    ):
        env = {e["name"]: e for e in container.get("env") or []}
        for system in logins:
            if (env.get(f"MLP_{system}_USERNAME") or {}).get("value") != principal:
                problems.append(f"{service}-{role}: MLP_{system}_USERNAME is not {principal}")
            secret = ((env.get(f"MLP_{system}_PASSWORD") or {}).get("valueFrom") or {}).get(
                "secretKeyRef"
            )
            if not secret:
                problems.append(
                    f"{service}-{role}: MLP_{system}_PASSWORD does not come from a Secret"
                )
        if role == "web" and "MLP_KAFKA_PASSWORD" in env:
            problems.append(f"{service}-web: holds a Kafka password it never uses")
    return problems


def check_k8s_provisioning(docs: list[dict[str, Any]]) -> list[str]:
    """The base provisions Kafka (topics, users, the ACL model) and MongoDB (a
    user per service) with one-shot Jobs."""
    jobs = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Job"}
    problems = []
    kafka_init = jobs.get("kafka-init")
    if kafka_init is None:
        problems.append("no kafka-init Job")
    else:
        args = kafka_init["spec"]["template"]["spec"]["containers"][0].get("args") or []
        if args[:4] != ["python", "-m", "shared.bus", "provision"] or "--acls" not in args:
            problems.append(f"kafka-init: does not apply the ACL model ({args})")
    if "mongo-init" not in jobs:
        problems.append("no mongo-init Job")
    return problems


def _repository(image: str) -> str:
    """The image without its tag or digest."""
    image = image.split("@", 1)[0]
    head, _, tail = image.rpartition(":")
    return head if head and "/" not in tail else image


def check_kustomization(path: Path) -> list[str]:
    """Every file a kustomization names exists."""
    import yaml

    doc = yaml.safe_load(path.read_text())
    problems = []
    for entry in doc.get("resources") or []:
        if not (path.parent / entry).exists():
            problems.append(f"{path.name}: resource {entry} does not exist")
    return problems
