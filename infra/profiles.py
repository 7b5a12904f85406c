"""Which executor runs each queue, and the named deploy profiles (``-c profile=small``).

``executor`` in ``cdk.json`` (or ``-c executor='{"replies": "lambda"}'``) picks, per queue, the
Fargate service of Celery workers (the default for every queue) or the Lambda executor
(``infra/constructs/lambda_executor.py``). Both run the same task registry under the same rules;
producers see no difference, and switching is one deploy: the queues, tables and messages stay.

A profile is a named set of context values applied over ``cdk.json``'s (the values it names win;
every other key keeps its value). ``small``: one small workspace at the lowest cost at rest:
replies on Lambda (no warm container), bulk on Fargate Spot (arm64) from zero tasks, the ingress
without SnapStart (its snapshot cache is billed every second it exists), no Container Insights,
and the agenda refreshed once a day.
"""

import json
from collections.abc import Mapping
from typing import Any, Literal

from contract.queues import QueueName

Executor = Literal["fargate", "lambda"]
EXECUTORS: tuple[Executor, ...] = ("fargate", "lambda")
DEFAULT_EXECUTOR: Executor = "fargate"

PROFILES: Mapping[str, Mapping[str, Any]] = {
    "small": {
        "executor": {QueueName.REPLIES.value: "lambda", QueueName.BULK.value: "fargate"},
        "fargate_spot": True,
        # SnapStart keeps a snapshot cached for the ingress: about $1/month at 256 MB, half the goal
        # at rest; without it a cold ack takes longer but stays well inside Slack's 3 s.
        "lambda_snap_start": False,
        # Its metrics are billed for every hour a task publishes them; scaling reads queue metrics.
        "container_insights": False,
        # Each refresh wakes the bulk service from zero (a Spot task for minutes, its metrics for
        # that hour): hourly that is most of the bill at rest. A small team's agenda can wait a day
        # (an immediate refresh is one `charla send charla.refresh_agenda` away).
        "agenda_refresh_minutes": 1440,
        # The executor's mapping runs at most max_tasks x LAMBDA_RUNS_PER_TASK = 2 (AWS's floor) at
        # once: a new account may have 10 concurrent executions in all, and the ingress needs them.
        "scaling": {QueueName.BULK.value: {"min_tasks": 0}, QueueName.REPLIES.value: {"max_tasks": 1}},
    },
}


def executors(raw: Any) -> dict[QueueName, Executor]:
    """Per-queue executors from context (a JSON object or its text); unnamed queues run on Fargate.

    Raises:
        ValueError: An unknown queue or executor name.
    """
    given = json.loads(raw) if isinstance(raw, str) else (raw or {})
    result: dict[QueueName, Executor] = dict.fromkeys(QueueName, DEFAULT_EXECUTOR)
    for name, kind in given.items():
        queue = QueueName(name)  # ValueError names an unknown queue
        if kind not in EXECUTORS:
            raise ValueError(f"context 'executor': {name} must run on one of {', '.join(EXECUTORS)}, got {kind!r}")
        result[queue] = kind
    return result


def with_profile(context: Any, profile: str | None) -> Any:
    """A context lookup where ``profile``'s values replace the given ones (``None``: unchanged).

    Raises:
        ValueError: An unknown profile name.
    """
    if not profile:
        return context
    if profile not in PROFILES:
        raise ValueError(f"context 'profile': unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    overrides = PROFILES[profile]

    def lookup(key: str) -> Any:
        if key == "scaling" and key in overrides:
            given = context(key)
            merged = dict(json.loads(given) if isinstance(given, str) else (given or {}))
            for queue, bounds in overrides[key].items():
                merged[queue] = {**merged.get(queue, {}), **bounds}
            return merged
        return overrides[key] if key in overrides else context(key)

    return lookup
