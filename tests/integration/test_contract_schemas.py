"""The committed JSON Schemas, the registries and the results table agree with the code.

Other languages validate against ``contract/schemas/``; if the code moves and the files do not,
they would accept what the worker refuses (or the reverse).
"""

import json
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.backends.dynamodb import DynamoDBBackend
from pydantic import TypeAdapter, ValidationError

from contract.registry import RESULT_TASKS, TASK_NAMES, TASK_PAYLOADS, TASK_QUEUES, describe
from contract.results import result_key
from contract.tables import TABLE_SPECS, TableName
from contract.tasks import TaskName
from jobs import all_jobs
from scripts import generate_schemas
from scripts.generate_schemas import REGENERATE, SCHEMA_DIR, generated_files, stale_doc, stale_files
from workers.celery_worker.results import TextKeyDynamoDBBackend

VECTORS = Path(__file__).parent.parent / "vectors"
PAYLOAD_CASES: list[dict[str, Any]] = json.loads((VECTORS / "payloads.json").read_text(encoding="utf-8"))["cases"]


def test_every_task_has_a_payload_in_the_registry() -> None:
    missing = [task for task in TASK_NAMES if task not in TASK_PAYLOADS]

    assert not missing, (
        f"tasks without a payload dataclass: {missing}; add "
        + ", ".join(f"{t}: <PayloadDataclass>" for t in missing)
        + f" to TASK_PAYLOADS in contract/registry.py, then {REGENERATE}"
    )


def test_committed_schemas_match_the_code() -> None:
    stale = stale_files()

    assert not stale, f"contract/schemas/ disagrees with the code ({', '.join(stale)}): {REGENERATE}"


def test_the_task_table_in_the_contract_doc_matches_the_code() -> None:
    assert not stale_doc(), f"the task table in docs/CONTRACT.md is out of date: {REGENERATE}"


def test_the_index_lists_every_task_with_its_queue_and_whether_it_is_waitable() -> None:
    index = json.loads((SCHEMA_DIR / "index.json").read_text(encoding="utf-8"))

    assert set(index["tasks"]) == set(TASK_NAMES) >= set(TaskName)
    for task in TASK_NAMES:
        entry = index["tasks"][task]
        assert entry["queue"] == TASK_QUEUES[task].value == describe(task)["queue"]
        assert entry["waitable"] is (task in RESULT_TASKS)
        assert (SCHEMA_DIR / entry["schema"]).is_file()


def test_generated_schemas_refuse_unknown_fields() -> None:
    for name, text in generated_files().items():
        if name != "index.json":
            assert json.loads(text)["additionalProperties"] is False, name


@pytest.mark.parametrize("case", PAYLOAD_CASES, ids=[case["name"] for case in PAYLOAD_CASES])
def test_the_worker_accepts_exactly_the_payloads_the_schemas_accept(case: dict[str, Any]) -> None:
    # clients/node/test/schema.test.js checks the same cases against the committed schemas.
    adapter: TypeAdapter[Any] = TypeAdapter(TASK_PAYLOADS[case["task"]])
    try:
        adapter.validate_python(case["payload"])
        accepted = True
    except ValidationError:
        accepted = False

    assert accepted is case["valid"]


def test_the_results_table_has_the_shape_celerys_dynamodb_backend_writes() -> None:
    spec = TABLE_SPECS[TableName.RESULTS]

    assert spec.partition_key == DynamoDBBackend._key_field.name
    assert DynamoDBBackend._key_field.data_type == "S"
    assert spec.sort_key is None  # the backend's GetItem sends the partition key only
    assert spec.ttl_attribute == DynamoDBBackend._ttl_field.name


def test_result_keys_are_plain_text() -> None:
    # Celery 5.7 alone would store "b'celery-task-meta-…'" (celery/celery#5455).
    # No credentials in the URL: the backend builds no client, so nothing is contacted.
    backend = TextKeyDynamoDBBackend(app=Celery(set_as_current=False), url="dynamodb://us-east-1/results")

    assert backend.get_key_for_task("abc") == result_key("abc") == "celery-task-meta-abc"


def test_a_stale_or_leftover_schema_file_is_named(tmp_path: Path) -> None:
    for name, text in generated_files().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "charla.ping.json").write_text("{}", encoding="utf-8")
    (tmp_path / "charla.retired.json").write_text("{}", encoding="utf-8")

    assert stale_files(tmp_path) == ["charla.ping.json", "charla.retired.json"]


def test_a_task_without_a_payload_stops_generation_with_a_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(TASK_PAYLOADS, TaskName.STATS)

    assert generate_schemas.main(["--check"]) == 1
    assert "'charla.stats' has no payload in contract/registry.py" in capsys.readouterr().err


def test_the_index_lists_every_job_on_its_queue_and_not_waitable() -> None:
    index = json.loads((SCHEMA_DIR / "index.json").read_text(encoding="utf-8"))

    assert "charla.jobs.usage_report" in index["tasks"]
    for job in all_jobs().values():
        entry = index["tasks"][job.task]
        assert (entry["queue"], entry["waitable"]) == (job.queue.value, False)
        assert json.loads((SCHEMA_DIR / entry["schema"]).read_text(encoding="utf-8"))["x-charla-task"] == job.task
