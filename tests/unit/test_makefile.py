"""The first hour with ``make``: a too-old Python is named at once, a venv it made is rebuilt,
``make demo`` needs no Node, ``make clean`` leaves nothing behind, ``make help`` lists ``stop``.

Real ``make`` against this Makefile, with the venv in a temporary directory.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD_PYTHON = next((str(p) for p in sorted(Path("/root/.pyenv/versions").glob("3.10*/bin/python3"))), None) or next(
    (p for p in [shutil.which("python3.10")] if p and "shims" not in p), None
)
needs_old_python = pytest.mark.skipif(OLD_PYTHON is None, reason="no Python 3.10 on this machine")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


@needs_old_python
def test_python_older_than_3_11_is_named_in_one_line_before_anything_is_installed(tmp_path: Path) -> None:
    assert OLD_PYTHON
    venv = tmp_path / ".venv"

    result = make("install-python", f"PYTHON={OLD_PYTHON}", f"VENV={venv}")

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if not line.startswith("make:")]
    assert message.startswith("charla needs Python 3.11+") and "3.10" in message
    assert result.stdout == ""  # no pip, no 60 lines ending in "No matching distribution"
    assert not venv.exists()


@pytest.mark.slow
@needs_old_python
def test_a_venv_made_by_an_old_python_is_rebuilt(tmp_path: Path) -> None:
    assert OLD_PYTHON
    venv = tmp_path / ".venv"
    subprocess.run([OLD_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)

    result = make("venv", f"VENV={venv}")

    assert result.returncode == 0, result.stderr
    assert "too old for charla: rebuilding it" in result.stdout
    version = subprocess.run([venv / "bin" / "python", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split()[1] >= "3.11"


def test_demo_and_chat_need_only_the_python_side_and_help_lists_stop() -> None:
    plan = make("-n", "demo", "VENV=/nonexistent/.venv").stdout

    assert "npm" not in plan  # make demo runs without Node
    assert "make stop" in make("help").stdout


def test_clean_removes_node_modules_egg_info_and_the_stack_directory() -> None:
    plan = make("-n", "clean").stdout

    for leftover in ("node_modules", "clients/node/node_modules", "*.egg-info", ".stack", "__pycache__"):
        assert leftover in plan, leftover
