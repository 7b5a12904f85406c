"""The bench's own accounting: DynamoDB write units as billed, and a report that says which run
produced which figure. (The figures themselves are exercised by tests/e2e/test_bench_quick.py.)"""

from pathlib import Path

from bench.common import Figure, ProxiedCall, item_key, item_size, write_units
from bench.report import write_report

SMALL = {"pk": {"S": "EFFECT#t1"}, "sk": {"S": "EFFECT"}, "state": {"S": "held"}}


def _transaction(*items: dict) -> ProxiedCall:
    return ProxiedCall(0.0, "TransactWriteItems", {"TransactItems": list(items)})


def test_a_two_item_transaction_of_small_items_costs_four_write_units() -> None:
    call = _transaction(
        {"Put": {"TableName": "t", "Item": SMALL}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "CHANNELS#T"}, "sk": {"S": "C1"}}}},
    )
    assert write_units(call, {}) == 4


def test_a_plain_update_costs_one_and_a_large_item_costs_per_started_kilobyte() -> None:
    update = ProxiedCall(0.0, "UpdateItem", {"Key": {"pk": {"S": "EFFECT#t1"}, "sk": {"S": "EFFECT"}}})
    assert write_units(update, {}) == 1
    big = {**SMALL, "text": {"S": "x" * 1500}}
    assert 1500 < item_size(big) < 2048
    assert write_units(_transaction({"Put": {"TableName": "t", "Item": big}}), {}) == 4  # 2 KB x 2
    put = ProxiedCall(0.0, "PutItem", {"Item": big})
    assert write_units(put, {}) == 2


def test_an_update_is_billed_at_the_size_the_item_has_after_the_run() -> None:
    key = {"pk": {"S": "CHANNELS#T"}, "sk": {"S": "C1"}}
    update = ProxiedCall(0.0, "UpdateItem", {"Key": key})
    assert write_units(update, {item_key(key): 3000}) == 3


def _figure(number: int, argv: str) -> Figure:
    return Figure(
        number=number,
        name=f"figure {number}",
        value=1.0,
        unit="ms",
        samples=1,
        goal="g",
        goal_met=True,
        command="c",
        extra={"run_argv": argv, "run_at": "2026-11-26T00:00:00Z"},
    )


def test_a_report_built_from_two_runs_says_so(tmp_path: Path) -> None:
    meta = {
        "command": "python -m bench --only",
        "argv": ["python", "-m", "bench", "--only", "budget"],
        "generated_at": "2026-11-26T00:00:00Z",
        "seconds": 1.0,
        "quick": False,
        "machine": {"cores": 2, "cpu": "x", "python": "3.12", "platform": "linux", "packages": {}},
    }
    write_report(tmp_path / "one.md", [_figure(1, "python -m bench"), _figure(2, "python -m bench")], meta)
    assert "Not one run" not in (tmp_path / "one.md").read_text()
    write_report(
        tmp_path / "two.md", [_figure(1, "python -m bench"), _figure(8, "python -m bench --only budget")], meta
    )
    text = (tmp_path / "two.md").read_text()
    assert "**Not one run**" in text
    assert "figures 1: `python -m bench`" in text and "figures 8: `python -m bench --only budget`" in text
