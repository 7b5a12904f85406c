"""The Lambda executor as ``charla workers`` and ``status`` see it: the event source mappings feeding it.

A Celery worker reports itself with a heartbeat (``charla_cli/heartbeats.py``). The Lambda
executor has no process of its own between invocations: AWS's event source mapping polls the
queue and invokes the function when a message comes. So a queue run by Lambda is served while
an *enabled* mapping feeds it, whether or not the function ran recently; ``charla`` asks Lambda
(``ListEventSourceMappings`` for the queue's ARN) and lists each mapping as an executor, in the
same shape as a heartbeat. Locally, ``scripts/sqs_event_source.py`` stands in for the mapping
and writes a heartbeat of its own (pool ``lambda``), so nothing here is needed for it.
"""

import contextlib
from collections.abc import Mapping
from typing import Any

from charla_cli.errors import CliError, aws_errors
from contract.queues import QueueName

# A mapping in these states delivers messages now or will in a moment (Lambda API reference,
# EventSourceMappingConfiguration.State).
SERVING_STATES = frozenset({"Enabled", "Enabling", "Updating", "Creating"})


def _function_name(arn: str) -> str:
    return arn.rsplit(":function:", 1)[-1].split(":", 1)[0]


def event_source_mappings(sqs: Any, lambda_client: Any, urls: Mapping[QueueName, str]) -> list[dict[str, Any]]:
    """One executor record per event source mapping on a charla queue (heartbeat-shaped).

    A Lambda API that refuses or is unavailable (no permission, moto without Lambda) yields no
    records: ``charla`` then knows only the Celery workers, as before.
    """
    records: list[dict[str, Any]] = []
    for queue, url in urls.items():
        with contextlib.suppress(CliError), aws_errors("reading the Lambda event source mappings"):
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            pages = lambda_client.get_paginator("list_event_source_mappings").paginate(EventSourceArn=arn)
            for mapping in (m for page in pages for m in page.get("EventSourceMappings", [])):
                modified = mapping.get("LastModified")
                records.append(
                    {
                        "hostname": f"lambda:{_function_name(str(mapping.get('FunctionArn', '?')))}",
                        "pid": "-",
                        "queues": [queue.value],
                        "pool": "lambda",
                        "concurrency": (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency", "-"),
                        "written_at": modified.timestamp() if hasattr(modified, "timestamp") else None,
                        "state": mapping.get("State"),
                        "last_result": mapping.get("LastProcessingResult"),
                        "serving": mapping.get("State") in SERVING_STATES,
                        "active": [],
                        "counts": {},
                        "last_failure": None,
                    }
                )
    return records
