"""``charla trace ID``: where did this message go? From a Slack event id, task id or correlation id
to what happened to it: queued by the ingress, received by a worker, its effect record (the
answer's claim and the posted message's ts), a stored result, a dead letter and its reason.

Task ids are derived from what Slack sent (``contract.wire.task_id_for("<task>:<event id>")``),
so an event id names its task ids without any log. The rest comes from three sources:

- DynamoDB: the effect record of each task id (``effect_records``: the one place here that
  knows its key, ``EFFECT#<id>`` / ``EFFECT``, as ``workers/state`` writes it), the result record
  of waitable tasks, the workers' failure notes;
- the dead-letter queues, peeked (nothing consumed; main queues are never read: a receive there
  would count toward ``maxReceiveCount``);
- the logs: locally the stack's process logs (``.stack/logs/``, kept after it stops); in AWS one
  CloudWatch Logs Insights query over the stack's log groups (ingress, worker, Lambda executor),
  found from its CloudFormation resources (``--stack NAME``) or named with ``--log-group``.
  Insights bills the data it scans ($0.005/GB in us-east-1): ``--since`` bounds it.
"""

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charla_cli import queues
from contract.registry import TASK_NAMES
from contract.results import RESULT_KEY_PREFIX, RESULT_VALUE_ATTRIBUTE, result_key
from contract.wire import task_id_for

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_CORRELATION = re.compile(r"correlation_id=(\S+)")
_TASK_IN_LOG = re.compile(
    r"(charla\.[a-z_]+)\[([0-9a-f-]{36})\]|task=(charla\.[a-z_]+)\b[^\n]*?(?:task_id|id)=([0-9a-f-]{36})"
)
INSIGHTS_TIMEOUT_S = 60.0
MAX_LOG_LINES = 200


@dataclass(frozen=True)
class LogLine:
    source: str  # the process (local file stem) or log group
    at: float | None
    text: str


@dataclass
class Trace:
    """Everything found about one id."""

    asked: str
    task_ids: dict[str, str | None] = field(default_factory=dict)  # task id -> task name (if known)
    correlation_ids: set[str] = field(default_factory=set)
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_letters: list[queues.DeadLetter] = field(default_factory=list)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)
    log_source: str = "no logs searched"

    @property
    def found(self) -> bool:
        return bool(self.effects or self.results or self.dead_letters or self.notes or self.logs)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.asked,
            "task_ids": self.task_ids,
            "correlation_ids": sorted(self.correlation_ids),
            "effects": self.effects,
            "results": self.results,
            "dead_letters": [letter.as_json() for letter in self.dead_letters],
            "failure_notes": self.notes,
            "logs": [{"source": line.source, "at": line.at, "text": line.text} for line in self.logs],
            "log_source": self.log_source,
        }


def derived_task_ids(identifier: str) -> dict[str, str]:
    """The task id each task would have if ``identifier`` were the Slack event (or trigger) id it came from."""
    return {task_id_for(f"{task}:{identifier}"): task for task in TASK_NAMES}


# -- DynamoDB ------------------------------------------------------------------------------------


def _batch_get(dynamodb: Any, table: str, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + 100]), "ConsistentRead": True}}
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            items += response.get("Responses", {}).get(table, [])
            request = response.get("UnprocessedKeys") or {}
    return items


def effect_records(dynamodb: Any, table: str, effect_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """State, owner, version, fence stamp and posted ts of each effect record that exists (the STATE table).

    ``posting_at`` set on a record that is not done: a post may have reached Slack and was not yet
    proven absent (the next copy looks for it before posting).

    The key and attribute names are the effect records' own (``workers/state``, the answer's
    state machine in ``workers/services/replies.py``); read here only, never written.
    """
    keys = [{"pk": {"S": f"EFFECT#{i}"}, "sk": {"S": "EFFECT"}} for i in sorted(set(effect_ids))]
    found: dict[str, dict[str, Any]] = {}
    for item in _batch_get(dynamodb, table, keys):
        effect_id = item["pk"]["S"].removeprefix("EFFECT#")
        found[effect_id] = {
            "state": item.get("state", {}).get("S", "free"),
            "owner": item.get("owner", {}).get("S") or None,
            "version": item.get("version", {}).get("S") or None,
            "posting_at": float(item["posting_at"]["N"]) if "posting_at" in item else None,
            "posted_ts": item.get("message_ts", {}).get("S") or None,
        }
    return found


def result_records(dynamodb: Any, table: str, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Status (and date) of each stored result (``contract/results.py``)."""
    import json

    keys = [{"id": {"S": result_key(i)}} for i in sorted(set(task_ids))]
    found: dict[str, dict[str, Any]] = {}
    for item in _batch_get(dynamodb, table, keys):
        record = json.loads(bytes(item[RESULT_VALUE_ATTRIBUTE]["B"]).decode())
        found[item["id"]["S"].removeprefix(RESULT_KEY_PREFIX)] = {
            "status": record.get("status"),
            "date_done": record.get("date_done"),
        }
    return found


# -- logs ----------------------------------------------------------------------------------------


def local_log_lines(log_dir: Path, needles: Iterable[str]) -> list[LogLine]:
    """Lines of the local stack's process logs that name any of ``needles``."""
    wanted = [n for n in needles if n]
    lines: list[LogLine] = []
    for path in sorted(log_dir.glob("*.log")):
        for text in path.read_text(errors="replace").splitlines():
            if any(needle in text for needle in wanted):
                lines.append(LogLine(source=path.stem, at=None, text=text.strip()))
    return lines[:MAX_LOG_LINES]


def insights_query(needles: Iterable[str]) -> str:
    """The Logs Insights query: every line naming one of ``needles``, oldest first."""
    terms = " or ".join(f'@message like "{needle}"' for needle in sorted(set(needles)) if needle and '"' not in needle)
    return f"fields @timestamp, @log, @message | filter {terms} | sort @timestamp asc | limit {MAX_LOG_LINES}"


def insights_log_lines(
    logs: Any, groups: Sequence[str], needles: Iterable[str], *, since_s: float, now: float
) -> list[LogLine]:
    """Run ``insights_query`` over ``groups`` and wait for it (at most ``INSIGHTS_TIMEOUT_S``).

    Raises:
        TimeoutError: The query did not complete in time.
    """
    wanted = sorted({n for n in needles if n})
    query_id = logs.start_query(
        logGroupNames=list(groups),
        startTime=int(now - since_s),
        endTime=int(now) + 60,
        queryString=insights_query(wanted),
    )["queryId"]
    deadline = time.monotonic() + INSIGHTS_TIMEOUT_S
    while True:
        response = logs.get_query_results(queryId=query_id)
        if response.get("status") in ("Complete", "Failed", "Cancelled", "Timeout", "Unknown"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Logs Insights query {query_id} did not complete in {INSIGHTS_TIMEOUT_S:.0f} s")
        time.sleep(0.5)
    lines = []
    for row in response.get("results", []):
        fields = {f["field"]: f["value"] for f in row}
        text = fields.get("@message", "")
        if any(needle in text for needle in wanted):  # the query filters; this keeps the promise anyway
            lines.append(
                LogLine(
                    source=fields.get("@log", "?").rsplit(":", 1)[-1],
                    at=_epoch(fields.get("@timestamp")),
                    text=text.strip(),
                )
            )
    return lines


def _epoch(timestamp: str | None) -> float | None:
    from datetime import UTC, datetime

    if not timestamp:
        return None
    try:
        return datetime.strptime(timestamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def stack_log_groups(cloudformation: Any, stack_name: str) -> list[str]:
    """The log groups a charla stack created (ingress, worker, Lambda executor, API access logs)."""
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    return sorted(
        r["PhysicalResourceId"]
        for page in pages
        for r in page.get("StackResourceSummaries", [])
        if r.get("ResourceType") == "AWS::Logs::LogGroup" and r.get("PhysicalResourceId")
    )


def ids_in_logs(lines: Iterable[LogLine]) -> tuple[dict[str, str | None], set[str]]:
    """Task ids (with their task name where the line says it) and correlation ids the lines name."""
    tasks: dict[str, str | None] = {}
    correlations: set[str] = set()
    for line in lines:
        for match in _TASK_IN_LOG.finditer(line.text):
            name, task_id = (match.group(1), match.group(2)) if match.group(2) else (match.group(3), match.group(4))
            tasks[task_id] = name
        for task_id in _UUID.findall(line.text):
            tasks.setdefault(task_id, None)
        correlations.update(m.rstrip(",;") for m in _CORRELATION.findall(line.text) if m != "-")
    return tasks, correlations
