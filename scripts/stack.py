"""The whole system on one machine: moto server, Slack stand-in, the ingress under uvicorn and
real ``celery worker`` processes, each on a free 127.0.0.1 port, always stopped together.

    with DevStack() as stack:
        response = stack.post_event(app_mention("ping"))
        reply = stack.wait_for_replies(1)[0]
"""

import json
import os
import secrets
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import environment as env
from contract.queues import QueueName
from scripts.fault_proxy import FaultProxy
from scripts.processes import ManagedProcess, free_port, port_open, python_module, start_moto_server, wait_until
from scripts.provision import LOCAL_CREDENTIALS, REGION, provision
from scripts.slack_requests import SignedRequest, signed_event

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0
_JSON = {"Content-Type": "application/json"}


@dataclass
class HttpResult:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str, url: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> HttpResult:
    """One real HTTP request; non-2xx answers are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - 127.0.0.1 only
            return HttpResult(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, error.read(), dict(error.headers))


def _stale(endpoints_text: str) -> bool:
    from charla_cli.endpoints import stale_reason

    try:
        document = json.loads(endpoints_text)
    except ValueError:
        return True
    return isinstance(document, dict) and stale_reason(document) is not None


class DevStack:
    """Starts the local stack; use as a context manager so every process is stopped.

    Args:
        worker_queues: Queues the single worker consumes (``[]`` starts no worker).
        worker_concurrency: Pool processes (or threads) in the worker.
        moto_module: The moto server to start. By default ``scripts.moto_serial``: DynamoDB
            serialized, so two concurrent runs keep each other's writes as DynamoDB's isolation
            promises (plain moto's cancelled transactions put back a stale table copy).
        worker_pool: The worker's Celery pool (``--pool``). Prefork here unless a test asks for
            another; the deployed default is ``contract.environment.DEFAULT_WORKER_POOL``.
        sqs_wait_time_seconds: Long-poll wait of the worker (short in tests: a stopped worker's
            last long poll can hold a message that long).
        resources: Existing queue/table variables (e.g. from a CloudFormation deploy into moto);
            when given with ``moto_url``, nothing is provisioned.
        moto_url: Use this running moto server instead of starting one.
        extra_env: Added to every process's environment.
        agenda_refresh_interval_s: Start ``scripts.scheduler`` (the local EventBridge schedule):
            it asks for an agenda refresh at once, then every this many seconds. ``None``: no
            scheduler, the agenda stays empty until something refreshes it.
        queue_overrides: ``visibility_timeout_s`` / ``max_receive_count`` for every provisioned
            queue (tests that watch a message reach its dead-letter queue in seconds).
        sqs_through_fault_proxy: The ingress and workers reach SQS (only) through ``sqs_proxy``,
            a ``FaultProxy`` the fault suite takes down and brings back.
        endpoints_file: Write the stack's endpoints here (``charla_cli.endpoints`` format) once it
            is up, for ``charla`` commands. When this stack started its own moto, the file is put
            back as it was at stop (removed, or e.g. ``make deploy-local``'s endpoints restored).
        lambda_queues: Queues run by the Lambda executor instead of the celery worker: each gets
            ``scripts.sqs_event_source`` (the local event source mapping) and no worker consumes it.
    """

    def __init__(
        self,
        *,
        worker_queues: Sequence[QueueName] = tuple(QueueName),
        worker_concurrency: int = 2,
        worker_pool: str = "prefork",
        moto_module: str = "scripts.moto_serial",
        sqs_wait_time_seconds: int = 5,
        resources: Mapping[str, str] | None = None,
        moto_url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        agenda_refresh_interval_s: float | None = None,
        queue_overrides: Mapping[str, int] | None = None,
        sqs_through_fault_proxy: bool = False,
        endpoints_file: Path | None = None,
        lambda_queues: Sequence[QueueName] = (),
        worker_log_level: str = "INFO",
    ) -> None:
        self.lambda_queues = list(lambda_queues)
        # INFO locally (tests read the worker's log); benchmarks pass WARNING, production's level
        # (workers/celery_worker/docker-entrypoint.sh sets none: Celery's default).
        self.worker_log_level = worker_log_level
        self.worker_queues = [queue for queue in worker_queues if queue not in self.lambda_queues]
        self.worker_concurrency = worker_concurrency
        self.worker_pool = worker_pool
        self.moto_module = moto_module
        self.sqs_wait_time_seconds = sqs_wait_time_seconds
        self._resources = dict(resources or {})
        self.moto_url = moto_url
        self._extra_env = dict(extra_env or {})
        self._queue_overrides = dict(queue_overrides or {})
        self._sqs_through_fault_proxy = sqs_through_fault_proxy
        self.sqs_proxy: FaultProxy | None = None
        self.endpoints_file = endpoints_file
        self._wrote_endpoints = False
        self._previous_endpoints: str | None = None
        self._endpoint_resources: dict[str, str] | None = None
        self.agenda_refresh_interval_s = agenda_refresh_interval_s
        self._own_log_dir = log_dir is None
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="charla-stack-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.signing_secret = secrets.token_hex(16)
        self.bot_token = f"xoxb-local-{secrets.token_hex(8)}"
        self.processes: dict[str, ManagedProcess] = {}
        self.env: dict[str, str] = {}
        self.ingress_url = ""
        self.slack_url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "DevStack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_", "SLACK_"))}
        base.update(LOCAL_CREDENTIALS)
        base.update({"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "PYTHONUNBUFFERED": "1"})
        if not self.moto_url:
            self.processes["moto"], self.moto_url = start_moto_server(
                env=base, log_dir=self.log_dir, module=self.moto_module
            )
        resources = self._resources or provision(
            self.moto_url, prefix=f"charla-{secrets.token_hex(3)}", **self._queue_overrides
        )
        slack_port = free_port()
        self.slack_url = f"http://127.0.0.1:{slack_port}"
        sqs_override: dict[str, str] = {}
        if self._sqs_through_fault_proxy:
            self.sqs_proxy = FaultProxy(target_port=int(self.moto_url.rsplit(":", 1)[1]))
            self.sqs_proxy.come_back()
            sqs_override["AWS_ENDPOINT_URL_SQS"] = self.sqs_proxy.url
        self.env = {
            **base,
            **resources,
            env.AWS_ENDPOINT_URL: self.moto_url,
            env.SLACK_SIGNING_SECRET: self.signing_secret,
            env.SLACK_BOT_TOKEN: self.bot_token,
            env.SLACK_API_URL: f"{self.slack_url}/api/",
            "CHARLA_SQS_WAIT_TIME_SECONDS": str(self.sqs_wait_time_seconds),
            **sqs_override,
            **self._extra_env,
        }
        self._start("slack", python_module("scripts.slack_standin", "--port", str(slack_port)), self.env, slack_port)
        ingress_port = free_port()
        self.ingress_url = f"http://127.0.0.1:{ingress_port}"
        self._start(
            "ingress",
            python_module(
                "uvicorn",
                "lambda_handler.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(ingress_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ),
            self.env,
            ingress_port,
        )
        self._write_endpoints(resources)
        if self.worker_queues:
            self.start_worker()
        for queue in self.lambda_queues:
            self.start_event_source(queue)
        if self.agenda_refresh_interval_s is not None:
            scheduler = ManagedProcess(
                "scheduler",
                python_module("scripts.scheduler", "--interval", str(self.agenda_refresh_interval_s)),
                env=self.env,
                log_dir=self.log_dir,
                cwd=ROOT,
            )
            self.processes["scheduler"] = scheduler
            self._refresh_endpoints()
            wait_until(
                lambda: "scheduler fired" in scheduler.log_text(),
                timeout=STARTUP_TIMEOUT_S,
                message=lambda: f"the first scheduled refresh; log:\n{scheduler.log_tail()}",
            )

    def _write_endpoints(self, resources: Mapping[str, str]) -> None:
        if self.endpoints_file is None or not self.moto_url:
            return
        if self.endpoints_file.exists():
            previous = self.endpoints_file.read_text()
            # A file a crashed or killed stack left behind is not put back at stop.
            self._previous_endpoints = None if _stale(previous) else previous
        self._endpoint_resources = dict(resources)
        self._wrote_endpoints = "moto" in self.processes  # ours to remove: the moto server dies with us
        self._refresh_endpoints()

    def _refresh_endpoints(self) -> None:
        """(Re)write the endpoints file with every process started so far (``make stop`` reads them)."""
        if self.endpoints_file is None or not self.moto_url or self._endpoint_resources is None:
            return
        from charla_cli.endpoints import write_stack_file

        write_stack_file(
            self.endpoints_file,
            source="make chat / make demo (DevStack)",
            region=REGION,
            endpoint_url=self.moto_url,
            credentials=LOCAL_CREDENTIALS,
            variables=self._endpoint_resources,
            owner=os.getpid() if self._wrote_endpoints else None,
            processes={name: process.pid for name, process in self.processes.items()},
            log_dir=None if self._own_log_dir else self.log_dir,  # kept after stop: `charla trace` reads it
        )

    def start_worker(
        self,
        name: str = "worker",
        queues: Sequence[QueueName] | None = None,
        concurrency: int | None = None,
        extra_args: Sequence[str] = (),
        env_overrides: Mapping[str, str] | None = None,
        *,
        pool: str | None = None,
    ) -> ManagedProcess:
        """Start a real ``celery worker`` and wait until it is consuming (``env_overrides``: this
        worker's own additions, e.g. a skewed clock for a fault scenario; ``pool``: its
        ``--pool``, else the stack's ``worker_pool``)."""
        queues = list(queues) if queues is not None else self.worker_queues
        argv = python_module(
            "celery",
            "-A",
            "workers.celery_worker.app",
            "worker",
            "-Q",
            ",".join(queues),
            "-n",
            f"{name}@%h",
            "-c",
            str(concurrency or self.worker_concurrency),
            "--pool",
            pool or self.worker_pool,
            "-l",
            self.worker_log_level,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *extra_args,
        )
        process = ManagedProcess(
            name,
            argv,
            env={**self.env, env.WORKER_QUEUES: ",".join(queues), **(env_overrides or {})},
            log_dir=self.log_dir,
            cwd=ROOT,
        )
        self.processes[name] = process
        self._refresh_endpoints()
        wait_until(
            lambda: self._ready(process, banner_is_enough=self.worker_log_level != "INFO"),
            timeout=STARTUP_TIMEOUT_S,
            message=lambda: f"{name} to be ready; log:\n{process.log_tail()}",
        )
        return process

    def start_event_source(
        self, queue: QueueName, *, batch_size: int = 1, name: str | None = None, wait_s: int | None = None
    ) -> ManagedProcess:
        """Run ``queue`` on the Lambda executor: start its local event source mapping and wait for it.

        Each one is one execution environment (concurrency 1); start more under other names.
        """
        name = name or f"lambda-{queue}"
        argv = python_module(
            "scripts.sqs_event_source",
            "--queue",
            queue.value,
            "--batch-size",
            str(batch_size),
            "--wait",
            str(self.sqs_wait_time_seconds if wait_s is None else wait_s),
        )
        process = ManagedProcess(name, argv, env=self.env, log_dir=self.log_dir, cwd=ROOT)
        self.processes[name] = process
        self._refresh_endpoints()

        def ready() -> bool:
            if not process.alive():
                raise RuntimeError(f"{name} exited early; log:\n{process.log_tail()}")
            return "event source ready" in process.log_text()

        wait_until(ready, timeout=STARTUP_TIMEOUT_S, message=lambda: f"{name} to be ready; log:\n{process.log_tail()}")
        return process

    @staticmethod
    def _ready(process: ManagedProcess, *, banner_is_enough: bool = False) -> bool:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited early; log:\n{process.log_tail()}")
        # " ready." is logged at INFO; above INFO only the startup banner shows (printed before the
        # consumer connects: callers that need a warm worker send warm-up tasks, as the bench does).
        text = process.log_text()
        return " ready." in text or (banner_is_enough and "[queues]" in text)

    def _start(self, name: str, argv: list[str], environ: Mapping[str, str], port: int) -> None:
        process = ManagedProcess(name, argv, env=environ, log_dir=self.log_dir, cwd=ROOT)
        self.processes[name] = process

        def listening() -> bool:
            if not process.alive():
                raise RuntimeError(f"{name} exited early; log:\n{process.log_tail()}")
            return port_open(port)

        wait_until(listening, timeout=STARTUP_TIMEOUT_S, message=lambda: f"{name} on port {port}")

    def stop(self) -> None:
        """Stop every process, workers first (they drain), moto last."""
        for name in sorted(self.processes, key=lambda n: (n == "moto", n)):
            self.processes[name].stop()
        self.processes.clear()
        if self._wrote_endpoints and self.endpoints_file is not None:
            if self._previous_endpoints is None:
                self.endpoints_file.unlink(missing_ok=True)
            else:
                self.endpoints_file.write_text(self._previous_endpoints)
            self._wrote_endpoints = False
        if self.sqs_proxy is not None:
            self.sqs_proxy.close()
        if self._own_log_dir and not os.environ.get("CHARLA_KEEP_LOGS"):
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def logs(self) -> str:
        """Every process's recent log, for failure messages."""
        return "\n".join(f"--- {name} ---\n{p.log_tail()}" for name, p in self.processes.items())

    # -- talking to it -----------------------------------------------------------------------

    def post(
        self, request: SignedRequest, *, path: str = "/slack/events", extra_headers: Mapping[str, str] | None = None
    ) -> HttpResult:
        """Send a signed request to the ingress, as Slack would."""
        return http(
            "POST", self.ingress_url + path, body=request.body, headers={**request.headers, **(extra_headers or {})}
        )

    def post_event(self, event: dict[str, Any], *, event_id: str | None = None) -> HttpResult:
        return self.post(signed_event(event, self.signing_secret, event_id=event_id))

    def recorded(self) -> list[dict[str, Any]]:
        """Everything the bot posted to the Slack stand-in so far."""
        records: list[dict[str, Any]] = http("GET", self.slack_url + "/_recorded").json()["records"]
        return records

    def wait_for_replies(self, count: int, *, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` posts were recorded; returns all of them."""
        return wait_until(
            lambda: records if len(records := self.recorded()) >= count else None,
            timeout=timeout,
            message=lambda: f"{count} replies (have {len(self.recorded())}); logs:\n{self.logs()}",
        )

    def set_slack_faults(self, **faults: object) -> None:
        """Tell the Slack stand-in to misbehave (``POST /_faults``, see ``scripts/slack_standin.py``)."""
        result = http("POST", self.slack_url + "/_faults", body=json.dumps(faults).encode(), headers=_JSON)
        if result.status != 200:
            raise RuntimeError(f"the Slack stand-in refused faults {faults}: {result.status}")

    def set_slack_locales(self, locales: Mapping[str, str]) -> None:
        """The Slack locale ``users.info`` gives each user id (``POST /_users``); others get ``en-US``."""
        result = http("POST", self.slack_url + "/_users", body=json.dumps(dict(locales)).encode(), headers=_JSON)
        if result.status != 200:
            raise RuntimeError(f"the Slack stand-in refused locales {locales}: {result.status}")

    def slack_state(self) -> dict[str, Any]:
        """Everything ``GET /_recorded`` reports (records and counters)."""
        state: dict[str, Any] = http("GET", self.slack_url + "/_recorded").json()
        return state

    def response_url(self, key: str | None = None) -> str:
        """A slash-command response_url served by the stand-in."""
        return f"{self.slack_url}/response/{key or secrets.token_hex(6)}"

    # -- looking at the queues ---------------------------------------------------------------

    def queue_url(self, queue: QueueName) -> str:
        return self.env[env.queue_url_variable(queue)]

    def sqs(self) -> Any:
        """A boto3 SQS client for the stack's moto server."""
        from scripts.provision import sqs

        assert self.moto_url
        return sqs(self.moto_url)

    def queue_depth(self, queue: QueueName) -> int:
        """Messages waiting, in flight (received, not yet deleted) and delayed (deferred copies) on ``queue``."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = self.sqs().get_queue_attributes(QueueUrl=self.queue_url(queue), AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def wait_until_drained(self, *queues: QueueName, timeout: float = 20.0) -> None:
        """Wait until no message is waiting, in flight or delayed: every task and its copies finished."""
        targets = queues or tuple(QueueName)
        wait_until(
            lambda: all(self.queue_depth(q) == 0 for q in targets),
            timeout=timeout,
            message=lambda: f"queues {[str(q) for q in targets]} to drain; logs:\n{self.logs()}",
        )

    def receive_raw(self, queue: QueueName, *, max_messages: int = 10, wait_s: int = 1) -> list[dict[str, Any]]:
        """Take messages off ``queue`` (received and deleted), for tests that run no worker."""
        client = self.sqs()
        messages: list[dict[str, Any]] = client.receive_message(
            QueueUrl=self.queue_url(queue), MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_s
        ).get("Messages", [])
        if messages:
            client.delete_message_batch(
                QueueUrl=self.queue_url(queue),
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return messages

    def empty_queues(self) -> None:
        """Delete every waiting message (PurgeQueue allows one call a minute; this has no limit)."""
        client = self.sqs()
        for queue in QueueName:
            while messages := client.receive_message(
                QueueUrl=self.queue_url(queue), MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", []):
                client.delete_message_batch(
                    QueueUrl=self.queue_url(queue),
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
