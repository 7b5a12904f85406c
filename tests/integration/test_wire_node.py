"""The Node client's own test suite (node --test), run by `make test` like every other test."""

import shutil
import subprocess
from pathlib import Path

import pytest

NODE_CLIENT = Path(__file__).resolve().parent.parent.parent / "clients" / "node"

pytestmark = pytest.mark.slow


def ensure_node_client() -> str:
    """``node`` on PATH with the client's dependencies installed (``npm ci`` from the lock when missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js 20+ and npm are needed for clients/node (see README)"
    if not (NODE_CLIENT / "node_modules" / "@aws-sdk" / "client-sqs").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_CLIENT)], check=True, timeout=600)
    return node


def test_the_node_client_suite_passes() -> None:
    node = ensure_node_client()

    result = subprocess.run(
        [node, "--test", "test/"], cwd=NODE_CLIENT, capture_output=True, text=True, timeout=300, check=False
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
