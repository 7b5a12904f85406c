"""What demo and chat share: start the stack with progress lines, send as a user, show the answer."""

import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from contract.commands import fold
from scripts.processes import Timeout, wait_until
from scripts.slack_requests import (
    app_mention,
    block_action,
    channel_message,
    direct_message,
    message_text,
    next_ts,
    signed_block_action,
    signed_slash_command,
    slash_command_text,
)
from scripts.slack_standin import BOT_USER_ID
from scripts.stack import ROOT, DevStack

ANSWER_TIMEOUT_S = 20.0
# Where `charla` finds the running stack (charla_cli/endpoints.py reads it by default).
ENDPOINTS_FILE = ROOT / ".stack" / "endpoints.json"
# The local stand-in for the EventBridge schedule: refresh the agenda at start, then this often.
AGENDA_REFRESH_INTERVAL_S = 300.0


def say(line: str = "") -> None:
    print(line, flush=True)


def _raise_keyboard_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def running_stack(**options: Any) -> Iterator[DevStack]:
    """Start the stack with progress output; stop it on exit, Ctrl-C or SIGTERM alike."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    say("Starting the local stack: moto server (SQS, DynamoDB), Slack stand-in, ingress (uvicorn), celery worker…")
    stack = DevStack(endpoints_file=ENDPOINTS_FILE, **options)
    try:
        stack.start()
        say(f"  ingress        {stack.ingress_url}/slack/events")
        say(f"  moto server    {stack.moto_url}")
        say(f"  Slack stand-in {stack.slack_url}")
        say(f"  worker         {', '.join(q.value for q in stack.worker_queues)} queues")
        say(f"  endpoints      {ENDPOINTS_FILE.relative_to(ROOT)} (queue URLs, table names: `charla env`)")
        say("  operate it     in another shell: source .venv/bin/activate; charla status; charla workers")
        if stack.agenda_refresh_interval_s:
            say(f"  schedule       agenda refresh every {stack.agenda_refresh_interval_s:.0f} s (scripts.scheduler)")
        say()
        yield stack
    except KeyboardInterrupt:
        say("\ninterrupted")
    finally:
        say("Stopping everything…")
        stack.stop()
        say("Stopped.")


# People in the local workspace: ``@bob`` typed at the prompt becomes ``<@U0BOB>``.
PEOPLE = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL", "charla": BOT_USER_ID}
_SLACK_DATE = re.compile(r"<!date\^[0-9]+\^[^|>]*\|([^>]*)>")
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
_SLACK_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def user_id(name: str) -> str:
    """The user id a typed ``@name`` stands for (a made-up ``U0NAME`` for anyone new)."""
    return PEOPLE.get(name.lower(), "U0" + re.sub(r"[^A-Z0-9]", "", name.upper()))


def channel_id(name: str) -> str:
    """The channel id a typed ``#name`` stands for (``C0NAME``)."""
    return "C0" + re.sub(r"[^A-Z0-9]", "", name.upper())


def as_slack_sends(typed: str) -> str:
    """A message as Slack sends it: ``&``, ``<``, ``>`` escaped, each ``@name`` as ``<@U…>``."""
    return message_text(typed, user_id)


def readable(mrkdwn: str) -> str:
    """Slack markup as a terminal shows it: dates by their fallback, links as ``label (url)``, ``@names``."""
    names = {uid: name for name, uid in PEOPLE.items()}
    text = _SLACK_DATE.sub(lambda m: m.group(1), mrkdwn)
    text = _SLACK_LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _SLACK_MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render(record: dict[str, Any]) -> list[str]:
    """An answer's lines: its Block Kit blocks (sections, context, buttons), else its text."""
    blocks = record.get("blocks") or []
    if not blocks:
        return readable(str(record.get("text") or "")).splitlines() or [""]
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            lines += readable(str((block.get("text") or {}).get("text", ""))).splitlines()
        elif kind == "context":
            lines.append("  " + " · ".join(readable(str(e.get("text", ""))) for e in block.get("elements", [])))
        elif kind == "actions":
            buttons = [e for e in block.get("elements", []) if e.get("type") == "button"]
            lines.append("  " + "  ".join(f"[ {b['text']['text']} ]" for b in buttons) + "   (/press <label>)")
        else:
            lines.append(f"  ({kind} block)")
    return lines


def _buttons(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in record.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]


@dataclass
class Conversation:
    """A person talking to the bot in one channel, one DM and through the slash command.

    Every answer comes back as the stand-in recorded it, with ``where`` added: ``in the
    thread``, ``ephemeral`` (a slash command's or a button's response_url) or ``in the DM``.
    """

    stack: DevStack
    channel: str = "C0GENERAL"
    dm_channel: str = "D0ALICE"
    user: str = "U0ALICE"
    last_with_buttons: dict[str, Any] | None = None

    def send(self, typed: str) -> list[dict[str, Any]]:
        """Send what was typed as Slack would and return the bot's answers (empty if none came in time).

        ``/charla <cmd>`` is a slash command; ``/dm <text>`` a direct message; ``/say <text>`` a
        plain message in the channel (archived and counted, not a command); ``/press <label>``
        presses a button of the last answer that had one; anything else mentions the bot.
        """
        text = typed.strip()
        before = len(self.stack.recorded())
        if text.startswith("/press"):
            return self.press(text.removeprefix("/press").strip())
        if text.startswith("/charla"):
            key = next_ts().replace(".", "-")
            url = self.stack.response_url(key)
            request = signed_slash_command(
                slash_command_text(text.removeprefix("/charla").strip(), user_id, channel_id),
                self.stack.signing_secret,
                response_url=url,
                channel=self.channel,
                user=self.user,
            )
            status = self.stack.post(request).status

            def mine(record: dict[str, Any]) -> bool:
                return record.get("path") == f"/response/{key}" or record.get("channel") == self.channel
        elif text.startswith("/dm "):
            dm = direct_message(as_slack_sends(text[4:]), channel=self.dm_channel, user=self.user)
            status = self.stack.post_event(dm).status

            def mine(record: dict[str, Any]) -> bool:
                return record.get("channel") == self.dm_channel
        elif text.startswith("/say "):
            message = channel_message(as_slack_sends(text[5:]), channel=self.channel, user=self.user)
            status = self.stack.post_event(message).status
            if status != 200:
                return [{"where": "error", "text": f"(the ingress answered HTTP {status})"}]
            return [{"where": "no answer to a plain message", "text": f"(archived in {self.channel} and counted)"}]
        else:
            ts = next_ts()
            text = as_slack_sends(text).removeprefix(f"<@{BOT_USER_ID}>").strip()
            status = self.stack.post_event(app_mention(text, channel=self.channel, user=self.user, ts=ts)).status
            # Slack also delivers a mention as a message.channels event: that one is archived.
            twin = channel_message(f"<@{BOT_USER_ID}> {text}", channel=self.channel, user=self.user, ts=ts)
            self.stack.post_event(twin)

            def mine(record: dict[str, Any]) -> bool:
                return record.get("thread_ts") == ts

        if status != 200:
            return [{"where": "error", "text": f"(the ingress answered HTTP {status})"}]
        return self._answers(before, mine)

    def press(self, label: str) -> list[dict[str, Any]]:
        """Press the button labelled ``label`` (or whose action id names it, e.g. ``more``)."""
        record = self.last_with_buttons
        wanted = fold(label)
        button = next(
            (
                b
                for b in (_buttons(record) if record else [])
                if not wanted or fold(b["text"]["text"]) == wanted or wanted in b.get("action_id", "")
            ),
            None,
        )
        if record is None or button is None:
            return [{"where": "error", "text": "(no button like that in the last answers)"}]
        key = f"press-{next_ts().replace('.', '-')}"
        payload = block_action(
            {"type": "button", "block_id": "actions", "action_id": button["action_id"], "value": button["value"]},
            response_url=self.stack.response_url(key),
            channel=str(record.get("channel") or self.channel),
            user=self.user,
            message_ts=str(record.get("ts") or next_ts()),
            thread_ts=record.get("thread_ts"),
        )
        before = len(self.stack.recorded())
        status = self.stack.post(signed_block_action(payload, self.stack.signing_secret)).status
        if status != 200:
            return [{"where": "error", "text": f"(the ingress answered HTTP {status})"}]
        return self._answers(before, lambda r: r.get("path") == f"/response/{key}")

    def _answers(self, before: int, mine: Any) -> list[dict[str, Any]]:
        try:
            found: list[dict[str, Any]] = wait_until(
                lambda: [r for r in self.stack.recorded()[before:] if mine(r)],
                timeout=ANSWER_TIMEOUT_S,
                message="the bot's answer",
            )
        except Timeout:
            return []
        answers = [{**record, "where": self._where(record)} for record in found]
        for answer in answers:
            if _buttons(answer):
                self.last_with_buttons = answer
        return answers

    def _where(self, record: dict[str, Any]) -> str:
        if record.get("kind") == "response_url":
            return "ephemeral, only you see it"
        if record.get("channel") == self.dm_channel:
            return "in the DM"
        if record.get("thread_ts"):
            return "in the thread"
        return f"in {record.get('channel')}"


def show(answers: list[dict[str, Any]]) -> None:
    if not answers:
        say("charla  (no answer within 20 s; see the worker log)")
    for answer in answers:
        say(f"charla  ({answer.get('where', '?')})")
        for line in render(answer):
            say(f"        {line}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use scripts.demo or scripts.chat")
