"""Deploy-time settings from ``cdk.json`` context (or ``-c key=value``), with documented defaults.

Every field can be overridden at the command line, e.g. ``npx cdk deploy -c env_name=prod
-c fargate_spot=true``. ``scaling`` is a JSON object keyed by queue name.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from contract.environment import DEFAULT_WORKER_CONCURRENCY, DEFAULT_WORKER_POOL
from contract.queues import QueueName
from infra.profiles import DEFAULT_EXECUTOR, EXECUTORS, PROFILES, Executor, executors, with_profile

# The one environment allowed to deploy alarms that reach nobody (a developer's own stack).
DEV_ENV_NAME = "dev"
NO_SUBSCRIBER = "none"  # alarm_email=none: no subscriber, on purpose
# Celery pools the worker image can run (gevent and eventlet are not installed in it).
WORKER_POOLS = ("threads", "prefork", "solo")
# More threads than this only wait on each other (and on one vCPU's GIL); more prefork processes
# than this do not fit any Fargate task's memory.
MAX_WORKER_CONCURRENCY = 64

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
    "worker_pool",
    "worker_arm64",
    "fargate_spot",
    "container_insights",
    "dashboard",
    "monthly_budget_usd",
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
    "schedules",
)


class SettingError(ValueError):
    """A deploy setting that cannot be used; the message is one line naming it and what it accepts.

    ``infra/app.py`` prints the message alone (no traceback): the reader is someone who typed
    ``-c key=value`` or edited ``cdk.json``, not a developer of the app.
    """

    def __init__(self, key: str, raw: Any, expected: str, detail: str = "") -> None:
        self.key = key
        shown = raw if isinstance(raw, str) else json.dumps(raw)
        reason = f" ({detail})" if detail else ""
        given = f"{key}={shown} cannot be used" if shown else f"{key} is unset"
        super().__init__(f"setting {given}{reason}; expected {expected}")


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
class JobSchedule:
    """When a job from ``jobs/`` runs by itself, and with what (docs/EXTENDING.md, "Add a schedule").

    Attributes:
        job: The job's module name (``usage_report``).
        expression: An EventBridge schedule expression: ``rate(1 day)``, ``cron(0 7 ? * MON *)``.
        payload: The job's payload fields, less ``correlation_id`` and ``requested_at`` (filled
            in from the event when it fires).
    """

    job: str
    expression: str
    payload: Mapping[str, Any] = field(default_factory=dict)


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
    # Sized for one workspace: Slack sends at most 30,000 events an hour per workspace and app
    # (8.3/s); anything beyond is not Slack, and every request is billed (docs/DEPLOY.md).
    api_throttle_rate: int = 10  # requests per second, steady
    api_throttle_burst: int = 50
    worker_cpu: int = 256  # Fargate CPU units (256 = 0.25 vCPU)
    worker_memory_mb: int = 512
    # The Celery pool of each worker task and its size: a thread pool sized for I/O by default
    # (a reply waits on DynamoDB, Slack and the channel's turn, and uses ~11 ms of CPU). Measured
    # on a 0.25 vCPU quota: docs/OPERATIONS.md, "Which pool the worker runs". Reaches the container as
    # CHARLA_WORKER_POOL / CHARLA_WORKER_CONCURRENCY (workers/celery_worker/docker-entrypoint.sh).
    worker_pool: str = DEFAULT_WORKER_POOL
    worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY
    # Graviton (~20% cheaper), on demand or on Spot: Fargate Spot runs Linux ARM64 tasks on
    # platform 1.4.0+ (ECS API reference, CapacityProviderStrategyItem). None means arm64.
    worker_arm64: bool | None = None
    # Fargate Spot (arm64 included): about 70% cheaper; a task may get a 2-minute notice, and ECS
    # starts its replacement (docs/DEPLOY.md says what that gives up).
    fargate_spot: bool = True
    # Per-task CPU/memory metrics, billed as custom metrics (~$15/month, scripts/cost.py). Scaling
    # never needs them: it counts running tasks from the workers' own heartbeats.
    container_insights: bool = False
    # The CloudWatch dashboard: free within the account's three free dashboards, $3/month beyond.
    dashboard: bool = True
    # A monthly AWS Budgets cost budget mailed to alarm_email (80% actual, 100% forecast); 0: none.
    monthly_budget_usd: int = 20
    worker_image: str | None = None  # a prebuilt image URI instead of building workers/celery_worker/Dockerfile
    scaling: Mapping[QueueName, QueueScaling] = field(default_factory=lambda: dict(DEFAULT_SCALING))
    log_retention_days: int = 30
    agenda_refresh_minutes: int = 60
    # Subscribed to the alarm topic. Unset is refused outside env_name=dev (alarms would reach
    # nobody); "none" deploys without a subscriber on purpose, with a warning at every synth.
    alarm_email: str | None = None
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
    # Jobs from jobs/ that run on a schedule: job name -> expression, or {"expression", "payload"}.
    schedules: Mapping[str, JobSchedule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 128 <= self.lambda_memory_mb <= 10240:
            raise SettingError("lambda_memory_mb", str(self.lambda_memory_mb), _expected("lambda_memory_mb"))
        if self.env_name != DEV_ENV_NAME and not self.alarm_email:
            raise SettingError(
                "alarm_email",
                "",
                'an email address that confirms the subscription AWS sends, or "none" to deploy with alarms '
                "that reach nobody",
                f"env_name={self.env_name} is not {DEV_ENV_NAME}: its alarms would page nobody",
            )
        if self.worker_pool not in WORKER_POOLS:
            raise SettingError("worker_pool", self.worker_pool, _expected("worker_pool"))
        if not 1 <= self.worker_concurrency <= MAX_WORKER_CONCURRENCY:
            raise SettingError("worker_concurrency", str(self.worker_concurrency), _expected("worker_concurrency"))
        if self.default_language not in ("en", "es"):
            raise ValueError(
                f"default_language must be 'en' or 'es' (a catalogue the bot has), got {self.default_language!r}"
            )

    @property
    def alarm_subscriber(self) -> str | None:
        """The address subscribed to the alarm topic; ``None`` when nobody is (a warning at synth)."""
        return None if not self.alarm_email or self.alarm_email.lower() == NO_SUBSCRIBER else self.alarm_email

    @property
    def stack_name(self) -> str:
        return f"charla-{self.env_name}"

    @property
    def arm64(self) -> bool:
        """The workers' CPU architecture: arm64 unless ``worker_arm64=false``."""
        return self.worker_arm64 is not False

    def scaling_for(self, queue: QueueName) -> QueueScaling:
        return self.scaling.get(queue, FALLBACK_SCALING)

    def executor_for(self, queue: QueueName) -> Executor:
        return self.executor.get(queue, DEFAULT_EXECUTOR)

    @classmethod
    def from_context(cls, context: Callable[[str], Any]) -> "CharlaConfig":
        """Build from ``node.try_get_context``; values given with ``-c`` arrive as strings.

        Raises:
            SettingError: A value cannot be read as its field's type, or breaks a field's rule.
        """
        profile = context("profile")
        try:
            context = with_profile(context, profile)  # -c profile=small (infra/profiles.py)
        except ValueError as error:
            raise SettingError("profile", profile, _expected("profile")) from error
        values: dict[str, Any] = {}
        for key in CONTEXT_KEYS:
            raw = context(key)
            if raw is None:
                continue
            parse = KEY_PARSERS.get(key) or PARSERS.get(_FIELD_TYPES[key])
            if parse is None:  # pragma: no cover - a field added without a parser
                raise TypeError(f"no parser for context {key!r} of type {_FIELD_TYPES[key]}")
            try:
                values[key] = parse(key, raw)
            except (ValueError, TypeError, AttributeError) as error:
                raise SettingError(key, raw, _expected(key), _detail(error)) from error
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


_RATE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)$")
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")


def _schedule(name: str, raw: Any) -> JobSchedule:
    """One ``schedules`` entry, checked against the job it names.

    Raises:
        ValueError: Unknown job, a bad expression, or a payload the job cannot take.
    """
    import jobs
    from contract.checks import PayloadInvalid, check_payload

    try:
        job = jobs.find(name)
    except LookupError as error:
        raise ValueError(f"context 'schedules': {error}") from None
    expression, payload = (raw, {}) if isinstance(raw, str) else (raw.get("expression"), raw.get("payload") or {})
    if not isinstance(expression, str) or not (_RATE.match(expression) or _CRON.match(expression)):
        raise ValueError(f"context 'schedules': {name}: {expression!r} is not rate(<n> <unit>) or cron(<6 fields>)")
    try:
        check_payload(job.payload(**{"correlation_id": "synth", "requested_at": 0.0, **payload}))
    except (TypeError, PayloadInvalid) as error:
        raise ValueError(
            f"context 'schedules': {name}: payload does not fit {job.payload.__name__} ({error})"
        ) from None
    return JobSchedule(job=name, expression=expression, payload=dict(payload))


def _schedules(key: str, raw: Any) -> dict[str, JobSchedule]:
    given = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(given, dict):
        raise ValueError(f"context {key!r}: expected a JSON object of job name -> schedule")
    return {str(name): _schedule(str(name), entry) for name, entry in given.items()}


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
    Mapping[str, JobSchedule]: _schedules,
}
# Fields whose context value has a shape of its own, beyond their type.
KEY_PARSERS: dict[str, Callable[[str, Any], Any]] = {"slack_team_ids": _comma_separated}
_FIELD_TYPES = get_type_hints(CharlaConfig)


# What each kind of setting accepts, as the one-line error says it.
EXPECTED_BY_TYPE: dict[Any, str] = {
    str: "text",
    str | None: "text",
    int: "a whole number",
    int | None: "a whole number or null",
    bool: "true or false",
    bool | None: "true, false or null",
    Mapping[QueueName, QueueScaling]: (
        'a JSON object of queue -> bounds, e.g. {"replies": {"min_tasks": 1, "max_tasks": 4}} '
        f"(queues: {', '.join(q.value for q in QueueName)}; bounds: min_tasks, max_tasks, backlog_per_task, "
        "scale_out_cooldown_s, scale_in_cooldown_s)"
    ),
    Mapping[str, str] | None: 'a JSON object of channel id -> text, e.g. {"C0123": "Welcome, {user}!"}',
    Mapping[QueueName, Executor]: (
        f'a JSON object of queue -> executor, e.g. {{"replies": "lambda"}} '
        f"(queues: {', '.join(q.value for q in QueueName)}; executors: {', '.join(EXECUTORS)})"
    ),
}
EXPECTED_BY_KEY: dict[str, str] = {
    "lambda_memory_mb": "a whole number of MB from 128 to 10240",
    "worker_pool": f"one of {', '.join(WORKER_POOLS)} (the Celery pool; threads unless measured otherwise)",
    "worker_concurrency": f"a whole number from 1 to {MAX_WORKER_CONCURRENCY} (threads or processes per worker task)",
    "profile": f"one of {', '.join(PROFILES)} (or unset for the default deploy)",
    "slack_team_ids": "team or org ids, comma-separated (T0123,T0456) or a JSON list",
    "schedules": (
        'a JSON object of job -> schedule, e.g. {"usage_report": {"expression": "cron(0 7 ? * MON *)", '
        '"payload": {"team_id": "T0123", "channel": "C0123"}}} (jobs are the modules in jobs/)'
    ),
}


def _expected(key: str) -> str:
    return EXPECTED_BY_KEY.get(key) or EXPECTED_BY_TYPE.get(_FIELD_TYPES.get(key), "a valid value")


def _detail(error: Exception) -> str:
    """The parser's own reason when it says more than Python's conversion message does."""
    text = str(error).splitlines()[0] if str(error) else ""
    return text if text.startswith(("context ", "need ", "backlog_per_task")) else ""
