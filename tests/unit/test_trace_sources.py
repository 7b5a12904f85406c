"""The pieces of ``charla trace`` that moto cannot check: the Insights query and the derived task ids."""

from charla_cli.trace import LogLine, derived_task_ids, ids_in_logs, insights_query
from contract.registry import TASK_NAMES
from contract.tasks import TaskName
from contract.wire import task_id_for


def test_the_insights_query_filters_on_every_id_oldest_first() -> None:
    query = insights_query(["Ev1", "0b8e6c1e-0000-4000-8000-000000000001", 'bad"quote'])

    assert query.startswith("fields @timestamp, @log, @message | filter ")
    terms = query.split("| filter ", 1)[1].split(" | sort", 1)[0].split(" or ")
    assert sorted(terms) == ['@message like "0b8e6c1e-0000-4000-8000-000000000001"', '@message like "Ev1"']
    assert "bad" not in query  # a quote would break the query: such a needle is left out
    assert query.endswith("| sort @timestamp asc | limit 200")


def test_an_event_id_names_the_task_id_the_ingress_gave_each_task() -> None:
    derived = derived_task_ids("Ev0ABC")

    assert derived[task_id_for("charla.ping:Ev0ABC")] == TaskName.PING.value
    assert len(derived) == len(TASK_NAMES)  # the commands' and the jobs' too (a schedule keys by event id)


def test_log_lines_lead_from_a_task_id_to_its_correlation_id_and_back() -> None:
    task_id = "0b8e6c1e-0000-4000-8000-000000000001"
    lines = [
        LogLine("ingress", None, f"INFO enqueued task=charla.ping queue=replies task_id={task_id} correlation_id=Ev0X"),
        LogLine("worker", None, f"INFO Task charla.ping[{task_id}] received"),
    ]

    tasks, correlations = ids_in_logs(lines)

    assert tasks == {task_id: "charla.ping"}
    assert correlations == {"Ev0X"}
