"""Installs the local stack's tools into the cache folder (`settings.cache_dir`).

Each `ensure_*` is idempotent and cheap when the tool is already there, so `stack up` can call
them every time. Downloads and builds land in a temporary folder first and are renamed into
place at the end: an interrupted run never leaves something that looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from kafkatrade.stack.errors import MissingPrerequisite, ProvisioningError

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"
FERRETDB_VERSION = "v1.24.2"
HELM_VERSION = "v4.3.2"

# What to install when a tool is missing, one line each.
_INSTALL_HINTS = {
    "java": "install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)",
    "mvn": "install Apache Maven 3.6+ (Debian: apt-get install maven)",
    "go": "install Go 1.22+ (https://go.dev/dl/, or Debian: apt-get install golang)",
    "prometheus": "install Prometheus 2.x (Debian: apt-get install prometheus)",
    "promtool": "install Prometheus 2.x, with promtool (Debian: apt-get install prometheus)",
}


def require(tool: str) -> str:
    """The full path of `tool` on PATH, or MissingPrerequisite saying what to install."""
    found = shutil.which(tool)
    if found is None:
        raise MissingPrerequisite(f"{tool} not found: {_INSTALL_HINTS.get(tool, 'install it')}")
    return found


def _run(argv: Sequence[str], what: str, *, cwd: Path | None = None, env: dict | None = None):
    """Runs a provisioning command; on failure, ProvisioningError with its last output line."""
    result = subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        last = output[-1] if output else f"exit status {result.returncode}"
        raise ProvisioningError(f"{what} failed: {last} (command: {' '.join(argv)})")
    return result


def kafka_libs(cache_dir: Path) -> Path:
    """The folder of Kafka's jars (the broker's class path) inside the cache."""
    return cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"


def ensure_kafka(cache_dir: Path) -> Path:
    """The folder of the Apache Kafka broker and tools jars, resolved from Maven Central once.

    Also checks that `java` is there: nothing else in the stack can work without it.
    """
    require("java")
    libs = kafka_libs(cache_dir)
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
        return libs
    mvn = require("mvn")
    log.info("provisioning Kafka %s jars with Maven (first run only)…", KAFKA_VERSION)
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kafka-", dir=cache_dir) as tmp:
        # The pom is copied out of the package so Maven never writes into the source tree.
        pom = Path(tmp) / "pom.xml"
        pom.write_bytes(resources.files("kafkatrade.stack").joinpath("kafka-pom.xml").read_bytes())
        staged = Path(tmp) / "libs"
        _run(
            [
                mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={staged}",
                f"-Dkafka.version={KAFKA_VERSION}",
            ],
            f"resolving Kafka {KAFKA_VERSION} with Maven",
        )  # fmt: skip
        if libs.exists():  # left by an older, incomplete layout
            shutil.rmtree(libs)
        staged.rename(libs)
    log.info("Kafka %s jars ready in %s", KAFKA_VERSION, libs)
    return libs


def _version_output(argv: Sequence[str]) -> str:
    """The output of a `--version` style command, or "" if it fails to run."""
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    return result.stdout + result.stderr if result.returncode == 0 else ""


def ensure_ferretdb(cache_dir: Path) -> Path:
    """The FerretDB binary (`<cache>/bin/ferretdb`), built from the Go module proxy once."""
    binary = cache_dir / "bin" / "ferretdb"
    if f"version: {FERRETDB_VERSION}" in _version_output([str(binary), "--version"]):
        return binary
    go = require("go")
    log.info("building FerretDB %s with Go (first run only, a few minutes)…", FERRETDB_VERSION)
    module = "github.com/FerretDB/FerretDB"
    download = _run(
        [go, "mod", "download", "-json", f"{module}@{FERRETDB_VERSION}"],
        f"downloading FerretDB {FERRETDB_VERSION}",
    )
    module_dir = Path(json.loads(download.stdout)["Dir"])
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ferretdb-", dir=cache_dir) as tmp:
        # Why not `go install …/cmd/ferretdb@v1.24.2`: FerretDB embeds
        # build/version/version.txt, which its release build fills from `git describe`; in the
        # module zip that file is not a version, and the binary panics at start with "Invalid
        # build/version/version.txt file content". So we build from a writable copy of the
        # module with the file written, and without VCS stamping (the copy is no repository).
        source = Path(tmp) / "src"
        shutil.copytree(module_dir, source)
        for path in [source, *source.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        (source / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
        staged_bin = Path(tmp) / "bin"
        _run(
            [go, "install", "-buildvcs=false", "./cmd/ferretdb"],
            f"building FerretDB {FERRETDB_VERSION}",
            cwd=source,
            env=os.environ | {"GOBIN": str(staged_bin)},
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        (staged_bin / "ferretdb").replace(binary)
    log.info("FerretDB %s ready at %s", FERRETDB_VERSION, binary)
    return binary


def ensure_prometheus() -> tuple[Path, Path]:
    """The `prometheus` server and `promtool` from PATH (Debian's `prometheus` package); the
    tests of the metrics, the alert rules and the dashboard run them. Nothing is built here:
    the package needs root, so CI (`.ci/run`) installs it."""
    return Path(require("prometheus")), Path(require("promtool"))


def ensure_helm(cache_dir: Path) -> Path:
    """The Helm 4 binary (`<cache>/bin/helm`), built from the Go module proxy once."""
    binary = cache_dir / "bin" / "helm"
    # A `go install` build reports only major.minor ("v4.3"): the patch level is stamped by
    # Helm's release Makefile through -ldflags.
    minor = HELM_VERSION.rsplit(".", 1)[0]
    if _version_output([str(binary), "version", "--short"]).startswith(minor):
        return binary
    go = require("go")
    log.info("building Helm %s with Go (first run only, a few minutes)…", HELM_VERSION)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".helm-", dir=cache_dir) as tmp:
        _run(
            [go, "install", f"helm.sh/helm/v4/cmd/helm@{HELM_VERSION}"],
            f"building Helm {HELM_VERSION}",
            env=os.environ | {"GOBIN": tmp},
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        (Path(tmp) / "helm").replace(binary)
    log.info("Helm %s ready at %s", HELM_VERSION, binary)
    return binary
