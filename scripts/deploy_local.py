"""Deploy the synthesized CDK template into moto's CloudFormation and run the bot on what it created.

    make deploy-local        # npx cdk synth, then: python -m scripts.deploy_local up
    make deploy-local-down   # stops the moto server that holds the deployed stack

``up`` starts (or reuses) a moto server that outlives this command, deploys ``cdk.out`` into it,
checks what CloudFormation created (queues with their redrive policy, tables with TTL), then
runs the walking-skeleton path once (a signed mention -> a reply) with a local ingress and worker
bound to the created queues and tables. It writes ``.stack/deploy-local.json``:
``{"moto_url", "moto_pid", "stack_name", "resources": {VARIABLE: value}}`` for ``make chat``, and
``.stack/endpoints.json`` for ``charla`` commands (both removed by ``down``).

What moto's CloudFormation creates for real and what it only accepts is listed in docs/DEPLOY.md.
"""

import argparse
import contextlib
import functools
import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from contract import environment as env
from contract.queues import QUEUE_SPECS
from contract.tables import TABLE_SPECS
from scripts.processes import free_port, port_open, python_module, wait_until
from scripts.provision import LOCAL_CREDENTIALS, REGION, aws_client_kwargs

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = ROOT / ".stack" / "deploy-local.json"
ENDPOINTS_FILE = ROOT / ".stack" / "endpoints.json"  # what `charla` reads (charla_cli/endpoints.py)
MOTO_ACCOUNT = "123456789012"  # moto's default account id
DEPLOY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Deployment:
    stack_name: str
    outputs: dict[str, str]
    resources: dict[str, str]  # VARIABLE -> queue URL / table name, from the ResourceEnvironment output


def _client(service: str, moto_url: str) -> Any:
    return boto3.client(service, **aws_client_kwargs(moto_url))  # type: ignore[call-overload]


def _stack_artifact(cdk_out: Path) -> tuple[str, Path, Path]:
    """(stack name, template path, assets manifest path) of the one stack in ``cdk_out``."""
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    for name, artifact in manifest["artifacts"].items():
        if artifact["type"] == "aws:cloudformation:stack":
            template = cdk_out / artifact["properties"]["templateFile"]
            return name, template, cdk_out / f"{name}.assets.json"
    raise FileNotFoundError(f"no stack in {cdk_out}; run `make synth` (npx cdk synth) first")


def _substitute(text: str) -> str:
    return (
        text.replace("${AWS::AccountId}", MOTO_ACCOUNT)
        .replace("${AWS::Region}", REGION)
        .replace("${AWS::Partition}", "aws")
    )


def upload_file_assets(moto_url: str, cdk_out: Path, assets_manifest: Path) -> int:
    """Create the bootstrap asset bucket(s) in moto and upload every file asset (zipped if a folder).

    Docker image assets are skipped: no image is built here (the ECS task definition only names it).
    """
    s3 = _client("s3", moto_url)
    assets = json.loads(assets_manifest.read_text()).get("files", {})
    uploaded = 0
    for asset in assets.values():
        source = cdk_out / asset["source"]["path"]
        for destination in asset["destinations"].values():
            bucket = _substitute(destination["bucketName"])
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=bucket)
            if source.is_dir():
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                    for path in sorted(source.rglob("*")):
                        if path.is_file():
                            archive.write(path, path.relative_to(source).as_posix())
                body = buffer.getvalue()
            else:
                body = source.read_bytes()
            s3.put_object(Bucket=bucket, Key=_substitute(destination["objectKey"]), Body=body)
            uploaded += 1
    return uploaded


def _replace_refs(node: Any, refs: Mapping[str, Any], attributes: Mapping[str, str]) -> Any:
    """``node`` with ``Ref``s to the ids in ``refs`` and ``Fn::GetAtt``s to those in ``attributes`` replaced."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in refs:
            return refs[node["Ref"]]
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in attributes:
            return f"{attributes[node['Fn::GetAtt'][0]]}/{node['Fn::GetAtt'][1]}"
        return {key: _replace_refs(value, refs, attributes) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_refs(value, refs, attributes) for value in node]
    return node


def create_secrets(moto_url: str, template: Mapping[str, Any]) -> dict[str, str]:
    """Create the template's Secrets Manager secrets through the API; returns logical id -> ARN.

    moto's CloudFormation has no ``AWS::SecretsManager::Secret``: a ``Ref`` to one would resolve to
    nothing and every IAM statement naming it would be rejected. The secret gets a random
    placeholder value, as the generated one in AWS would.
    """
    client = _client("secretsmanager", moto_url)
    arns: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        name = resource["Properties"].get("Name", logical_id)
        generated = resource["Properties"].get("GenerateSecretString", {})
        value = json.loads(generated.get("SecretStringTemplate", "{}"))
        if "GenerateStringKey" in generated:
            value[generated["GenerateStringKey"]] = client.get_random_password(ExcludePunctuation=True)[
                "RandomPassword"
            ]
        try:
            arns[logical_id] = client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        except client.exceptions.ResourceExistsException:
            arns[logical_id] = client.describe_secret(SecretId=name)["ARN"]
    return arns


# Run in a child process: importing every moto backend has side effects (sockets, threads)
# that should not outlive the question.
_MOTO_TYPES_PROBE = """
import contextlib, json
import moto.backends
from moto.backend_index import backend_url_patterns
from moto.core.common_models import CloudFormationModel

for name in sorted({name for name, _ in backend_url_patterns}):
    with contextlib.suppress(Exception):  # a backend whose optional extras are missing
        moto.backends.get_backend(name)

def subclasses(model):
    for child in model.__subclasses__():
        yield child
        yield from subclasses(child)

print(json.dumps(sorted({model.cloudformation_type() for model in subclasses(CloudFormationModel)})))
"""


@functools.cache
def moto_cloudformation_types() -> frozenset[str]:
    """Resource types moto's CloudFormation creates (its models register as they are imported)."""
    completed = subprocess.run(
        [sys.executable, "-c", _MOTO_TYPES_PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    return frozenset(json.loads(completed.stdout.strip().splitlines()[-1]))


def split_by_support(template: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(types moto creates, types it only accepts as placeholders) among the template's resources."""
    used = {resource["Type"] for resource in template["Resources"].values()}
    supported = moto_cloudformation_types()
    return sorted(used & supported), sorted(used - supported)


def local_template(template_path: Path, moto_url: str) -> str:
    """The template as moto's CloudFormation can create it.

    Changes, each for something moto lacks (docs/DEPLOY.md lists them): the bootstrap-version
    check goes (there is no bootstrap stack in moto); secrets are created through the API and
    referenced by ARN (see ``create_secrets``); references to a Lambda alias point at its
    function; and other resources moto only accepts as placeholders are referenced by
    placeholder strings (moto would resolve them to nothing, which IAM and EventBridge reject).
    """
    template = json.loads(template_path.read_text())
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for key in ("Parameters", "Rules"):
        if key in template and not template[key]:
            del template[key]
    refs: dict[str, Any] = dict(create_secrets(moto_url, template))
    attributes: dict[str, Any] = {}
    supported = moto_cloudformation_types()
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Alias":
            # An alias's Ref is its ARN; the function's ARN is the closest thing moto has.
            refs[logical_id] = {"Fn::GetAtt": [resource["Properties"]["FunctionName"]["Ref"], "Arn"]}
        elif resource["Type"] not in supported and logical_id not in refs:
            refs[logical_id] = f"moto-placeholder-{logical_id}"
            attributes[logical_id] = f"arn:aws:placeholder:{REGION}:{MOTO_ACCOUNT}:{logical_id}"
    for logical_id in refs:
        if template["Resources"][logical_id]["Type"] in ("AWS::SecretsManager::Secret", "AWS::Lambda::Alias"):
            del template["Resources"][logical_id]
    return json.dumps(_replace_refs(template, refs, attributes))


def deploy(moto_url: str, cdk_out: Path, *, stack_name: str | None = None) -> Deployment:
    """Create (or re-create) the stack from ``cdk_out`` in moto and return its outputs.

    Raises:
        RuntimeError: CloudFormation did not reach CREATE_COMPLETE; the message has its events.
    """
    artifact_name, template_path, assets_manifest = _stack_artifact(cdk_out)
    stack_name = stack_name or artifact_name
    upload_file_assets(moto_url, cdk_out, assets_manifest)
    cloudformation = _client("cloudformation", moto_url)
    with contextlib.suppress(cloudformation.exceptions.ClientError):
        cloudformation.delete_stack(StackName=stack_name)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=local_template(template_path, moto_url),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )

    def finished() -> dict[str, Any] | None:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        return None if stack["StackStatus"].endswith("_IN_PROGRESS") else stack

    stack = wait_until(finished, timeout=DEPLOY_TIMEOUT_S, interval=0.5, message=f"stack {stack_name}")
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        failed = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
            for e in events
            if e["ResourceStatus"].endswith("FAILED")
        ]
        raise RuntimeError(f"{stack_name} ended {stack['StackStatus']}: " + "; ".join(failed))
    apply_ignored_table_settings(moto_url, stack_name, json.loads(template_path.read_text()))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return Deployment(stack_name, outputs, json.loads(outputs["ResourceEnvironment"]))


def apply_ignored_table_settings(moto_url: str, stack_name: str, template: Mapping[str, Any]) -> list[str]:
    """Apply each table's ``TimeToLiveSpecification`` through the API; returns the tables changed.

    moto 5.2's CloudFormation creates the table but drops its TTL (and PITR) settings; AWS applies
    them. Reading them from the template keeps the local tables expiring items as the deployed
    ones do. The template's settings themselves are checked in tests/infra/test_stack.py.
    """
    cloudformation = _client("cloudformation", moto_url)
    dynamodb = _client("dynamodb", moto_url)
    physical = {
        r.get("LogicalResourceId"): r.get("PhysicalResourceId")
        for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    changed: list[str] = []
    for logical_id, resource in template["Resources"].items():
        ttl = resource.get("Properties", {}).get("TimeToLiveSpecification")
        if resource["Type"] != "AWS::DynamoDB::Table" or not ttl or not ttl.get("Enabled"):
            continue
        name = physical[logical_id]
        status = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"]
        if status == "DISABLED":
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
            changed.append(name)
    return changed


def check_created_resources(moto_url: str, resources: Mapping[str, str]) -> list[str]:
    """Check the queues and tables CloudFormation created; returns one line per checked resource.

    Raises:
        AssertionError: A queue lacks its redrive policy or visibility timeout, or a table its TTL.
    """
    sqs = _client("sqs", moto_url)
    dynamodb = _client("dynamodb", moto_url)
    lines: list[str] = []
    for spec in QUEUE_SPECS.values():
        url = resources[env.queue_url_variable(spec.name)]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert int(redrive["maxReceiveCount"]) == spec.max_receive_count, (url, redrive)
        assert int(attributes["VisibilityTimeout"]) == spec.visibility_timeout_s, (url, attributes)
        lines.append(f"queue {spec.name}: {url} (dlq {redrive['deadLetterTargetArn'].rsplit(':', 1)[-1]})")
    for table_spec in TABLE_SPECS.values():
        name = resources[table_spec.variable]
        dynamodb.describe_table(TableName=name)
        if table_spec.ttl_attribute:
            ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            assert ttl.get("AttributeName") == table_spec.ttl_attribute, (name, ttl)
            assert ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"), (name, ttl)
        lines.append(f"table {table_spec.name}: {name}")
    return lines


# -- the long-lived moto server ---------------------------------------------------------------


def _read_state() -> dict[str, Any] | None:
    if not STATE_FILE.exists():
        return None
    state: dict[str, Any] = json.loads(STATE_FILE.read_text())
    return state


def _moto_alive(state: Mapping[str, Any]) -> bool:
    port = int(str(state["moto_url"]).rsplit(":", 1)[-1])
    return port_open(port)


def deployed_stack() -> tuple[str, dict[str, str]] | None:
    """``(moto_url, resources)`` of the stack ``make deploy-local`` left running, or None.

    For ``make chat``: ``DevStack(moto_url=moto_url, resources=resources)`` then talks to the
    queues and tables that CloudFormation created instead of provisioning its own.
    """
    state = _read_state()
    if not state or not _moto_alive(state):
        return None
    return str(state["moto_url"]), dict(state["resources"])


def start_detached_moto() -> tuple[str, int]:
    """A moto server in its own session that outlives this command; returns (url, pid).

    ``posix_spawn`` rather than ``Popen``: nothing in this process waits for the server, on
    purpose, and a ``Popen`` object would complain about that when collected.
    """
    port = free_port()
    log_path = STATE_FILE.parent / "moto.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHARLA_"))}
    environ.update(LOCAL_CREDENTIALS)
    argv = python_module("moto.server", "-H", "127.0.0.1", "-p", str(port))
    pid = os.posix_spawn(
        argv[0],
        argv,
        environ,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    wait_until(lambda: port_open(port), timeout=60, message=f"moto on port {port} (log: {log_path})")
    return f"http://127.0.0.1:{port}", pid


def smoke_test(moto_url: str, resources: Mapping[str, str]) -> dict[str, Any]:
    """One signed mention through a local ingress and worker bound to the deployed resources."""
    from scripts.slack_requests import app_mention
    from scripts.stack import DevStack

    with DevStack(moto_url=moto_url, resources=resources, sqs_wait_time_seconds=1) as stack:
        response = stack.post_event(app_mention("ping"))
        if response.status != 200:
            raise RuntimeError(f"ingress answered {response.status}: {response.body!r}\n{stack.logs()}")
        reply: dict[str, Any] = stack.wait_for_replies(1, timeout=30)[0]
        return reply


def up(cdk_out: Path) -> None:
    state = _read_state()
    if state and _moto_alive(state):
        moto_url, moto_pid = state["moto_url"], int(state["moto_pid"])
        print(f"reusing moto at {moto_url}")
    else:
        moto_url, moto_pid = start_detached_moto()
        print(f"started moto at {moto_url} (pid {moto_pid})")
    deployment = deploy(moto_url, cdk_out)
    print(f"deployed {deployment.stack_name} into moto's CloudFormation")
    for line in check_created_resources(moto_url, deployment.resources):
        print(f"  {line}")
    STATE_FILE.write_text(
        json.dumps(
            {
                "moto_url": moto_url,
                "moto_pid": moto_pid,
                "stack_name": deployment.stack_name,
                "region": REGION,
                "resources": deployment.resources,
                "outputs": deployment.outputs,
            },
            indent=2,
        )
        + "\n"
    )
    from charla_cli.endpoints import write_stack_file

    write_stack_file(
        ENDPOINTS_FILE,
        source=f"make deploy-local ({deployment.stack_name})",
        region=REGION,
        endpoint_url=moto_url,
        credentials=LOCAL_CREDENTIALS,
        variables=deployment.resources,
    )
    reply = smoke_test(moto_url, deployment.resources)
    print(f"mention 'ping' -> reply: {reply.get('text', '')!r}")
    print(f"stack left up; endpoints in {ENDPOINTS_FILE} (`charla env`); stop with `make deploy-local-down`")
    print("no worker runs now: `make chat` starts one on these queues (`charla workers` shows it)")


def down() -> None:
    state = _read_state()
    if not state:
        print("nothing to stop")
        return
    pid = int(state["moto_pid"])
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    wait_until(lambda: not _moto_alive(state), timeout=10, message="moto to stop")
    with contextlib.suppress(ChildProcessError):  # reap it if this process started it
        os.waitpid(pid, 0)
    STATE_FILE.unlink()
    ENDPOINTS_FILE.unlink(missing_ok=True)
    print(f"stopped moto (pid {state['moto_pid']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out")
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.cdk_out)
    else:
        down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
