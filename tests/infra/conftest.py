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
    """Every context documented in docs/DEPLOY.md and README.md, synthesized in this process and
    keyed by its sorted ``-c`` pairs (``()`` is the default deploy).

    Cost profiles are synthesized exactly as written. Other examples are grouped: one synthesis
    carries several examples whose keys do not overlap and whose union is a valid config, so a
    new example rarely adds a synthesis (each takes ~5-10 s).
    """
    from infra.config import CharlaConfig
    from tests.infra.docs_examples import examples, profiles

    exact = {tuple(sorted(p.context)) for p in profiles()} - {()}
    groups: list[dict[str, str]] = []
    members: list[list[tuple[tuple[str, str], ...]]] = []
    for key in sorted({e.key for e in examples()} - exact - {()}):
        for group, keys in zip(groups, members, strict=True):
            merged = {**group, **dict(key)}
            if set(group).isdisjoint(dict(key)) and _valid(CharlaConfig, {**cdk_json_context(), **merged}):
                group.update(dict(key))
                keys.append(key)
                break
        else:
            groups.append(dict(key))
            members.append([key])
    result: dict[tuple[tuple[str, str], ...], Synthesized] = {(): synth}
    for index, key in enumerate(sorted(exact)):
        result[key] = synthesize(
            tmp_path_factory.mktemp(f"cdk-out-profile-{index}"), {**cdk_json_context(), **dict(key)}
        )
    for index, (group, keys) in enumerate(zip(groups, members, strict=True)):
        synthesized = synthesize(tmp_path_factory.mktemp(f"cdk-out-examples-{index}"), {**cdk_json_context(), **group})
        result.update(dict.fromkeys(keys, synthesized))
    return result


def _valid(config_class: Any, context: dict[str, Any]) -> bool:
    try:
        config_class.from_context(context.get)
    except ValueError:
        return False
    return True
