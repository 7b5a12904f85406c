"""Slack's text escaping, read once at the door.

Slack sends every text it delivers (messages, mentions, slash command text) with its three control
characters entity-escaped: ``&`` as ``&amp;``, ``<`` as ``&lt;``, ``>`` as ``&gt;``
(https://api.slack.com/reference/surfaces/formatting#escaping). Unescaped ``<…>`` are its control
sequences: mentions ``<@U123|name>``, channels ``<#C123|name>``, links ``<https://…>``, ``<!here>``.
The ingress decodes the command words and arguments once, after the control sequences were read,
so the workers see what the person typed (``Q&A``) and escape it again when they echo it.
"""

import re

from contract.commands import ParsedCommand, parse_command

# A control sequence as Slack sends it (its label may hold spaces; never a raw < or >).
CONTROL_SEQUENCE = re.compile(r"<(?:[@#!]|(?:https?|mailto|tel):)[^<>]*>")
_ENTITY = re.compile(r"&(?:amp|lt|gt);")


def escape(typed: str) -> str:
    """What Slack sends for ``typed``: ``&``, ``<``, ``>`` as entities (``&`` first)."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(sent: str) -> str:
    """The text a person typed, from the form Slack sends (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``)."""
    return sent.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def is_escaped_as_slack_sends(text: str) -> bool:
    """Whether ``text`` could have come from Slack: no raw ``<``, ``>`` outside a control sequence,
    no raw ``&`` that is not one of the three entities."""
    rest = CONTROL_SEQUENCE.sub("", text)
    return "<" not in rest and ">" not in rest and "&" not in _ENTITY.sub("", rest)


def read_command(sent: str) -> ParsedCommand:
    """The command in Slack's text ``sent``: mentions read as Slack marked them, then the command
    word and its arguments decoded to what was typed."""
    parsed = parse_command(sent)
    return ParsedCommand(parsed.task, unescape(parsed.command), unescape(parsed.args))
