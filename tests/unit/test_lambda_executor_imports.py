"""The Lambda executor's cold start carries the task code and its clients, never Celery.

A fresh interpreter imports ``workers.lambda_executor.main`` and loads the task registry (what the
function's first invocation does); Celery, kombu and the ingress must stay out (the function's
bundle does not even contain Celery, so such an import would fail in AWS on the first message).
"""

import pytest

from tests.unit.test_import_graph import _fresh_import, _importer_of

# boto3 and s3transfer too: the task code builds its clients with botocore alone (workers/runtime/aws.py),
# and the bundle no longer carries boto3 (requirements-executor.txt).
FORBIDDEN = (
    "celery",
    "kombu",
    "billiard",
    "vine",
    "amqp",
    "pycurl",
    "boto3",
    "s3transfer",
    "lambda_handler",
    "moto",
    "pytest",
)
# What it must carry: without these the tasks cannot run.
REQUIRED = ("workers.tasks", "workers.tasks_results", "slack_sdk", "botocore", "pydantic")

_LOAD = "workers.lambda_executor.main; workers.registry.load()"


@pytest.fixture(scope="module")
def loaded() -> tuple[list[str], str]:
    return _fresh_import(_LOAD)


def test_the_executor_loads_no_celery_and_no_ingress(loaded: tuple[list[str], str]) -> None:
    modules, importtime = loaded
    offenders = sorted({m for m in modules for banned in FORBIDDEN if m == banned or m.startswith(banned + ".")})
    assert not offenders, "the Lambda executor pulls in: " + ", ".join(_importer_of(m, importtime) for m in offenders)


def test_the_executor_carries_every_task_and_its_clients(loaded: tuple[list[str], str]) -> None:
    modules, _ = loaded
    assert set(REQUIRED) <= set(modules)


def test_a_celery_import_would_be_caught() -> None:
    """The check itself works: the Celery executor's consumer is reported, with its importer."""
    modules, importtime = _fresh_import("workers.celery_worker.consumer")
    assert "celery" in modules
    assert "imported by" in _importer_of("celery", importtime)
