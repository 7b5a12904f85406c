"""The cost figure prices what the same run measured, and says which inputs were assumed."""

from bench.cost_model import measured_usage
from scripts import cost


def test_inputs_measured_in_the_run_replace_the_assumptions_and_are_marked_measured() -> None:
    usage, inputs = measured_usage(
        {"sqs_requests_per_task": 3.0031, "worker_tasks_per_cpu_s": 114.04, "dynamodb_wru_per_event": 5.0}
    )
    assert (usage.sqs_requests_per_task, usage.worker_tasks_per_cpu_second, usage.dynamodb_wru_per_event) == (
        3.003,
        114.0,
        5.0,
    )
    assert {name for name, entry in inputs.items() if entry["measured"]} == {
        "sqs_requests_per_task",
        "worker_tasks_per_cpu_second",
        "dynamodb_wru_per_event",
    }
    assert inputs["slack_call_ms"] == {"value": 150.0, "measured": False, "by": "assumption (scripts/cost.py)"}


def test_a_cost_run_alone_says_its_inputs_were_not_measured() -> None:
    usage, inputs = measured_usage({})
    assert usage == cost.Usage()
    assert not any(entry["measured"] for entry in inputs.values())
    assert inputs["sqs_requests_per_task"]["by"] == "not measured in this run (figure 5 (sqs_requests) did not run)"


def test_the_sustained_rate_is_what_a_quarter_vcpu_worker_measured_in_this_run_carries() -> None:
    from bench.sustained import MAX_RATE, carry_rate

    rate, source = carry_rate({"worker_tasks_per_cpu_s": 200.0}, quick=False)
    assert rate == round(200.0 * 0.25 * 0.6) and "figure 4's 200.0 tasks per CPU-second" in source
    assert carry_rate({"worker_tasks_per_cpu_s": 10_000.0}, quick=False)[0] == MAX_RATE
    assert "did not run" in carry_rate({}, quick=False)[1]


def test_the_sustained_rate_never_falls_under_the_goal_of_25_events_a_second() -> None:
    from bench.sustained import GOAL_RATE, carry_rate

    rate, source = carry_rate({"worker_tasks_per_cpu_s": 114.0}, quick=False)
    assert rate == GOAL_RATE == 25.0 and "at least the goal's 25/s" in source
    assert carry_rate({}, quick=False)[0] == GOAL_RATE
    assert carry_rate({"sustained_rate": 20.0}, quick=False)[0] == 20.0  # bench.pool_choice's --rate
