"""The deploy commands written in docs/DEPLOY.md and README.md, read from the Markdown.

Every code span (fenced block lines, joined at trailing backslashes, and inline code) is split
like a shell would; each one that passes ``-c key=value`` is an example the docs promise works.
"""

import itertools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "DEPLOY.md", ROOT / "README.md")

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
# | name | `npx cdk deploy ...` (or `npx cdk synth -c ...` and a note) | **$12.34/month** |
_PROFILE_ROW = re.compile(
    r"^\| (?P<name>[\w-]+) \| `(?P<command>npx cdk (?:deploy|synth)[^`]*)`[^|]* \| \*\*\$(?P<usd>[\d.]+)/month\*\* \|$"
)


# "override any key with `-c key=value`" describes the syntax; it is not an example.
SYNTAX = (("key", "value"),)


@dataclass(frozen=True)
class Example:
    """One documented command and the context it sets."""

    source: str  # file:line, for the failure message
    command: str
    context: tuple[tuple[str, str], ...]

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.context))


def commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) of every code line and inline code span in ``text``."""
    found: list[tuple[int, str]] = []
    fenced: list[tuple[int, int]] = []
    for block in _FENCE.finditer(text):
        fenced.append(block.span())
        start_line = text.count("\n", 0, block.start(1)) + 1
        pending, first = "", start_line
        for offset, line in enumerate(block.group(1).splitlines()):
            if not pending:
                first = start_line + offset
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            found.append((first, (pending + line).strip()))
            pending = ""
    for span in _INLINE.finditer(text):
        if not any(start <= span.start() < end for start, end in fenced):
            found.append((text.count("\n", 0, span.start()) + 1, span.group(1).strip()))
    return found


def context_of(command: str) -> tuple[tuple[str, str], ...]:
    """The ``-c key=value`` pairs of one command line, in order."""
    try:
        words = shlex.split(command.split("#", 1)[0] if " #" in command else command)
    except ValueError:  # prose in backticks, not a command
        return ()
    pairs = []
    for flag, value in itertools.pairwise(words):
        if flag in ("-c", "--context") and "=" in value:
            key, _, raw = value.partition("=")
            pairs.append((key, raw))
    return tuple(pairs)


def examples() -> list[Example]:
    """Every documented command that sets context, in docs order."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for line, command in commands(text):
            context = context_of(command)
            if context and context != SYNTAX:
                found.append(Example(f"{path.relative_to(ROOT)}:{line}", command, context))
    return found


@dataclass(frozen=True)
class Profile:
    name: str
    command: str
    context: tuple[tuple[str, str], ...]
    documented_usd: float


def profiles() -> list[Profile]:
    """The cost profiles table of docs/DEPLOY.md."""
    rows = []
    for line in (ROOT / "docs" / "DEPLOY.md").read_text().splitlines():
        found = _PROFILE_ROW.match(line)
        if found:
            rows.append(Profile(found["name"], found["command"], context_of(found["command"]), float(found["usd"])))
    return rows
