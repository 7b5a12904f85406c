"""`make bench-quick` as CI runs it: every figure is produced, with its ratios and goal, and the
report says which goals are not met. No timing is asserted: a shared CI machine's numbers drift."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = 7

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("bench")
    docs = ROOT / "docs" / "benchmarks.json"
    before = docs.read_bytes() if docs.exists() else None
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert (docs.read_bytes() if docs.exists() else None) == before, "bench-quick must not rewrite docs/"
    return output


def test_every_figure_is_produced_with_value_goal_and_command(quick_run: Path) -> None:
    report = json.loads((quick_run / "benchmarks.json").read_text())
    figures = report["figures"]
    assert [figure["number"] for figure in figures] == list(range(1, FIGURES + 1))
    for figure in figures:
        assert figure["value"] is not None, figure["limits"]
        assert figure["unit"] and figure["goal"] and figure["command"].startswith("python -m bench")
        assert isinstance(figure["goal_met"], bool)
        assert figure["samples"] > 0
    assert report["machine"]["cores"] and report["machine"]["python"]
    assert report["machine"]["packages"]["celery"] != "absent"


def test_figures_with_a_floor_or_alternative_report_the_ratio(quick_run: Path) -> None:
    figures = {f["number"]: f for f in json.loads((quick_run / "benchmarks.json").read_text())["figures"]}
    for number in (1, 2, 3, 4, 5):
        assert figures[number]["ratio_to_floor"] is not None, number
    for number in (1, 2, 3, 7):
        assert figures[number]["ratio_to_alternative"] is not None, number


def test_the_report_lists_unmet_goals_first_and_every_figure(quick_run: Path) -> None:
    report = (quick_run / "BENCHMARKS.md").read_text()
    figures = json.loads((quick_run / "benchmarks.json").read_text())["figures"]
    assert report.index("## Goals not met") < report.index("## Summary")
    for figure in figures:
        assert f"## {figure['number']}. {figure['name']}" in report
        if not figure["goal_met"]:
            assert f"**{figure['number']}. {figure['name']}**" in report.split("## Summary")[0]
    assert "ratios are the result" in report
