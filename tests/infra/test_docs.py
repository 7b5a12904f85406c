"""docs/DEPLOY.md and README.md against the code: every documented ``-c`` example synthesizes
into a deploy that can run, the cost figures are the cost model's, and the walkthrough names the
steps a new account needs. (The walkthrough's commands are rehearsed in test_deploy_local.py.)
"""

import json
import re

import pytest
from aws_cdk.assertions import Annotations, Match

from infra.config import CONTEXT_KEYS, CharlaConfig
from scripts import cost
from tests.infra.conftest import ROOT, Synthesized
from tests.infra.docs_examples import examples, profiles

pytestmark = [pytest.mark.infra, pytest.mark.slow]

Synths = dict[tuple[tuple[str, str], ...], Synthesized]
DEPLOY_MD = (ROOT / "docs" / "DEPLOY.md").read_text()


def test_the_docs_examples_are_found_and_use_known_keys() -> None:
    found = examples()
    assert len(found) >= 5, found
    for example in found:
        for key, _ in example.context:
            assert key in CONTEXT_KEYS, f"{example.source}: unknown context key {key!r} in {example.command!r}"
    assert [p.name for p in profiles()] == ["small", "default"]  # the one a small team should pick first


def test_every_documented_example_synthesizes_a_deploy_that_can_run(doc_synths: Synths) -> None:
    for example in examples():
        synth = doc_synths[example.key]
        where = f"{example.source}: {example.command}"
        errors = Annotations.from_stack(synth.stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
        assert [e.entry.data for e in errors] == [], where
        # Each documented value reached the config (nothing silently ignored).
        parsed = CharlaConfig.from_context(dict(example.context).get)
        for key, _ in example.context:
            assert getattr(synth.stack.config, key) == getattr(parsed, key), where
        # Spot places Linux ARM64 tasks on platform 1.4.0 or later: every service asks for LATEST.
        for service in synth.resources("AWS::ECS::Service").values():
            assert service["Properties"]["PlatformVersion"] == "LATEST", where


def test_a_private_ecr_worker_image_can_be_pulled_by_the_execution_roles(doc_synths: Synths) -> None:
    (example,) = [e for e in examples() if ".dkr.ecr." in dict(e.context).get("worker_image", "")]
    synth = doc_synths[example.key]
    repository = dict(example.context)["worker_image"].split("/", 1)[1].split(":")[0]
    for worker in synth.stack.workers.values():
        role_id = synth.stack.get_logical_id(worker.task_definition.execution_role.node.default_child)
        statements = [
            statement
            for policy in synth.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        pull = [s for s in statements if "ecr:BatchGetImage" in s["Action"]]
        assert pull, "the execution role cannot pull the private image"
        assert json.dumps(pull[0]["Resource"]).endswith(f':repository/{repository}"]]}}')


def _estimates(doc_synths: Synths) -> dict[str, cost.Estimate]:
    estimates = {}
    for profile in profiles():
        synth = doc_synths[tuple(sorted(profile.context))]
        shape = cost.shape_from_template(synth.template_json, source=profile.name)
        estimates[profile.name] = cost.charla_estimate(shape, design=profile.name)
    return estimates


def test_cost_at_rest_in_deploy_md_and_readme_is_the_cost_models(doc_synths: Synths) -> None:
    estimates = _estimates(doc_synths)
    for profile in profiles():
        assert profile.documented_usd == estimates[profile.name].at_rest_total, (
            f"docs/DEPLOY.md says ${profile.documented_usd} for {profile.name}; the model says "
            f"${estimates[profile.name].at_rest_total}"
        )
    table = cost.at_rest_markdown(estimates)
    assert table in DEPLOY_MD, f"replace the cost table in docs/DEPLOY.md with:\n{table}"
    # The goals: the default (a warm Celery worker) <= $12 at rest, the small profile <= $2.
    assert estimates["default"].at_rest_total <= 12 and estimates["small"].at_rest_total <= 2
    # The basis is said, with the figure in an account whose allowance is used elsewhere.
    for name, estimate in estimates.items():
        who = "the default" if name == "default" else name
        assert f"${cost.without_allowance(estimate):.2f} for {who}" in " ".join(DEPLOY_MD.split())


def test_one_figure_per_profile_everywhere_it_is_quoted(doc_synths: Synths) -> None:
    """README.md, docs/DEPLOY.md and docs/BENCHMARKS.md quote each profile's at-rest cost, and
    every dollar-per-month figure README gives is one of them."""
    estimates = _estimates(doc_synths)
    readme = (ROOT / "README.md").read_text()
    benchmarks = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    for name, estimate in estimates.items():
        figure = f"${estimate.at_rest_total:.2f}"
        for where, text in (("README.md", readme), ("docs/DEPLOY.md", DEPLOY_MD), ("docs/BENCHMARKS.md", benchmarks)):
            assert figure in text, f"{where} does not quote {name}'s {figure}/month"
    quoted = set(re.findall(r"\$(\d+\.\d\d)(?:/month| a month)", readme))
    assert quoted <= {f"{e.at_rest_total:.2f}" for e in estimates.values()}, quoted
    # README leads with the profile a small team should pick.
    deploy = readme.split("## Deploy to AWS", 1)[1]
    assert deploy.index("profile") < deploy.index("npx cdk deploy"), "README: the small profile first"


def test_every_profile_runs_spot_arm64_without_container_insights(doc_synths: Synths) -> None:
    for profile in profiles():
        synth = doc_synths[tuple(sorted(profile.context))]
        assert synth.stack.config.fargate_spot and synth.stack.config.arm64
        assert synth.stack.config.container_insights is False
        # Without Container Insights no alarm may read RunningTaskCount: it would never have data.
        alarms = json.dumps(synth.resources("AWS::CloudWatch::Alarm"))
        assert "RunningTaskCount" not in alarms and "ApproximateNumberOfMessagesNotVisible" in alarms
        synth.template.has_resource_properties(
            "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}]}
        )


def test_no_deploy_line_in_the_docs_depends_on_a_remembered_flag() -> None:
    """Settings live in cdk.json: a documented `npx cdk deploy -c ...` would be undone by the next
    plain deploy (the profile switched back, the alarm subscriber dropped). `-c` appears only on
    `npx cdk synth` previews."""
    from tests.infra.docs_examples import DOCS, commands, context_of

    for path in DOCS:
        for line, command in commands(path.read_text()):
            if command.startswith("npx cdk deploy") or " npx cdk deploy" in command:
                assert not context_of(command), f"{path.name}:{line}: {command}"


def test_the_walkthrough_names_each_first_deploy_step() -> None:
    walkthrough = _words(DEPLOY_MD.split("## From an empty account", 1)[1].split("\n## Configuration", 1)[0])
    prerequisites = _words(DEPLOY_MD.split("## Prerequisites", 1)[1].split("\n## ", 1)[0])
    # The service-linked role: the command, and the error a user would otherwise meet.
    assert "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com" in walkthrough
    assert "Unable to assume the service linked role" in prerequisites
    # alarm_email: set it, and confirm the subscription, or alarms reach nobody.
    assert "alarm_email" in walkthrough and "confirm" in walkthrough
    # After a secret change: no redeploy for the signing secret; the workers' restart by name.
    assert "without a redeploy" in walkthrough
    assert re.search(r"aws ecs update-service --cluster \S+ --service \S+ --force-new-deployment", walkthrough)
    assert "ClusterName" in walkthrough and "RepliesServiceName" in walkthrough
    assert "@charla ping" in walkthrough and "npx cdk destroy" in walkthrough


def _words(text: str) -> str:
    """``text`` with every run of whitespace (line wraps included) as one space."""
    return " ".join(text.split())
