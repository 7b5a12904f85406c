"""Where the deployment is: region, endpoint, credentials, queue URLs and table names.

Each value comes from the first of these that has it:

1. a command-line flag (``--region``, ``--endpoint-url``);
2. the environment (``AWS_REGION``, ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``...,
   ``CHARLA_QUEUE_URL_<QUEUE>``, ``CHARLA_TABLE_<TABLE>``);
3. the endpoints file the local stack writes (``make chat``, ``make demo`` while it runs,
   ``make deploy-local``): ``.stack/endpoints.json`` in this directory or a parent, or the
   file named by ``--stack-file`` / ``CHARLA_STACK_FILE``;
4. with ``--stack NAME`` (or ``CHARLA_STACK``), the CloudFormation stack's
   ``ResourceEnvironment`` output in AWS (the endpoints file is then not read);
5. boto3's own chain for region and credentials (``~/.aws/config``, SSO, the instance role).
"""

import contextlib
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from charla_cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, LOCAL_HINT, CliError, aws_errors
from charla_cli.owner import process_started, still_running
from contract import environment as env
from contract.queues import QueueName
from contract.tables import TABLE_SPECS, TableName

STACK_FILE_VARIABLE = "CHARLA_STACK_FILE"
STACK_NAME_VARIABLE = "CHARLA_STACK"
STACK_FILE = Path(".stack") / "endpoints.json"
RESOURCE_OUTPUT = "ResourceEnvironment"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Endpoints:
    """Everything a ``charla`` command needs to reach one deployment."""

    region: str | None
    endpoint_url: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)  # AWS_ACCESS_KEY_ID... (local only)
    variables: Mapping[str, str] = field(default_factory=dict)  # CHARLA_QUEUE_URL_*, CHARLA_TABLE_*
    source: str = "the environment"
    log_dir: str | None = None  # the local stack's process logs (``.stack/logs``), for ``charla trace``
    stack_name: str | None = None  # the CloudFormation stack (``--stack``), for its log groups

    def require_queue_urls(self) -> dict[QueueName, str]:
        """Every queue URL known; at least one.

        Raises:
            CliError: None known: no endpoints file, no variables, no ``--stack``.
        """
        urls = self.queue_urls()
        if not urls:
            raise CliError(
                "no charla deployment found (no .stack/endpoints.json here or above, no CHARLA_QUEUE_URL_* set, "
                "no --stack NAME): start the local stack with `make chat`, or pass --stack NAME for AWS",
                EXIT_USAGE,
            )
        return urls

    def require_reachable(self) -> None:
        """Check that something listens at the endpoint, if one is set.

        Said before any call: botocore signs a request before connecting, so an unreachable
        endpoint without credentials would read as "no AWS credentials".

        Raises:
            CliError: Nothing listens there.
        """
        if self.endpoint_url and not _listening(self.endpoint_url):
            raise CliError(
                f"cannot reach {self.endpoint_url} (nothing listens there; from --endpoint-url, AWS_ENDPOINT_URL "
                "or the endpoints file): start the stack it names, or drop the setting to use AWS",
                EXIT_UNREACHABLE,
            )

    def queue_urls(self) -> dict[QueueName, str]:
        found = {q: self.variables.get(env.queue_url_variable(q), "") for q in QueueName}
        return {q: url for q, url in found.items() if url}

    def queue_url(self, queue: QueueName) -> str:
        url = self.variables.get(env.queue_url_variable(queue))
        if not url:
            raise CliError(f"{env.queue_url_variable(queue)} is not set (the {queue} queue's URL; {LOCAL_HINT})", 2)
        return url

    def table(self, table: TableName) -> str:
        variable = TABLE_SPECS[table].variable
        name = self.variables.get(variable)
        if not name:
            raise CliError(f"{variable} is not set (the {table} table's name; {LOCAL_HINT})", EXIT_USAGE)
        return name

    def environment(self) -> dict[str, str]:
        """The variables a process needs to reach this deployment (what ``charla env`` exports)."""
        values: dict[str, str] = {}
        if self.region:
            # Both: the SDKs read AWS_REGION, but boto3 and the AWS CLI read only AWS_DEFAULT_REGION.
            values["AWS_REGION"] = self.region
            values["AWS_DEFAULT_REGION"] = self.region
        if self.endpoint_url:
            values[env.AWS_ENDPOINT_URL] = self.endpoint_url
        values.update(self.credentials)
        values.update(sorted(self.variables.items()))
        return values

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` at this deployment.

        Raises:
            CliError: No region could be found.
        """
        import boto3  # here, not at import: `charla --help` and payload checks stay fast

        if not self.region:
            raise CliError(f"no AWS region: set AWS_REGION or pass --region ({LOCAL_HINT})", EXIT_USAGE)
        session = boto3.session.Session(
            aws_access_key_id=self.credentials.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.credentials.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=self.credentials.get("AWS_SESSION_TOKEN"),
            region_name=self.region,
        )
        return session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]


def write_stack_file(
    path: Path,
    *,
    source: str,
    region: str,
    endpoint_url: str | None,
    credentials: Mapping[str, str],
    variables: Mapping[str, str],
    owner: int | None = None,
    processes: Mapping[str, int] | None = None,
    log_dir: Path | None = None,
) -> Path:
    """Write the endpoints file (the local stack calls this; it holds moto's dummy keys, never a secret).

    ``owner``: the pid of the process the stack lives and dies with (``make chat``); once it is
    gone, ``charla`` calls the file stale instead of trusting whatever still listens there.
    ``processes``: the stack's children by name (``make stop`` ends those still running).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "source": source,
        "region": region,
        "endpoint_url": endpoint_url,
        "credentials": dict(credentials),
        "variables": dict(sorted(variables.items())),
    }
    if log_dir is not None:
        document["logs"] = str(log_dir)
    if owner is not None:
        document["owner"] = {"pid": owner, "started": process_started(owner)}
    if processes:
        document["processes"] = {
            name: {"pid": pid, "started": process_started(pid)} for name, pid in sorted(processes.items())
        }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    temporary.replace(path)  # readers never see half a file
    return path


def stale_reason(document: Mapping[str, Any]) -> str | None:
    """Why an endpoints file no longer describes a running stack (its owner is gone), or None."""
    owner = document.get("owner")
    if not isinstance(owner, Mapping) or not isinstance(owner.get("pid"), int):
        return None  # written by a stack without an owner process (make deploy-local): judged by its port
    if still_running(owner["pid"], owner.get("started")):
        return None
    return f"the process that started it (pid {owner['pid']}) has exited"


def find_stack_file(start: Path) -> Path | None:
    """``.stack/endpoints.json`` in ``start`` or its nearest parent that has one."""
    for directory in (start, *start.parents):
        candidate = directory / STACK_FILE
        if candidate.is_file():
            return candidate
    return None


def _read_stack_file(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"endpoints file {path} does not exist ({LOCAL_HINT})", EXIT_USAGE) from None
    except (OSError, ValueError) as error:
        raise CliError(f"endpoints file {path} is unreadable ({error}); delete it and restart the stack", 2) from None
    return document


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    with contextlib.suppress(OSError), socket.create_connection((parts.hostname, parts.port or 80), timeout=1):
        return True
    return False


def _stack_outputs(stack_name: str, region: str | None, endpoint_url: str | None) -> dict[str, str]:
    probe = Endpoints(region=region, endpoint_url=endpoint_url)
    with aws_errors(f"reading CloudFormation stack {stack_name}"):
        stacks = probe.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if RESOURCE_OUTPUT not in outputs:
        raise CliError(f"stack {stack_name} has no {RESOURCE_OUTPUT} output (is it a charla stack?)", EXIT_USAGE)
    variables: dict[str, str] = json.loads(outputs[RESOURCE_OUTPUT])
    return variables


def _default_region() -> str | None:
    import boto3

    region: str | None = boto3.session.Session().region_name  # ~/.aws/config, AWS_PROFILE
    return region


def resolve(
    *,
    environ: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
    stack_file: Path | None = None,
    stack_name: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> Endpoints:
    """The deployment this command talks to (order in the module docstring).

    Raises:
        CliError: A named endpoints file is missing or unreadable; the local stack it names is
            not running; the CloudFormation stack cannot be read.
    """
    stack_name = stack_name or environ.get(STACK_NAME_VARIABLE) or None
    document: dict[str, Any] = {}
    source = "the environment"
    if not stack_name:
        named = stack_file or (Path(environ[STACK_FILE_VARIABLE]) if environ.get(STACK_FILE_VARIABLE) else None)
        path = named or find_stack_file(cwd or Path.cwd())
        if path is not None:
            document = _read_stack_file(path)
            source = f"{path} ({document.get('source', 'local stack')})"
    region = (
        region
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or document.get("region")
        or _default_region()
    )
    from_file = not (endpoint_url or environ.get(env.AWS_ENDPOINT_URL)) and bool(document.get("endpoint_url"))
    endpoint_url = endpoint_url or environ.get(env.AWS_ENDPOINT_URL) or document.get("endpoint_url") or None
    stale = stale_reason(document) if from_file else None
    if stale:
        raise CliError(
            f"the local stack in {source} is stale ({stale}): start it again with `make chat`, "
            "or run `make stop` to end what it left and remove the file",
            EXIT_UNREACHABLE,
        )
    if from_file and endpoint_url and not _listening(endpoint_url):
        raise CliError(
            f"the local stack in {source} is not running (nothing listens at {endpoint_url}): start it with "
            "`make chat` (or `make deploy-local`), or delete .stack/endpoints.json to use AWS",
            EXIT_UNREACHABLE,
        )
    credentials: dict[str, str] = {}
    if environ.get("AWS_ACCESS_KEY_ID"):
        credentials = {
            k: environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if environ.get(k)
        }
    elif from_file:
        credentials = dict(document.get("credentials") or {})
    variables: dict[str, str] = {}
    if stack_name:
        variables.update(_stack_outputs(stack_name, region, endpoint_url))
        source = f"CloudFormation stack {stack_name}"
    variables.update(document.get("variables") or {})
    charla_variables = {env.queue_url_variable(q) for q in QueueName} | {s.variable for s in TABLE_SPECS.values()}
    variables.update({k: v for k, v in environ.items() if k in charla_variables and v})
    return Endpoints(
        region=region,
        endpoint_url=endpoint_url,
        credentials=credentials,
        variables=variables,
        source=source,
        log_dir=str(document["logs"]) if from_file and document.get("logs") else None,
        stack_name=stack_name,
    )


__all__ = ["EXIT_UNREACHABLE", "Endpoints", "find_stack_file", "resolve", "stale_reason", "write_stack_file"]
