"""The CDK app: read config from context, build the stack, check it with cdk-nag.

Run through the pinned CLI (``npx cdk synth`` / ``make synth``); cdk.json points here.
"""

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEYS, CharlaConfig, SettingError
from infra.settings import not_kept, saved_settings
from infra.stacks.charla_stack import CharlaStack


def build_app(app: cdk.App | None = None) -> tuple[cdk.App, CharlaStack]:
    """The app with the stack and AwsSolutions checks attached (they run at synth)."""
    app = app or cdk.App()
    config = CharlaConfig.from_context(app.node.try_get_context)
    stack = CharlaStack(
        app,
        config.stack_name,
        config=config,
        description="charla: Slack bot (API Gateway + Lambda ingress, SQS, Celery on Fargate)",
        # Account/region come from the CLI's credentials at deploy time; synth stays offline.
        env=cdk.Environment(
            account=app.node.try_get_context("account") or None,
            region=app.node.try_get_context("region") or None,
        ),
    )
    # Settings given with -c only are not kept: say so before `cdk deploy` deploys anything.
    for warning in not_kept(app.node.try_get_context, CONTEXT_KEYS, saved_settings()):
        cdk.Annotations.of(stack).add_warning_v2("charla:SettingNotKept", warning)
    cdk.Tags.of(app).add("project", "charla")
    cdk.Tags.of(app).add("environment", config.env_name)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except SettingError as error:
        # One line naming the setting and what it accepts; a traceback would bury it.
        print(f"charla: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app.synth()


if __name__ == "__main__":
    main()
