"""cdk-nag (AwsSolutions) finds nothing unsuppressed; cfn-lint finds no error; suppressions are narrow."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match

from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.infra]


def test_cdk_nag_aws_solutions_has_no_unsuppressed_findings(synth: Synthesized) -> None:
    annotations = Annotations.from_stack(synth.stack)
    errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [(e.id, e.entry.data) for e in errors] == []
    assert [(w.id, w.entry.data) for w in warnings] == []


def test_cdk_nag_actually_ran_and_every_suppression_has_a_reason(synth: Synthesized) -> None:
    report = next(synth.outdir.glob("AwsSolutions-*-NagReport.csv")).read_text()
    assert "Suppressed" in report and "Compliant" in report  # the pack ran over the stack
    suppressed = 0
    for resource in synth.template_json["Resources"].values():
        for suppression in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            suppressed += 1
            assert len(suppression["reason"]) >= 60, suppression
            if suppression["id"] == "AwsSolutions-IAM5":
                assert suppression.get("applies_to"), "IAM5 suppressions name the exact wildcard"
    assert suppressed > 0
    # Never stack-wide: the stack itself carries no suppressions.
    assert "cdk_nag" not in json.dumps(synth.template_json.get("Metadata", {}))


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(synth.template_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    # cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    assert completed.returncode & 2 == 0 and completed.returncode & 1 == 0, completed.stdout + completed.stderr
    errors = [line for line in completed.stdout.splitlines() if ":E" in line]
    assert errors == []


def test_the_iam5_wildcard_suppression_stays_on_the_execution_roles(synth: Synthesized) -> None:
    """Only image pulls need ``Resource::*``; a wildcard in a task role must still fail the synth."""
    stack = synth.stack
    resources = synth.template_json["Resources"]
    for worker in stack.workers.values():
        task_role = worker.task_definition.task_role
        for construct in [task_role, *task_role.node.find_all()]:
            child = getattr(construct.node, "default_child", None) or construct
            if not hasattr(child, "cfn_resource_type"):
                continue
            metadata = resources[stack.get_logical_id(child)].get("Metadata", {})
            suppressed = {s["id"] for s in metadata.get("cdk_nag", {}).get("rules_to_suppress", [])}
            assert "AwsSolutions-IAM5" not in suppressed, construct.node.path
