"""The images: skaffold builds exactly the images/ folders the chart runs, each Dockerfile's
base is pinned, its user is not root, and its entrypoint command exists.

No container engine runs here: the Dockerfiles are read, and their commands are run from the
installed package (the same console script the images install).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import CHART, REPO, Chart

IMAGES = REPO / "images"
SERVICES = sorted(p.name for p in IMAGES.iterdir() if (p / "Dockerfile").is_file())
SKAFFOLD = yaml.safe_load((REPO / "skaffold.yaml").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    result = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def exec_form(arguments: str) -> list[str]:
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def kafkatrade() -> Path:
    """The `kafkatrade` console script of the environment running the tests (.venv)."""
    script = Path(sys.executable).parent / "kafkatrade"
    assert script.is_file(), f"{script} is missing: install the package (pip install -e .)"
    return script


def run_help(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(kafkatrade()), *command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_there_is_one_image_per_service():
    assert SERVICES == ["bot", "dbservice", "downloader"]


def test_skaffold_artifacts_images_folders_and_chart_values_agree():
    artifacts = {a["image"]: a for a in SKAFFOLD["build"]["artifacts"]}
    release = SKAFFOLD["deploy"]["helm"]["releases"][0]
    templates = release["setValueTemplates"]

    assert SKAFFOLD["apiVersion"].startswith("skaffold/v4beta")
    assert (REPO / release["chartPath"]) == CHART
    # One artifact per images/ folder, built from that folder's Dockerfile at the root.
    assert sorted(artifacts) == sorted(f"kafkatrade-{s}" for s in SERVICES)
    for service in SERVICES:
        artifact = artifacts[f"kafkatrade-{service}"]
        assert artifact["context"] == "."
        assert artifact["docker"]["dockerfile"] == f"images/{service}/Dockerfile"
        # The chart's default repository is the artifact's name...
        assert VALUES[service]["image"]["repository"] == artifact["image"]
        # ...and skaffold sets it, and the tag, to what it just built (`-` becomes `_`).
        variable = artifact["image"].replace("-", "_").replace("/", "_")
        assert templates[f"{service}.image.repository"] == f"{{{{.IMAGE_REPO_{variable}}}}}"
        assert templates[f"{service}.image.tag"] == f"{{{{.IMAGE_TAG_{variable}}}}}"
    assert set(templates) == {f"{s}.image.{f}" for s in SERVICES for f in ("repository", "tag")}


def test_skaffold_kind_profile_loads_images_without_pushing():
    (kind,) = [p for p in SKAFFOLD["profiles"] if p["name"] == "kind"]
    patches = {p["path"]: p["value"] for p in kind["patches"]}
    assert patches["/build/local/push"] is False
    assert patches["/deploy/helm/releases/0/setValues"] == {"image.pullPolicy": "IfNotPresent"}


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_base_is_pinned_by_version_and_digest(service):
    bases = [
        args.split()[0]
        for keyword, args in instructions(IMAGES / service / "Dockerfile")
        if keyword == "FROM"
    ]
    assert len(bases) >= 2, "multi-stage: a build stage and a runtime stage"
    for base in bases:
        # python:3.11.N-slim-<debian>@sha256:<64 hex>: a full version, never a moving tag alone.
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+@sha256:[0-9a-f]{64}", base), base
    assert len(set(bases)) == 1, "build and runtime on the same base"


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_runs_as_a_numeric_non_root_user(service):
    users = [
        args for keyword, args in instructions(IMAGES / service / "Dockerfile") if keyword == "USER"
    ]
    assert users, "no USER: the image would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, users[-1]
    assert not group or (group.isdigit() and int(group) != 0), users[-1]
    # The chart runs the pods as that same user.
    assert VALUES["podSecurityContext"]["runAsUser"] == int(user)


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_installs_the_wheel_and_labels_the_image(service):
    dockerfile = IMAGES / service / "Dockerfile"
    text = dockerfile.read_text()
    assert "pip wheel" in text and ".whl" in text
    # What it copies from the context is in the context: .dockerignore is an allow-list.
    allowed = {
        line[1:].strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for keyword, args in instructions(dockerfile):
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert source.rstrip("/") in allowed, source
                assert (REPO / source).exists(), source
    for label in (
        "title",
        "description",
        "version",
        "source",
        "licenses",
        "base.name",
        "base.digest",
    ):
        assert f"org.opencontainers.image.{label}=" in text, label


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_entrypoint_command_exists(service):
    steps = instructions(IMAGES / service / "Dockerfile")
    entrypoint = exec_form(next(a for k, a in reversed(steps) if k == "ENTRYPOINT"))
    command = exec_form(next(a for k, a in reversed(steps) if k == "CMD"))

    assert Path(entrypoint[0]).name == "kafkatrade"
    assert command == [service]
    result = run_help(*entrypoint[1:], *command)
    assert result.returncode == 0, result.stderr
    assert "--instance" in result.stdout


@pytest.mark.helm
def test_every_command_the_chart_runs_exists(chart: Chart):
    rendered = chart.render()
    ours = {VALUES[s]["image"]["repository"] for s in SERVICES}
    options: dict[tuple[str, ...], set[str]] = {}
    for _, _, container in rendered.containers():
        if container["image"].split(":")[0] in ours:
            args = container["args"]
            command = tuple(args[:2] if args[0] == "symbols" else args[:1])
            options.setdefault(command, set()).update(a for a in args if a.startswith("--"))
    assert set(options) == {
        ("downloader",),
        ("bot",),
        ("dbservice",),
        ("market",),
        ("symbols", "publish"),
    }
    for command, flags in sorted(options.items()):
        result = run_help(*command)
        assert result.returncode == 0, f"kafkatrade {' '.join(command)}: {result.stderr}"
        for flag in flags:  # every option the chart passes is one the command knows
            assert flag in result.stdout, f"kafkatrade {' '.join(command)} has no {flag}"
