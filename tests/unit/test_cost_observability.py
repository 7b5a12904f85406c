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


def test_task_metrics_do_not_grow_with_the_number_of_task_names() -> None:
    """The task name is an EMF property: at most six metrics per queue, ~$3.60/month for two
    queues, where a Task dimension made it up to 66 metrics (~$20/month)."""
    assert observability_cost(queues=2).task_metrics_usd_month_max == pytest.approx(3.60)
