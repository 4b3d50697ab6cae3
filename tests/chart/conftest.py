"""The real Helm 4 binary and the chart rendered with it, shared by the chart tests.

Every `helm template` of a given set of values runs once per session (a run takes ~0.2 s);
tests read the parsed objects.
"""

from __future__ import annotations

import copy
import functools
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
import yaml

from kafkatrade.stack.provision import ensure_helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "kafkatrade"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "kafkatrade"
NAMESPACE = "kafkatrade"

# The workload kinds whose pod templates the tests inspect.
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def find_helm() -> Path:
    """Helm 4 from the project's provisioning (built once into the tool cache)."""
    return ensure_helm(Path(os.environ.get("KAFKATRADE_CACHE_DIR", REPO / ".cache")))


@pytest.fixture(scope="session")
def helm() -> Path:
    try:
        binary = find_helm()
    except Exception as error:  # provisioning failed: say why, do not skip
        pytest.fail(f"Helm 4 is needed for the chart tests and could not be built: {error}")
    if not binary.is_file():
        pytest.fail(
            f"Helm 4 is needed for the chart tests: {binary} is missing; build it with "
            "`GOBIN=$PWD/.cache/bin go install helm.sh/helm/v4/cmd/helm@v4.3.2`"
        )
    return binary


def load_values(*files: Path) -> dict:
    """values.yaml deep-merged with the given files, as Helm merges them."""
    merged = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in files:
        _merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def _merge(base: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


@dataclass(frozen=True)
class Rendered:
    """The objects of one `helm template`."""

    objects: tuple[dict, ...]
    values: dict = field(hash=False)

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def workloads(self) -> list[dict]:
        return [o for o in self.objects if o["kind"] in WORKLOADS]

    def containers(self) -> Iterator[tuple[dict, dict, dict]]:
        """(workload, pod spec, container) for every container and init container."""
        for workload in self.workloads():
            pod = workload["spec"]["template"]["spec"]
            for container in pod.get("initContainers", []) + pod["containers"]:
                yield workload, pod, container


class Chart:
    """Runs Helm on the chart; each distinct command runs once per session."""

    def __init__(self, helm: Path):
        self.helm = helm

    def lint(self, *args: str) -> subprocess.CompletedProcess:
        return self._run("lint", "--strict", str(CHART), *args)

    @functools.cache  # noqa: B019 - the Chart lives for the whole session
    def render(self, *files: Path, sets: tuple[tuple[str, str], ...] = ()) -> Rendered:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        for path in files:
            args += ["-f", str(path)]
        for key, value in sets:
            args += ["--set", f"{key}={value}"]
        result = self._run(*args)
        assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
        objects = tuple(o for o in yaml.safe_load_all(result.stdout) if o)
        values = load_values(*files)
        for key, value in sets:  # good enough for the scalar --set of the tests
            node = values
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = yaml.safe_load(value)
        return Rendered(objects, values)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.helm), *args], capture_output=True, text=True, timeout=60, check=False
        )


@pytest.fixture(scope="session")
def chart(helm: Path) -> Chart:
    return Chart(helm)


@pytest.fixture(scope="session", params=CI_VALUES, ids=lambda p: p.stem)
def ci_values(request) -> Path:
    """Each configuration of helm/kafkatrade/ci/ the chart is tested in."""
    return request.param


@pytest.fixture(scope="session")
def rendered(chart: Chart, ci_values: Path) -> Rendered:
    return chart.render(ci_values)


def ci(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"


def fullname(component: str) -> str:
    return f"{RELEASE}-{component}" if component else RELEASE


def check_documented(obj: dict, schema: dict) -> None:
    """`obj` has every field its documentation requires (`schema`: the required fields only)."""
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(obj), key=str)
    where = f"{obj['kind']} {obj['metadata']['name']}"
    assert not errors, f"{where}: " + "; ".join(
        f"{e.message} at {'.'.join(map(str, e.absolute_path))}" for e in errors
    )
