"""README's performance paragraph quotes docs/benchmarks.json exactly: every figure, met or not.

`make bench` regenerates both; this test fails when one is edited or rerun without the other."""

import json
from pathlib import Path

from bench.readme import END, START, performance_block, why_unmet

ROOT = Path(__file__).resolve().parents[2]


def test_readme_quotes_every_figure_of_the_last_full_run() -> None:
    report = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, "README lost its generated benchmark block"
    block = START + readme.split(START, 1)[1].split(END, 1)[0] + END
    assert block == performance_block(report), "README's figures differ from docs/benchmarks.json: rerun make bench"


def test_the_block_names_the_run_and_every_unmet_goal() -> None:
    report = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    block = performance_block(report)
    assert f"`{report['command']}`" in block and report["generated_at"] in block
    for figure in report["figures"]:
        line = next(line for line in block.splitlines() if line.startswith(f"- {figure['number']}. "))
        assert ("**goal not met**" in line) is (not figure["goal_met"]), line
        assert (" Why: " in line) is (not figure["goal_met"]), line  # an unmet goal says why, plainly
        if not figure["goal_met"]:
            assert why_unmet(figure)[:60] in line
