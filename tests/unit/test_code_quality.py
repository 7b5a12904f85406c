"""ruff (lint, format, banned cross-room imports) and mypy stay clean: CI fails otherwise."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    lint = run("ruff", "check", ".")
    formatting = run("ruff", "format", "--check", ".")

    assert lint.returncode == 0, lint.stdout[-4000:]
    assert formatting.returncode == 0, formatting.stdout[-4000:]


def test_mypy_finds_nothing() -> None:
    checked = run("mypy", "contract", "lambda_handler", "workers", "scripts", "infra", "bench", "charla_cli")

    assert checked.returncode == 0, checked.stdout[-4000:]


def test_the_ingress_may_not_import_worker_code() -> None:
    probe = ROOT / "lambda_handler" / "_probe_banned_import.py"
    probe.write_text('"""A deliberate violation."""\n\nimport workers.celery_worker.app  # noqa: F401\n')
    try:
        result = run("ruff", "check", "--select", "TID251", str(probe))
    finally:
        probe.unlink()

    assert result.returncode != 0
    assert "lambda_handler must not import workers" in result.stdout


def test_the_console_script_may_not_import_a_room_or_the_harness() -> None:
    probe = ROOT / "charla_cli" / "_probe_banned_import.py"
    probe.write_text(
        '"""A deliberate violation."""\n\n'
        "import workers.celery_worker.heartbeat  # noqa: F401\nimport scripts.stack  # noqa: F401\n"
    )
    try:
        result = run("ruff", "check", "--select", "TID251", str(probe))
    finally:
        probe.unlink()

    assert result.returncode != 0
    assert "charla_cli reads what workers write through contract/" in result.stdout
    assert "scripts/ is the development harness" in result.stdout
