"""Slack's text escaping: what Slack sends (fixtures, the chat, the slash command under the shipped
manifest) and what the ingress reads from it."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from contract.slack_text import escape, is_escaped_as_slack_sends, read_command, unescape
from contract.tasks import TaskName
from scripts.console import as_slack_sends, channel_id, user_id
from scripts.slack_requests import manifest_should_escape, slash_command_text
from tests.conftest import EVENTS

FIXTURES = sorted((EVENTS / "slack").glob("*.json"))


def test_a_search_for_q_and_a_reads_what_was_typed_once() -> None:
    parsed = read_command("<@UCHARLABOT> busca Q&amp;A &lt;python&gt;")
    assert (parsed.task, parsed.command, parsed.args) == (TaskName.SEARCH_AGENDA, "busca", "Q&A <python>")
    # Decoded once: someone who typed the entity itself gets the entity back, not a character.
    assert read_command("search &amp;lt;").args == "&lt;"


def test_mentions_survive_the_decoding_and_echoes_are_escaped_back() -> None:
    assert read_command("cuenta <@U0BOB|bob>").args == "<@U0BOB|bob>"
    for typed in ("Q&A", "a <b> & c", "&amp;", "x > y < z"):
        assert unescape(escape(typed)) == typed
        assert is_escaped_as_slack_sends(escape(typed))


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("Q&amp;A &lt;3 &gt;", True),
        ("<@U0BOB|bob> <#C0GENERAL|general> <!here> <https://a.example/x|a link> <!date^1^{date}|4 Mar>", True),
        ("Q&A", False),
        ("a <b>", False),
        ("x > y", False),
    ],
)
def test_text_as_slack_sends_it_is_recognised(text: str, escaped: bool) -> None:
    assert is_escaped_as_slack_sends(text) is escaped


def _wire_texts(node: Any, *, in_blocks: bool = False) -> Iterator[str]:
    """Every ``text`` Slack escapes: message texts, not the raw text of rich-text blocks."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str) and not in_blocks:
                yield value
            else:
                yield from _wire_texts(value, in_blocks=in_blocks or key in ("blocks", "actions"))
    elif isinstance(node, list):
        for value in node:
            yield from _wire_texts(value, in_blocks=in_blocks)


def test_every_fixture_carries_text_escaped_as_slack_sends_it() -> None:
    texts = {path.stem: list(_wire_texts(json.loads(path.read_text())["body"])) for path in FIXTURES}
    unescaped = {name: t for name, found in texts.items() for t in found if not is_escaped_as_slack_sends(t)}
    assert unescaped == {}
    # Not vacuous: the fixtures hold entities in a message and in a slash command's text.
    assert "&amp;" in texts["event_message_channels"][0] and "&lt;" in texts["command_search_escaped"][0]


def test_the_chat_types_messages_as_slack_sends_them() -> None:
    assert as_slack_sends("busca Q&A <python> con @bob") == "busca Q&amp;A &lt;python&gt; con <@U0BOB>"


def test_the_slash_command_text_follows_the_shipped_manifest() -> None:
    typed = "cuenta @bob en #general Q&A"
    escaped = "cuenta <@U0BOB|bob> en <#C0GENERAL|general> Q&amp;A"
    plain = "cuenta @bob en #general Q&amp;A"
    assert slash_command_text(typed, user_id, channel_id, should_escape=True) == escaped
    assert slash_command_text(typed, user_id, channel_id, should_escape=False) == plain
    # The chat and the tests send what Slack would send for the manifest as shipped.
    assert manifest_should_escape() is True
    assert slash_command_text(typed, user_id, channel_id) == escaped
    assert read_command(escaped).args == "<@U0BOB|bob> en <#C0GENERAL|general> Q&A"
