"""cdk-nag findings reviewed and accepted, each with the reason a reviewer signed off on.

Suppressions are attached to the one resource they concern (never stack-wide), and IAM5 ones
name the exact wildcard they accept (``applies_to``). Anything not listed fails ``make synth``.
"""

from typing import TYPE_CHECKING

from aws_cdk import Annotations
from cdk_nag import NagPackSuppression, NagSuppressions

if TYPE_CHECKING:
    from infra.stacks.charla_stack import CharlaStack

SNAP_START_WARNING = "@aws-cdk/aws-lambda:snapStartRequirePublish"


def suppress_reviewed_findings(stack: "CharlaStack") -> None:
    """Attach narrow, resource-level suppressions; anything not listed here fails the synth."""
    ingress = stack.ingress
    # The `live` alias points at `current_version`, so every deploy publishes the version SnapStart needs.
    Annotations.of(ingress.function).acknowledge_warning(
        SNAP_START_WARNING, "the live alias publishes function.current_version on every deploy"
    )
    NagSuppressions.add_resource_suppressions(
        ingress.function,
        [
            NagPackSuppression(
                id="AwsSolutions-L1",
                reason="python3.12 on purpose: the Lambda bundle is built from cp312 arm64 wheels and the "
                "worker image runs 3.12, so both rooms run the interpreter the tests ran; SnapStart "
                "supports it. Moving is one line once the image moves too.",
            )
        ],
    )
    for route in ingress.http_api.node.children:
        if route.node.id.startswith(("POST--", "GET--")):
            NagSuppressions.add_resource_suppressions(
                route,
                [
                    NagPackSuppression(
                        id="AwsSolutions-APIG4",
                        reason="Slack cannot send IAM/Cognito/JWT credentials; every request is authenticated "
                        "in the Lambda by its HMAC signature (Slack signing secret) and timestamp before "
                        "anything is done. /healthz returns no data.",
                    )
                ],
                apply_to_children=True,
            )
    for secret in (stack.secrets.signing_secret, stack.secrets.bot_token):
        NagSuppressions.add_resource_suppressions(
            secret,
            [
                NagPackSuppression(
                    id="AwsSolutions-SMG4",
                    reason="The values are issued by Slack (signing secret, bot token); they are rotated in "
                    "the Slack app settings and then put here (docs/DEPLOY.md). No rotation Lambda can mint them.",
                )
            ],
        )
    if not stack.config.container_insights:
        NagSuppressions.add_resource_suppressions(
            stack.cluster,
            [
                NagPackSuppression(
                    id="AwsSolutions-ECS4",
                    reason="Off by default (container_insights=false, docs/DEPLOY.md): its per-task "
                    "metrics are billed as ~50 custom metrics a month; scaling counts running tasks "
                    "from the workers' own heartbeats, and task logs still go to CloudWatch Logs.",
                )
            ],
        )
    for executor in getattr(stack, "lambda_executors", {}).values():
        NagSuppressions.add_resource_suppressions(
            executor.function,
            [
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason="python3.12 on purpose: the executor runs the worker's task code, which the worker "
                    "image and the tests run on 3.12; its bundle is built from cp312 arm64 wheels.",
                )
            ],
        )
    for worker in stack.workers.values():
        NagSuppressions.add_resource_suppressions(
            worker.task_definition,
            [
                NagPackSuppression(
                    id="AwsSolutions-ECS2",
                    reason="Plain variables hold only queue URLs, table names, the region and the queue to "
                    "consume (not secret, fixed per deploy); the Slack token is injected from Secrets "
                    "Manager through `secrets`.",
                ),
            ],
        )
        # Only the execution role (it pulls the image): the task role's policies stay checked.
        execution_role = worker.task_definition.execution_role
        if execution_role is not None:
            NagSuppressions.add_resource_suppressions(
                execution_role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="ecr:GetAuthorizationToken (pulling the worker image) does not support "
                        "resource-level permissions; every other statement names its repository or secret.",
                        applies_to=["Resource::*"],
                    ),
                ],
                apply_to_children=True,
            )
