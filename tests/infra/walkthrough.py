"""Run the shell steps of docs/DEPLOY.md against moto, as a user would type them.

The walkthrough's ``sh`` blocks are read step by step (``### N. ...``). ``aws`` commands run
through boto3 with the CLI's own names (``put-secret-value --secret-id`` -> ``put_secret_value``
with ``SecretId``), ``VAR=$(aws ...)`` keeps the output (``--query`` is JMESPath, ``--output
text``), ``$VAR`` expands, and ``file://`` values are read relative to the working directory. The
CDK commands map to what deploy-local did or can do; anything else must be listed as offline-only
or the rehearsal fails, so a new step cannot go unrehearsed unnoticed.
"""

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jmespath
from botocore import xform_name

_STEP = re.compile(r"^### (\d+)\. (.+)$", re.MULTILINE)
_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ASSIGN = re.compile(r"^(\w+)=\$\((.*)\)$")
_VARIABLE = re.compile(r"\$(\w+)")

# Steps that need the real AWS account or toolchain, never run offline; said, not skipped silently.
OFFLINE_ONLY = ("npx cdk bootstrap", "make synth")


@dataclass
class Step:
    number: int
    title: str
    commands: list[str]


def steps(markdown: str, section: str) -> list[Step]:
    """The numbered steps (``### N. title``) of ``section`` (a ``## `` heading's text)."""
    body = markdown.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    found: list[Step] = []
    parts = _STEP.split(body)
    for number, title, text in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        commands = [line.strip() for block in _SH_BLOCK.findall(text) for line in block.splitlines() if line.strip()]
        found.append(Step(int(number), title, commands))
    return found


def sh_commands(markdown: str, section: str) -> list[str]:
    """Every ``sh`` line of an unnumbered section (e.g. ``Tear down``)."""
    body = markdown.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for block in _SH_BLOCK.findall(body) for line in block.splitlines() if line.strip()]


@dataclass
class Shell:
    """The little shell: AWS calls via ``client(service)``, CDK commands via ``cdk``."""

    client: Callable[[str], Any]
    cdk: Callable[[list[str]], None]
    cwd: Path
    variables: dict[str, str] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    offline_only: list[str] = field(default_factory=list)

    def run(self, line: str) -> str:
        if line.startswith(OFFLINE_ONLY):
            self.offline_only.append(line)
            return ""
        assigned = _ASSIGN.match(line)
        if assigned:
            self.variables[assigned[1]] = self.run(assigned[2])
            return ""
        words = shlex.split(_VARIABLE.sub(lambda m: self.variables[m[1]], line))
        self.ran.append(line)
        if words[:2] == ["npx", "cdk"]:
            self.cdk(words[2:])
            return ""
        if words[0] == "aws":
            return self.aws(words[1], words[2], words[3:])
        raise AssertionError(f"the rehearsal cannot run {line!r}: teach tests/infra/walkthrough.py, or list it")

    def aws(self, service: str, command: str, arguments: list[str]) -> str:
        client = self.client(service)
        model = client.meta.service_model
        (operation,) = [name for name in model.operation_names if xform_name(name, "-") == command]
        members = model.operation_model(operation).input_shape.members
        by_flag = {"--" + xform_name(name, "-"): name for name in members}
        params: dict[str, Any] = {}
        query, output = None, "json"
        index = 0
        while index < len(arguments):
            flag = arguments[index]
            value = (
                arguments[index + 1]
                if index + 1 < len(arguments) and not arguments[index + 1].startswith("--")
                else None
            )
            index += 2 if value is not None else 1
            if flag == "--query":
                query = value
            elif flag == "--output":
                output = value or "json"
            else:
                name = by_flag[flag]  # KeyError: the docs name a flag the API does not have
                if value is None:
                    params[name] = True
                elif value.startswith("file://"):
                    params[name] = (self.cwd / value.removeprefix("file://")).read_text()
                else:
                    params[name] = value
        response = getattr(client, xform_name(operation))(**params)
        result = jmespath.search(query, response) if query else response
        if output == "text":
            return "\t".join(map(str, result)) if isinstance(result, list) else str(result)
        return json.dumps(result, default=str)
