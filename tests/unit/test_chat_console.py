"""``python -m scripts.chat --help`` answers without starting anything."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_chat_help_prints_usage_and_starts_no_stack(tmp_path: Path) -> None:
    endpoints = tmp_path / ".stack" / "endpoints.json"
    environ = {**os.environ, "CHARLA_STACK_FILE": str(endpoints)}

    result = subprocess.run(
        [sys.executable, "-m", "scripts.chat", "--help"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: make chat")
    assert "Starting the local stack" not in result.stdout
    assert not endpoints.parent.exists()
