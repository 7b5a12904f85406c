"""One synthesis of the CDK app per test session (it takes ~10 s on two cores)."""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner for Node 20 (end of life) on every start; silence just that one.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synthesized:
    stack: Any  # infra.stacks.charla_stack.CharlaStack
    template: Any  # aws_cdk.assertions.Template
    template_json: dict[str, Any]
    template_path: Path
    outdir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json["Resources"].items() if v["Type"] == resource_type}


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def synthesize(outdir: Path, context: dict[str, Any]) -> Synthesized:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.app import build_app

    app, stack = build_app(cdk.App(outdir=str(outdir), context=context))
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    template_path = Path(assembly.directory) / artifact.template_file
    return Synthesized(
        stack=stack,
        template=Template.from_stack(stack),
        template_json=json.loads(template_path.read_text()),
        template_path=template_path,
        outdir=outdir,
    )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The app as ``cdk.json`` configures it, synthesized once."""
    yield synthesize(tmp_path_factory.mktemp("cdk-out"), cdk_json_context())


@pytest.fixture(scope="session")
def doc_synths(
    tmp_path_factory: pytest.TempPathFactory, synth: Synthesized
) -> dict[tuple[tuple[str, str], ...], Synthesized]:
    """Every distinct context documented in docs/DEPLOY.md and README.md (examples and cost
    profiles), synthesized in this process (the Lambda bundle is staged once), keyed by its sorted
    ``-c`` pairs; ``()`` is the default deploy."""
    from tests.infra.docs_examples import examples, profiles

    keys = {example.key for example in examples()} | {tuple(sorted(p.context)) for p in profiles()}
    result: dict[tuple[tuple[str, str], ...], Synthesized] = {(): synth}
    for index, key in enumerate(sorted(keys - {()})):
        result[key] = synthesize(tmp_path_factory.mktemp(f"cdk-out-doc-{index}"), {**cdk_json_context(), **dict(key)})
    return result
