"""``profile=small`` priced: nothing warm at rest (goal <= $2/month), and per 1M events line by line
beside the Bolt-on-Lambda alternative.

On the model's one basis (the stack alone in its account: CloudWatch's always-free allowance of 10
alarm metrics, 10 custom metrics and 3 dashboards counted once, as a negative line).
"""

from scripts import cost


def test_small_profile_costs_under_two_dollars_a_month_at_rest() -> None:
    estimate = cost.small_profile_estimate(cost.small_shape())
    assert estimate.at_rest["dashboards"] == cost.PRICES["cloudwatch_dashboard_month"].value  # the one dashboard
    assert estimate.at_rest[cost.ALLOWANCE_LINE] < 0  # ... within the account's three free ones
    assert estimate.at_rest_total <= 2.0, estimate.at_rest
    assert estimate.at_rest["Container Insights metrics"] == 0.0
    assert estimate.at_rest["fargate workers"] == 0.0  # bulk is Spot from zero, replies on Lambda
    assert estimate.at_rest["public IPv4 (running tasks)"] == 0.0
    assert estimate.at_rest["Lambda SnapStart cache"] == 0.0
    assert estimate.at_rest["SQS event source idle polls"] > 0  # the one thing that runs at rest


def test_small_shape_is_what_the_profile_deploys() -> None:
    shape = cost.small_shape()
    (bulk,) = shape.services
    assert bulk.name == "bulk" and bulk.spot and bulk.arm64 and bulk.min_tasks == 0  # Spot runs arm64
    assert not shape.lambda_snap_start and not shape.container_insights
    assert bulk.wakeups_per_month == cost.HOURS_PER_MONTH / 24  # one agenda refresh a day


def test_per_million_events_prices_the_executor_instead_of_fargate_task_time() -> None:
    estimate = cost.small_profile_estimate(cost.small_shape())
    per = estimate.per_million_events
    assert "Fargate task time (scale-out)" not in per
    assert per["Executor Lambda requests"] == cost.PRICES["lambda_per_million_requests"].value
    assert (
        per["SQS requests"]
        == cost.ExecutorUsage().sqs_requests_per_task * cost.PRICES["sqs_per_million_requests"].value
    )
    # Against Bolt-on-Lambda the difference is the queue (SQS) and the executor's larger memory.
    bolt = cost.bolt_lambda_estimate()
    gap = estimate.per_million_total - bolt.per_million_total
    assert gap < per["SQS requests"] + per["Executor Lambda duration"]


def test_the_report_lists_the_small_profile() -> None:
    report = cost.report(cost.default_shape())
    small = report["small_profile"]
    assert small["at_rest_usd_month"] <= 2.0
