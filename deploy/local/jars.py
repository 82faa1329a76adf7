"""The Apache Kafka jars, fetched from Maven Central through ``pom.xml`` (next to
this file) and cached outside the repository in ``$MLP_CACHE_DIR`` (default
``~/.cache/mlp``) under ``kafka-<version>``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from deploy.local.errors import PrerequisiteError
from deploy.local.process import require_command
from shared.config import Env

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).resolve().parent / "pom.xml"


def cache_dir() -> Path:
    """The folder outside the repository where downloaded artefacts are kept."""
    return Path(Env().str("CACHE_DIR", str(Path.home() / ".cache" / "mlp")))


def kafka_libs_dir() -> Path:
    """The folder holding every jar the Kafka broker needs."""
    return cache_dir() / f"kafka-{KAFKA_VERSION}"


def ensure_kafka_jars() -> Path:
    """Fetch the Kafka jars into the cache unless they are there; return their folder.

    Maven downloads into a temporary sibling folder which is renamed into place only
    when complete, so a half download is never used.
    """
    libs = kafka_libs_dir()
    if libs.is_dir() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    require_command("java", "a Java 17+ runtime runs the local Kafka broker")
    mvn = require_command("mvn", "Maven fetches the Kafka jars from Maven Central")
    libs.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{libs.name}-", dir=libs.parent))
    try:
        print(f"Fetching Apache Kafka {KAFKA_VERSION} jars into {libs} ...", file=sys.stderr)
        result = subprocess.run(
            [mvn, "-q", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise PrerequisiteError(f"Maven could not fetch the Kafka jars:\n{tail}")
        try:
            tmp.rename(libs)
        except OSError:
            # Another process finished first; keep its copy.
            if not any(libs.glob("kafka_2.13-*.jar")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return libs
