"""The docs a newcomer reads first agree with each other and with the code.

Prerequisites are the same in README and DEPLOY; every link to a section names one that exists;
OPERATIONS documents every ``charla`` subcommand and exit status; the runbook says where a
message went and where the local logs are.
"""

import re
from pathlib import Path

import pytest

from charla_cli.main import EXIT_CODES_HELP, parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "clients" / "node" / "README.md"]
_LINK = re.compile(r"\]\((?P<file>[^)#\s]*)#(?P<anchor>[^)\s]+)\)")
_NODE = re.compile(r"Node(?:\.js)? (\d+)(?: or (\d+)|\+)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_a_section_names_one_that_exists(doc: Path) -> None:
    for match in _LINK.finditer(doc.read_text()):
        target = (doc.parent / match["file"]).resolve() if match["file"] else doc
        assert target.is_file(), f"{doc.name}: {match.group(0)} points at a missing file"
        assert match["anchor"] in anchors(target), f"{doc.name}: {match.group(0)}: no such section in {target.name}"


def test_readme_and_deploy_ask_for_the_same_node_and_python() -> None:
    readme, deploy = (ROOT / "README.md").read_text(), (ROOT / "docs" / "DEPLOY.md").read_text()

    assert _NODE.findall(readme) and set(_NODE.findall(readme)) == set(_NODE.findall(deploy))
    assert "Python 3.11+" in readme and "Python 3.11+" in deploy


def test_operations_documents_every_subcommand_and_exit_status() -> None:
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    statuses = re.findall(r"^  (\d)  ", EXIT_CODES_HELP, flags=re.MULTILINE)

    for name in commands:
        assert f"`charla {name}" in operations, f"charla {name} is not in OPERATIONS.md"
    for status in statuses:
        assert f"| {status} |" in operations, f"exit status {status} is not in OPERATIONS.md"


def test_the_runbook_says_where_a_message_went_and_where_local_logs_are() -> None:
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()

    assert "### Where did my message go?" in operations
    assert "charla trace" in operations and "Logs Insights" in operations
    assert ".stack/logs/" in operations
