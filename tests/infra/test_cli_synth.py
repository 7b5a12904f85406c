"""The real CDK CLI (pinned in package-lock.json) synthesizes the app, cdk-nag included."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.infra, pytest.mark.slow]


def test_cdk_synth_through_the_pinned_cli(tmp_path: Path) -> None:
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    if not cli.exists() and shutil.which("npm"):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, capture_output=True)
    out = tmp_path / "cdk.out"

    completed = subprocess.run(
        [str(cli), "synth", "--quiet", "--output", str(out)],
        check=False,
        cwd=ROOT,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    templates = list(out.glob("*.template.json"))
    assert templates, "no template synthesized"
    resources = json.loads(templates[0].read_text())["Resources"]
    assert any(r["Type"] == "AWS::ApiGatewayV2::Api" for r in resources.values())
