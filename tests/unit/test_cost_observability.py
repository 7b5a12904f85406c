"""The heartbeat's cost stays about one write per worker per 30 s, and cents a month."""

import pytest

from scripts.cost_observability import observability_cost


def test_one_write_per_worker_per_interval() -> None:
    cost = observability_cost(interval_s=30)

    assert cost.heartbeat_writes_per_worker_month == 730 * 120  # 2 a minute, 730 hours
    assert cost.heartbeat_dynamodb_usd_per_worker_month == pytest.approx(0.055, abs=0.001)
    assert cost.at_rest_usd_month(workers=1) < 1.0


def test_a_shorter_interval_costs_proportionally_more_writes() -> None:
    assert observability_cost(interval_s=10).heartbeat_writes_per_worker_month == 3 * (
        observability_cost(interval_s=30).heartbeat_writes_per_worker_month
    )
