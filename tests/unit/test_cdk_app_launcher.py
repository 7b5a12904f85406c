"""``cdk.json``'s app command finds the project's Python wherever the user installed it.

It used to hard-code ``.venv/bin/python``: a team on Poetry, conda or its own virtualenv got
"No such file or directory" from ``cdk synth``. The launcher prefers an active virtualenv, then
the checkout's ``.venv``, then ``python3`` on the PATH.
"""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fake_python(path: Path, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{name} $*"\n')
    path.chmod(0o755)


def _launch(cwd: Path, env: dict[str, str]) -> str:
    command = json.loads((ROOT / "cdk.json").read_text())["app"].split()
    result = subprocess.run(
        [*command[:-1], str(ROOT / command[-1])], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_the_app_command_names_no_fixed_interpreter() -> None:
    assert ".venv/bin/python" not in json.loads((ROOT / "cdk.json").read_text())["app"]


def test_an_active_virtualenv_wins_over_the_checkouts_venv(tmp_path: Path) -> None:
    _fake_python(tmp_path / ".venv" / "bin" / "python", "checkout")
    _fake_python(tmp_path / "poetry-env" / "bin" / "python", "active")
    env = {"PATH": os.environ["PATH"], "VIRTUAL_ENV": str(tmp_path / "poetry-env")}

    assert _launch(tmp_path, env) == "active -m infra.app"


def test_without_an_active_virtualenv_the_checkouts_venv_runs_the_app(tmp_path: Path) -> None:
    _fake_python(tmp_path / ".venv" / "bin" / "python", "checkout")

    assert _launch(tmp_path, {"PATH": os.environ["PATH"]}) == "checkout -m infra.app"


def test_with_neither_python3_on_the_path_runs_the_app(tmp_path: Path) -> None:
    _fake_python(tmp_path / "bin" / "python3", "system")
    (tmp_path / "work").mkdir()

    assert _launch(tmp_path / "work", {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}) == "system -m infra.app"
