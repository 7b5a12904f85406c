"""The synthesized template deployed into moto's CloudFormation, then a mention answered through it."""

import contextlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contract import environment as env
from contract.queues import QUEUE_SPECS
from contract.tables import TABLE_SPECS
from infra.config import CharlaConfig
from scripts import deploy_local
from scripts.processes import wait_until
from scripts.provision import REGION
from scripts.slack_requests import app_mention, signed_url_verification
from scripts.stack import DevStack
from tests.infra.conftest import ROOT, Synthesized, cdk_json_context
from tests.infra.walkthrough import Shell, sh_commands, steps

pytestmark = [pytest.mark.infra, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployment(synth: Synthesized, moto_url: str) -> deploy_local.Deployment:
    return deploy_local.deploy(moto_url, synth.outdir)


def test_cloudformation_created_the_queues_with_their_redrive_policy(
    moto_url: str, deployment: deploy_local.Deployment
) -> None:
    sqs = deploy_local._client("sqs", moto_url)
    for spec in QUEUE_SPECS.values():
        url = deployment.resources[env.queue_url_variable(spec.name)]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert int(redrive["maxReceiveCount"]) == spec.max_receive_count
        dlq_name = redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
        assert sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]  # the DLQ exists too
        assert int(attributes["VisibilityTimeout"]) == spec.visibility_timeout_s
        assert int(attributes["ReceiveMessageWaitTimeSeconds"]) == 20


def test_cloudformation_created_every_contract_table_with_its_keys_and_ttl(
    moto_url: str, deployment: deploy_local.Deployment
) -> None:
    dynamodb = deploy_local._client("dynamodb", moto_url)
    for spec in TABLE_SPECS.values():
        table = dynamodb.describe_table(TableName=deployment.resources[spec.variable])["Table"]
        assert table["KeySchema"][0] == {"AttributeName": spec.partition_key, "KeyType": "HASH"}
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert deploy_local.check_created_resources(moto_url, deployment.resources)  # TTL included


def test_cloudformation_created_roles_function_and_worker_services(
    moto_url: str, deployment: deploy_local.Deployment
) -> None:
    cloudformation = deploy_local._client("cloudformation", moto_url)
    resources = cloudformation.describe_stack_resources(StackName=deployment.stack_name)["StackResources"]
    created = {r.get("ResourceType") for r in resources}
    assert {
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::EC2::VPC",
    } <= created
    lambda_client = deploy_local._client("lambda", moto_url)
    (function,) = lambda_client.list_functions()["Functions"]
    assert function["Runtime"] == "python3.12" and function["Handler"] == "lambda_handler.main.handler"
    ecs = deploy_local._client("ecs", moto_url)
    (cluster,) = ecs.list_clusters()["clusterArns"]
    assert len(ecs.list_services(cluster=cluster)["serviceArns"]) == len(QUEUE_SPECS)
    outputs = deployment.outputs
    assert outputs["SlackRequestUrl"].endswith("/slack/events")
    assert outputs["SlackSigningSecretName"].startswith("charla/")
    assert outputs["SlackBotTokenSecretName"].startswith("charla/")


def test_a_signed_mention_is_answered_through_the_deployed_queues(
    moto_url: str, deployment: deploy_local.Deployment
) -> None:
    with DevStack(moto_url=moto_url, resources=deployment.resources, sqs_wait_time_seconds=1) as stack:
        assert stack.post_event(app_mention("ping")).status == 200
        (reply,) = stack.wait_for_replies(1, timeout=30)
        assert reply["text"].startswith("pong")
        assert reply["thread_ts"]  # answered in the thread of the mention
    # The message went through the queue CloudFormation created (nothing was provisioned).
    sqs = deploy_local._client("sqs", moto_url)
    names = [url.rsplit("/", 1)[-1] for url in sqs.list_queues().get("QueueUrls", [])]
    assert all(name.startswith(deployment.stack_name) for name in names), names


def test_slack_setup_rehearsal_the_stored_signing_secret_is_used_without_a_redeploy_or_restart(
    moto_url: str, deployment: deploy_local.Deployment
) -> None:
    """docs/DEPLOY.md's order of events: Slack verifies the URL while the secret is a placeholder
    (401), the operator runs put-secret-value, presses Retry: the challenge comes back."""
    cloudformation = deploy_local._client("cloudformation", moto_url)
    (function,) = [
        r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName=deployment.stack_name)["StackResources"]
        if r.get("ResourceType") == "AWS::Lambda::Function"
    ]
    # The ingress reads the secret the deployed function names (the stack's own placeholder secret).
    deployed = deploy_local._client("lambda", moto_url).get_function_configuration(FunctionName=function)
    variables = deployed["Environment"]["Variables"]
    secret_arn = variables[env.SLACK_SIGNING_SECRET_ARN]
    assert env.SLACK_BOT_TOKEN_SECRET_ARN not in variables  # the internet-facing ingress never gets the token
    secrets = deploy_local._client("secretsmanager", moto_url)
    assert secrets.describe_secret(SecretId=secret_arn)["Name"] == deployment.outputs["SlackSigningSecretName"]

    with DevStack(
        moto_url=moto_url,
        resources=deployment.resources,
        worker_queues=[],
        extra_env={env.SLACK_SIGNING_SECRET_ARN: secret_arn},
    ) as stack:
        ingress_pid = stack.processes["ingress"].pid
        before = stack.post(signed_url_verification("from-slack", stack.signing_secret))
        secrets.put_secret_value(
            SecretId=deployment.outputs["SlackSigningSecretName"],
            SecretString=json.dumps({env.SECRET_KEY_SIGNING_SECRET: stack.signing_secret}),
        )
        retried = wait_until(  # the operator presses Retry in Slack's settings, for up to a minute
            lambda: (
                r if (r := stack.post(signed_url_verification("retry", stack.signing_secret))).status == 200 else None
            ),
            timeout=60,
            interval=1.0,
            message="the stored signing secret to be used",
        )
        assert stack.processes["ingress"].pid == ingress_pid

    assert before.status == 401
    assert retried.json() == {"challenge": "retry"}


def test_moto_support_split_is_what_docs_deploy_md_states(synth: Synthesized) -> None:
    created, placeholders = deploy_local.split_by_support(synth.template_json)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "DEPLOY.md").read_text()
    for resource_type in [*created, *placeholders]:
        if resource_type != "AWS::CDK::Metadata":
            assert resource_type in docs, f"docs/DEPLOY.md does not say how {resource_type} is checked"
    assert "AWS::SQS::Queue" in created and "AWS::DynamoDB::Table" in created
    assert REGION == "us-east-1"


def test_up_leaves_the_deployed_stack_running_for_chat_and_down_stops_it(
    synth: Synthesized, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy_local, "STATE_FILE", tmp_path / ".stack" / "deploy-local.json")
    try:
        assert deploy_local.main(["up", "--cdk-out", str(synth.outdir)]) == 0
        assert "mention 'ping' -> reply: 'pong" in capsys.readouterr().out
        deployed = deploy_local.deployed_stack()
        assert deployed is not None
        moto_url, resources = deployed
        assert set(resources) == {env.queue_url_variable(q) for q in QUEUE_SPECS} | {
            s.variable for s in TABLE_SPECS.values()
        }
        # What make chat would do: a fresh local ingress + worker on the deployed queues and tables.
        with DevStack(moto_url=moto_url, resources=resources, sqs_wait_time_seconds=1) as stack:
            assert stack.post_event(app_mention("help")).status == 200
            assert stack.wait_for_replies(1, timeout=30)[0]["text"]
    finally:
        deploy_local.main(["down"])
    assert deploy_local.deployed_stack() is None
    assert not deploy_local.STATE_FILE.exists()


def test_the_worker_health_check_passes_on_a_running_worker_and_fails_on_a_process_without_a_pool(
    synth: Synthesized, moto_url: str, deployment: deploy_local.Deployment
) -> None:
    task = next(iter(synth.resources("AWS::ECS::TaskDefinition").values()))["Properties"]
    (container,) = task["ContainerDefinitions"]
    command = container["HealthCheck"]["Command"]
    assert command[0] == "CMD" and command[1] == "python"  # the image's venv python, cwd /app
    deployed = {e["Name"]: e["Value"] for e in container["Environment"]}
    # The deployed pool (threads) runs in PID 1 itself; the check counts children only for
    # prefork, which is what this test runs to see it count them.
    prefork = {env.WORKER_POOL: "prefork", env.WORKER_CONCURRENCY: "2"}

    def check(pid: int, pool: dict[str, str]) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, *command[2:], "--pid", str(pid)]
        environment = {**os.environ, **pool}
        return subprocess.run(argv, check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=30)

    with DevStack(
        moto_url=moto_url,
        resources=deployment.resources,
        sqs_wait_time_seconds=1,
        worker_concurrency=2,
        worker_pool="prefork",
    ) as stack:
        worker = stack.processes["worker"]
        assert wait_until(lambda: check(worker.pid, prefork).returncode == 0, timeout=30, message="a healthy pool")
        # A process without pool children (the ingress) is what a dead prefork pool looks like.
        failed = check(stack.processes["ingress"].pid, prefork)
        assert failed.returncode == 1 and "0 of 2 pool processes" in failed.stderr
        as_deployed = {name: deployed[name] for name in (env.WORKER_POOL, env.WORKER_CONCURRENCY)}
        assert as_deployed == {env.WORKER_POOL: env.DEFAULT_WORKER_POOL, env.WORKER_CONCURRENCY: "16"}
        assert check(stack.processes["ingress"].pid, as_deployed).returncode == 0


def test_a_worker_reads_a_rotated_bot_token_from_the_deployed_secret_without_a_restart(
    moto_url: str, deployment: deploy_local.Deployment
) -> None:
    """DEPLOY.md step 10 against the stack's own token secret: the worker holds the old token,
    Slack starts refusing it, the operator puts the new one; the next answer goes out with it."""
    from scripts.slack_requests import signed_event
    from scripts.stack import http

    secrets_client = deploy_local._client("secretsmanager", moto_url)
    token_arn = secrets_client.describe_secret(SecretId=deployment.outputs["SlackBotTokenSecretName"])["ARN"]
    with DevStack(
        moto_url=moto_url,
        resources=deployment.resources,
        sqs_wait_time_seconds=1,
        extra_env={env.SLACK_BOT_TOKEN_SECRET_ARN: token_arn},
    ) as stack:
        worker_pid = stack.processes["worker"].pid
        new_token = f"xoxb-rotated-{secrets.token_hex(8)}"
        secrets_client.put_secret_value(
            SecretId=deployment.outputs["SlackBotTokenSecretName"],
            SecretString=json.dumps({env.SECRET_KEY_BOT_TOKEN: new_token}),
        )
        http(  # Slack now refuses the old token: invalid_auth
            "POST",
            stack.slack_url + "/_faults",
            body=json.dumps({"token": new_token}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert stack.post(signed_event(app_mention("ping", channel="C0ROTATED"), stack.signing_secret)).status == 200
        replies = wait_until(
            lambda: [r for r in stack.recorded() if r.get("channel") == "C0ROTATED"],
            timeout=30,
            message=lambda: f"the answer posted with the rotated token; logs:\n{stack.logs()}",
        )
        assert len(replies) == 1
        assert stack.processes["worker"].pid == worker_pid
        assert new_token not in stack.logs()


# -- docs/DEPLOY.md, rehearsed: runs last in this module, because its final step tears down --------

WALKTHROUGH = "From an empty account to `@charla ping`"


def test_the_deploy_walkthrough_runs_step_by_step_against_the_deployed_stack(
    moto_url: str, deployment: deploy_local.Deployment, tmp_path: Path
) -> None:
    docs = (ROOT / "docs" / "DEPLOY.md").read_text()
    cloudformation = deploy_local._client("cloudformation", moto_url)
    secretsmanager = deploy_local._client("secretsmanager", moto_url)

    def cdk(arguments: list[str]) -> None:
        if arguments[0] == "deploy":  # deploy-local did this; the documented context must be valid
            options: dict[str, str] = {}
            for flag, value in zip(arguments[1::2], arguments[2::2], strict=True):
                assert flag == "-c", arguments
                key, _, raw = value.partition("=")
                options[key] = raw
            CharlaConfig.from_context({**cdk_json_context(), **options}.get)
        elif arguments == ["destroy"]:
            try:
                cloudformation.delete_stack(StackName=deployment.stack_name)
            except cloudformation.exceptions.ClientError as error:
                # moto 5.2 deletes the VPC before its flow log and reports it, yet removes the stack.
                assert "DependencyViolation" in str(error) and "vpc" in str(error), error
        else:
            raise AssertionError(f"cdk {arguments}: not rehearsed")

    shell = Shell(client=lambda service: deploy_local._client(service, moto_url), cdk=cdk, cwd=tmp_path)
    signing_secret, bot_token = secrets.token_hex(16), f"xoxb-{secrets.token_hex(8)}"
    done: list[int] = []
    with contextlib.ExitStack() as cleanup:
        stack: DevStack | None = None
        for step in steps(docs, WALKTHROUGH):
            if step.number == 5:  # the files the step tells the user to write
                (tmp_path / "signing-secret.json").write_text(
                    json.dumps({env.SECRET_KEY_SIGNING_SECRET: signing_secret})
                )
                (tmp_path / "bot-token.json").write_text(json.dumps({env.SECRET_KEY_BOT_TOKEN: bot_token}))
            for command in step.commands:
                shell.run(command)
            if step.number == 3:
                assert shell.variables["URL"] == deployment.outputs["SlackRequestUrl"]
                assert shell.variables["CLUSTER"] and shell.variables["REPLIES"] and shell.variables["BULK"]
            elif step.number == 4:  # the manifest with REQUEST_URL replaced points Slack at the stack
                manifest = yaml.safe_load(
                    (ROOT / "slack" / "manifest.yaml").read_text().replace("REQUEST_URL", shell.variables["URL"])
                )
                assert manifest["settings"]["event_subscriptions"]["request_url"] == shell.variables["URL"]
                assert manifest["features"]["slash_commands"][0]["url"] == shell.variables["URL"]
                assert "REQUEST_URL" not in json.dumps(manifest)
            elif step.number == 5:
                stored = [
                    json.loads(secretsmanager.get_secret_value(SecretId=deployment.outputs[name])["SecretString"])
                    for name in ("SlackSigningSecretName", "SlackBotTokenSecretName")
                ]
                assert stored == [
                    {env.SECRET_KEY_SIGNING_SECRET: signing_secret},
                    {env.SECRET_KEY_BOT_TOKEN: bot_token},
                ]
            elif step.number == 6:  # Slack's Retry: an ingress reading the secret the stack created
                arns = {
                    variable: secretsmanager.describe_secret(SecretId=deployment.outputs[output])["ARN"]
                    for variable, output in (
                        (env.SLACK_SIGNING_SECRET_ARN, "SlackSigningSecretName"),
                        (env.SLACK_BOT_TOKEN_SECRET_ARN, "SlackBotTokenSecretName"),
                    )
                }
                stack = cleanup.enter_context(
                    DevStack(
                        moto_url=moto_url,
                        resources=deployment.resources,
                        sqs_wait_time_seconds=1,
                        extra_env=arns,
                    )
                )
                stack.signing_secret = signing_secret  # what Slack signs with: the value just put
                answer = stack.post(signed_url_verification("rehearsal-challenge", signing_secret))
                assert answer.status == 200 and b"rehearsal-challenge" in answer.body, stack.logs()
            elif step.number == 7:
                ecs = deploy_local._client("ecs", moto_url)
                services = ecs.describe_services(
                    cluster=shell.variables["CLUSTER"], services=[shell.variables["REPLIES"], shell.variables["BULK"]]
                )["services"]
                assert len(services) == 2
            elif step.number == 9:
                assert stack is not None
                assert stack.post_event(app_mention("ping")).status == 200
                (reply,) = stack.wait_for_replies(1, timeout=30)
                assert reply["text"].startswith("pong")
            done.append(step.number)
    assert done == list(range(1, len(done) + 1)) and len(done) >= 8
    assert shell.offline_only == ["npx cdk bootstrap aws://ACCOUNT_ID/REGION", "make synth"]
    iam = deploy_local._client("iam", moto_url)
    # (moto names it AWSServiceRoleForecs; AWS names it AWSServiceRoleForECS: the path is what both share)
    assert iam.list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]

    for command in sh_commands(docs, "Tear down"):
        shell.run(command)

    def deleted() -> bool:
        try:
            status = cloudformation.describe_stacks(StackName=deployment.stack_name)["Stacks"][0]["StackStatus"]
        except cloudformation.exceptions.ClientError:
            return True
        return status == "DELETE_COMPLETE"

    wait_until(deleted, timeout=60, message="the stack deleted")
    for name in ("SlackSigningSecretName", "SlackBotTokenSecretName"):  # retained, then removed as documented
        assert "DeletedDate" in secretsmanager.describe_secret(SecretId=deployment.outputs[name])
    dynamodb = deploy_local._client("dynamodb", moto_url)
    for spec in TABLE_SPECS.values():  # retained: the bot's memory survives cdk destroy
        assert dynamodb.describe_table(TableName=deployment.resources[spec.variable])["Table"]
