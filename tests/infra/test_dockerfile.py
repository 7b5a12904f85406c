"""workers/celery_worker/Dockerfile, read as text (no image can be built here) and installed the way it installs.

The slow test repeats the builder stage in a fresh venv: the pinned requirements install, the
code the image copies (contract/, jobs/ and workers/ only) imports with the environment ECS sets, and
the entrypoint's celery command line is accepted.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from contract import environment as env
from infra.config import CharlaConfig
from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "workers" / "celery_worker" / "Dockerfile"
ENTRYPOINT = ROOT / "workers" / "celery_worker" / "docker-entrypoint.sh"
BUILD_TOOLS = ("gcc", "build-essential", "libc6-dev", "-dev ", "make ", "g++")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_every_stage_starts_from_python_312_slim_pinned_by_digest() -> None:
    stages = _stages()
    assert len(stages) >= 2, "multi-stage: build tools stay in the builder"
    for stage in stages:
        _keyword, argument = stage[0]
        assert re.fullmatch(r"python:3\.12[\w.-]*-slim[\w.-]*@sha256:[0-9a-f]{64}( AS \w+)?", argument), argument


def test_final_stage_has_no_build_tools_and_copies_the_builders_venv() -> None:
    final = _stages()[-1]
    for keyword, argument in final:
        if keyword == "RUN":
            assert not any(tool in argument + " " for tool in BUILD_TOOLS), argument
    copies = [argument for keyword, argument in final if keyword == "COPY"]
    assert any(c.startswith("--from=builder") for c in copies)
    assert {c.split()[0] for c in copies if not c.startswith("--from")} == {
        "contract/",
        "commands/",
        "jobs/",
        "workers/",
    }
    builder_runs = " ".join(argument for keyword, argument in _stages()[0] if keyword == "RUN")
    assert "requirements-worker.txt" in builder_runs and "libcurl4-openssl-dev" in builder_runs


def test_runs_as_a_non_root_user_and_celery_gets_sigterm() -> None:
    final = _stages()[-1]
    keywords = [keyword for keyword, _ in final]
    users = [argument for keyword, argument in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert ("STOPSIGNAL", "SIGTERM") in final
    for keyword in ("ENTRYPOINT", "CMD"):
        (argument,) = [a for k, a in final if k == keyword]
        assert isinstance(json.loads(argument), list), f"{keyword} must be exec form (a JSON array)"
    script = ENTRYPOINT.read_text()
    assert script.startswith("#!/bin/sh")
    assert re.search(r"^exec celery .*worker", script, re.MULTILINE), "exec: celery replaces the shell (PID 1)"
    assert f"${{{env.WORKER_QUEUES}}}" in script
    assert os.access(ENTRYPOINT, os.X_OK)


def _entrypoint_argv(tmp_path: Path, environment: dict[str, str], *args: str) -> list[str]:
    """The celery command line the entrypoint runs, caught by a ``celery`` on PATH that prints it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "celery"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    completed = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", env.WORKER_QUEUES: "replies", **environment},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return completed.stdout.splitlines()


def _option(argv: list[str], name: str) -> str:
    return argv[len(argv) - 1 - argv[::-1].index(name) + 1]  # the last one given wins, as in Celery


def test_the_entrypoint_passes_the_pool_kind_and_size_from_the_environment(tmp_path: Path) -> None:
    default = _entrypoint_argv(tmp_path, {})
    # The contract's defaults (the measured thread pool), the deploy's and cdk.json's agree with it.
    defaults = (env.DEFAULT_WORKER_POOL, str(env.DEFAULT_WORKER_CONCURRENCY))
    assert (_option(default, "--pool"), _option(default, "--concurrency")) == defaults == ("threads", "16")
    assert (CharlaConfig().worker_pool, str(CharlaConfig().worker_concurrency)) == defaults
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert (context["worker_pool"], str(context["worker_concurrency"])) == defaults
    chosen = _entrypoint_argv(tmp_path, {env.WORKER_POOL: "prefork", env.WORKER_CONCURRENCY: "2"})
    assert (_option(chosen, "--pool"), _option(chosen, "--concurrency")) == ("prefork", "2")
    assert _option(chosen, "--queues") == "replies"
    # Arguments to the container (ECS command) still win: they come after the environment's.
    overridden = _entrypoint_argv(tmp_path, {env.WORKER_POOL: "threads"}, "--pool", "solo")
    assert _option(overridden, "--pool") == "solo"


def test_the_health_check_counts_pool_processes_only_for_prefork(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.celery_worker import healthcheck

    monkeypatch.setenv(env.WORKER_CONCURRENCY, "64")  # more children than this test process has
    monkeypatch.setenv(env.WORKER_POOL, "prefork")
    assert healthcheck.main(["--pid", str(os.getpid())]) == 1
    monkeypatch.setenv(env.WORKER_POOL, "threads")
    assert healthcheck.main(["--pid", str(os.getpid())]) == 0


def test_dockerignore_sends_only_what_the_image_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!requirements-worker.txt", "!contract/", "!commands/", "!jobs/", "!workers/"} <= set(lines)


def _stand_in(name: str, value: object) -> str:
    """A plausible value for a variable whose template value is a token."""
    if isinstance(value, str):
        return value
    if name.startswith("CHARLA_QUEUE_URL_"):
        return f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name.lower()}"
    if name == "AWS_REGION":
        return "eu-west-1"
    return f"charla-test-{name.lower()}"


@pytest.mark.slow
def test_requirements_install_in_a_fresh_venv_and_the_worker_starts_from_the_image_layout(
    tmp_path: Path, synth: Synthesized
) -> None:
    # The builder stage: a fresh venv, pip install -r requirements-worker.txt (binary wheels here;
    # the image compiles pycurl against libcurl instead).
    venv_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(venv_dir)
    python = venv_dir / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(ROOT / "requirements-worker.txt"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    # The runtime stage's /app: contract/, commands/, jobs/ and workers/ only, nothing else from the repo.
    app = tmp_path / "app"
    for package in ("contract", "commands", "jobs", "workers"):
        shutil.copytree(ROOT / package, app / package, ignore=shutil.ignore_patterns("__pycache__"))
    # Exactly the variables the task definition sets (values are CloudFormation tokens there).
    (container,) = next(iter(synth.resources("AWS::ECS::TaskDefinition").values()))["Properties"][
        "ContainerDefinitions"
    ]
    environ = {
        "PATH": f"{venv_dir / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        **{item["Name"]: _stand_in(item["Name"], item["Value"]) for item in container["Environment"]},
        **{item["Name"]: "xoxb-test-not-a-token" for item in container["Secrets"]},
    }
    probe = subprocess.run(
        [str(python), "-c", "from workers.celery_worker.app import app; print(sorted(app.conf.task_routes))"],
        cwd=app,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert "ping" in probe.stdout
    # The entrypoint's celery command line parses (``--help`` exits before connecting).
    entry = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), "--help"],
        cwd=app,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert entry.returncode == 0, entry.stdout + entry.stderr
    assert "--concurrency" in entry.stdout
    assert sys.version_info >= (3, 11)  # the image runs 3.12; this checks the same pins on this interpreter
