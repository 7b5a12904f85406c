"""Deploy-time settings from ``cdk.json`` context (or ``-c key=value``), with documented defaults.

Every field can be overridden at the command line, e.g. ``npx cdk deploy -c env_name=prod
-c fargate_spot=true``. ``scaling`` is a JSON object keyed by queue name.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from contract.queues import QueueName
from infra.profiles import DEFAULT_EXECUTOR, Executor, executors, with_profile

# Context keys read by from_context (a typo in cdk.json is an error, not a silent default).
CONTEXT_KEYS = (
    "env_name",
    "lambda_memory_mb",
    "lambda_timeout_s",
    "lambda_reserved_concurrency",
    "lambda_snap_start",
    "api_throttle_rate",
    "api_throttle_burst",
    "worker_cpu",
    "worker_memory_mb",
    "worker_concurrency",
    "worker_arm64",
    "fargate_spot",
    "container_insights",
    "worker_image",
    "scaling",
    "log_retention_days",
    "agenda_refresh_minutes",
    "alarm_email",
    "agenda_source",
    "archive_retention_days",
    "welcome_text",
    "welcome_texts",
    "default_language",
    "slack_team_ids",
    "slack_app_id",
    "executor",
    "profile",
)


@dataclass(frozen=True, slots=True)
class QueueScaling:
    """Scaling bounds of the worker service that consumes one queue.

    Attributes:
        min_tasks: Tasks kept running at rest (0 lets the service sleep; the first message then
            waits for a task to start, about a minute).
        max_tasks: Upper bound on running tasks.
        backlog_per_task: Visible messages per running task above which a task is added.
        scale_out_cooldown_s: Wait after adding tasks before adding more.
        scale_in_cooldown_s: Wait after removing a task before removing another.
    """

    min_tasks: int
    max_tasks: int
    backlog_per_task: int = 10
    scale_out_cooldown_s: int = 60
    scale_in_cooldown_s: int = 300

    def __post_init__(self) -> None:
        if not 0 <= self.min_tasks <= self.max_tasks or self.max_tasks < 1:
            raise ValueError(f"need 0 <= min_tasks <= max_tasks and max_tasks >= 1, got {self}")
        if self.backlog_per_task < 1:
            raise ValueError("backlog_per_task must be at least 1")


# Replies answer users: one task always warm. Bulk work can wait a minute for a task to start.
DEFAULT_SCALING: Mapping[QueueName, QueueScaling] = {
    QueueName.REPLIES: QueueScaling(min_tasks=1, max_tasks=4, backlog_per_task=5),
    QueueName.BULK: QueueScaling(min_tasks=0, max_tasks=2, backlog_per_task=20),
}
FALLBACK_SCALING = QueueScaling(min_tasks=0, max_tasks=2)  # a queue added to the contract later


@dataclass(frozen=True, slots=True)
class CharlaConfig:
    """Everything the stack reads from context. Defaults are the documented ones (docs/DEPLOY.md)."""

    env_name: str = "dev"  # prefixes the stack name: charla-<env_name>
    lambda_memory_mb: int = 256
    lambda_timeout_s: int = 10  # Slack waits 3 s for an ack; anything longer is a bug
    # None: unreserved. Reserving needs an account quota above 10 + this (new accounts often have
    # 10 in all, where any reservation fails the deploy); the API stage throttling bounds load anyway.
    lambda_reserved_concurrency: int | None = None
    lambda_snap_start: bool = True
    api_throttle_rate: int = 50  # requests per second, steady
    api_throttle_burst: int = 100
    worker_cpu: int = 256  # Fargate CPU units (256 = 0.25 vCPU)
    worker_memory_mb: int = 512
    worker_concurrency: int = 2  # Celery prefork processes per task
    # Graviton (~20% cheaper) unless Spot is on: Fargate Spot places only X86_64 Linux tasks, so
    # unset means "arm64, or x86_64 on Spot"; an explicit true with Spot is refused (below).
    worker_arm64: bool | None = None
    fargate_spot: bool = False  # run workers on Fargate Spot (about 70% cheaper, may be interrupted)
    # Container Insights gives RunningTaskCount, which scaling divides the backlog by (billed as
    # custom metrics, see scripts/cost.py). Off: scaling reads queue metrics only (docs/DEPLOY.md).
    container_insights: bool = True
    worker_image: str | None = None  # a prebuilt image URI instead of building workers/Dockerfile
    scaling: Mapping[QueueName, QueueScaling] = field(default_factory=lambda: dict(DEFAULT_SCALING))
    log_retention_days: int = 30
    agenda_refresh_minutes: int = 60
    alarm_email: str | None = None  # subscribed to the alarm topic when given
    agenda_source: str | None = None  # https://... or s3://bucket/key the agenda refresh reads
    # Archived messages expire (DynamoDB TTL) this many days after they were written; 0 keeps them.
    archive_retention_days: int = 365
    # Welcome people who join a channel the bot is in: one greeting for every channel, and/or one
    # per channel id (JSON object); "{user}" becomes a mention of the newcomer. Unset: no welcome.
    welcome_text: str | None = None
    welcome_texts: Mapping[str, str] | None = None
    # The workspace's language ("en" or "es") for someone whose words, Slack locale and last
    # message show none (a bare "/charla", an emoji, the App Home of a new member).
    default_language: str = "en"
    # The only workspaces (team or org ids, comma-separated) and Slack app the ingress serves;
    # unset: any (set both once the app is installed; docs/DEPLOY.md).
    slack_team_ids: str | None = None
    slack_app_id: str | None = None
    # Per queue: "fargate" (Celery workers) or "lambda" (the Lambda executor); infra/profiles.py.
    executor: Mapping[QueueName, Executor] = field(default_factory=lambda: executors(None))
    # The named profile this deploy was built with (its values are applied in from_context).
    profile: str | None = None

    def __post_init__(self) -> None:
        if self.fargate_spot and self.worker_arm64:
            raise ValueError(
                "fargate_spot=true with worker_arm64=true cannot run: Fargate Spot places only X86_64 "
                "Linux tasks, so the services would never stabilise and the deploy would roll back. "
                "Drop worker_arm64 (Spot then builds x86_64 images) or set fargate_spot=false."
            )
        if self.default_language not in ("en", "es"):
            raise ValueError(
                f"default_language must be 'en' or 'es' (a catalogue the bot has), got {self.default_language!r}"
            )

    @property
    def stack_name(self) -> str:
        return f"charla-{self.env_name}"

    @property
    def arm64(self) -> bool:
        """The workers' CPU architecture: arm64 unless asked otherwise or running on Spot."""
        return self.worker_arm64 if self.worker_arm64 is not None else not self.fargate_spot

    def scaling_for(self, queue: QueueName) -> QueueScaling:
        return self.scaling.get(queue, FALLBACK_SCALING)

    def executor_for(self, queue: QueueName) -> Executor:
        return self.executor.get(queue, DEFAULT_EXECUTOR)

    @classmethod
    def from_context(cls, context: Callable[[str], Any]) -> "CharlaConfig":
        """Build from ``node.try_get_context``; values given with ``-c`` arrive as strings.

        Raises:
            ValueError: A value cannot be read as its field's type.
        """
        context = with_profile(context, context("profile"))  # -c profile=small (infra/profiles.py)
        values: dict[str, Any] = {}
        for key in CONTEXT_KEYS:
            raw = context(key)
            if raw is None:
                continue
            parse = KEY_PARSERS.get(key) or PARSERS.get(_FIELD_TYPES[key])
            if parse is None:  # pragma: no cover - a field added without a parser
                raise TypeError(f"no parser for context {key!r} of type {_FIELD_TYPES[key]}")
            values[key] = parse(key, raw)
        return cls(**values)


def _optional_int(key: str, raw: Any) -> int | None:
    return None if raw in ("", "none", "null") else int(raw)


def _integer(key: str, raw: Any) -> int:
    return int(raw)


def _optional_text(key: str, raw: Any) -> str | None:
    return str(raw) or None


def _text(key: str, raw: Any) -> str:
    return str(raw)


def _optional_boolean(key: str, raw: Any) -> bool | None:
    return None if raw in ("", "none", "null", "auto") else _boolean(key, raw)


def _channel_texts(key: str, raw: Any) -> dict[str, str] | None:
    given = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(given, dict):
        raise ValueError(f"context {key!r}: expected a JSON object of channel id -> text")
    return {str(channel): str(greeting) for channel, greeting in given.items()}


def _comma_separated(key: str, raw: Any) -> str | None:
    """A list in cdk.json (``["T1", "T2"]``) or a ``-c`` string (``T1,T2``), kept as ``T1,T2``."""
    if isinstance(raw, list | tuple):
        return ",".join(str(item) for item in raw) or None
    return _optional_text(key, raw)


def _boolean(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"context {key!r}: expected true or false, got {raw!r}")


def _scaling(key: str, raw: Any) -> dict[QueueName, QueueScaling]:
    given = json.loads(raw) if isinstance(raw, str) else raw
    result = dict(DEFAULT_SCALING)
    for name, bounds in given.items():
        queue = QueueName(name)  # ValueError names an unknown queue
        base = DEFAULT_SCALING.get(queue, FALLBACK_SCALING)
        result[queue] = QueueScaling(
            min_tasks=int(bounds.get("min_tasks", base.min_tasks)),
            max_tasks=int(bounds.get("max_tasks", base.max_tasks)),
            backlog_per_task=int(bounds.get("backlog_per_task", base.backlog_per_task)),
            scale_out_cooldown_s=int(bounds.get("scale_out_cooldown_s", base.scale_out_cooldown_s)),
            scale_in_cooldown_s=int(bounds.get("scale_in_cooldown_s", base.scale_in_cooldown_s)),
        )
    return result


# How a ``-c`` value becomes each field's type; a new field of a new type needs a parser here.
PARSERS: dict[Any, Callable[[str, Any], Any]] = {
    str: _text,
    str | None: _optional_text,
    int: _integer,
    int | None: _optional_int,
    bool: _boolean,
    bool | None: _optional_boolean,
    Mapping[QueueName, QueueScaling]: _scaling,
    Mapping[str, str] | None: _channel_texts,
    Mapping[QueueName, Executor]: lambda _key, raw: executors(raw),
}
# Fields whose context value has a shape of its own, beyond their type.
KEY_PARSERS: dict[str, Callable[[str, Any], Any]] = {"slack_team_ids": _comma_separated}
_FIELD_TYPES = get_type_hints(CharlaConfig)
