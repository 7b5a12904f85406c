"""`make bench-quick` as CI runs it: every figure is produced, with its ratios and goal, and the
report says which goals are not met. No timing is asserted: a shared CI machine's numbers drift."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = 9  # 9: the Lambda executor (bench/lambda_executor.py)

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
    for number in (1, 2, 3, 4):  # the same-effects floor: the framework's tax apart from the design's cost
        assert figures[number]["ratio_to_same_effects"] is not None, number
    for number in (1, 2, 3, 7):
        assert figures[number]["ratio_to_alternative"] is not None, number
    floors = {row["variant"].split(":")[0] for row in figures[3]["table"]}
    assert {"floor", "same-effects floor"} <= floors


def test_the_ingress_makes_one_aws_call_per_request(quick_run: Path) -> None:
    figures = {f["number"]: f for f in json.loads((quick_run / "benchmarks.json").read_text())["figures"]}
    warm = figures[2]["extra"]
    assert warm["aws_calls_per_request_max"] == 1 and warm["operations"].keys() == {"sqs.SendMessage"}
    # From the shipped bundle, the signing secret from Secrets Manager as in AWS: the physical floor's calls.
    calls = figures[1]["extra"]["aws_calls"]
    assert (
        calls["charla"] == calls["physical_floor"] == {"AmazonSQS.SendMessage": 1, "secretsmanager.GetSecretValue": 1}
    )
    assert figures[1]["extra"]["bundle"].startswith("asset.")
    assert figures[1]["extra"]["snapstart_after_restore_ms"]["median"] > 0


def test_the_budget_per_event_is_counted_and_holds(quick_run: Path) -> None:
    budget = {f["number"]: f for f in json.loads((quick_run / "benchmarks.json").read_text())["figures"]}[8]
    rows = {row["event"]: row for row in budget["table"]}
    command, archived = rows["command"], rows["archived message"]
    assert command["events"] > 0 and archived["events"] > 0
    assert command["ingress_aws_calls_max"] == 1 and archived["ingress_aws_calls_max"] == 1
    assert command["transactions_before_post_max"] == 1 and command["writes_before_post_max"] == 1
    assert command["writes_after_post_max"] == 1
    assert command["write_units_max"] <= 5
    assert archived["write_units_max"] <= 4  # one two-item transaction: the record and the author's count
    assert budget["goal_met"] is True, budget["limits"]


def test_sustained_load_reports_how_long_it_held_and_loses_nothing(quick_run: Path) -> None:
    sustained = {f["number"]: f for f in json.loads((quick_run / "benchmarks.json").read_text())["figures"]}[6]
    row = sustained["table"][0]
    assert row["held_s"] > 0 and row["events_sent"] > 0
    assert row["lost"] == 0 and row["duplicated"] == 0


def test_the_report_lists_unmet_goals_first_and_every_figure(quick_run: Path) -> None:
    report = (quick_run / "BENCHMARKS.md").read_text()
    figures = json.loads((quick_run / "benchmarks.json").read_text())["figures"]
    assert report.index("## Goals not met") < report.index("## Summary")
    for figure in figures:
        assert f"## {figure['number']}. {figure['name']}" in report
        if not figure["goal_met"]:
            assert f"**{figure['number']}. {figure['name']}**" in report.split("## Summary")[0]
    assert "ratios are the result" in report
    assert "same-effects floor" in report and "## 8. " in report
