"""What demo and chat share: start the stack with progress lines, send as a user, show the answer."""

import os
import re
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charla_cli.endpoints import STACK_FILE, STACK_FILE_VARIABLE
from contract.commands import fold
from contract.environment import DEFAULT_WORKER_CONCURRENCY, DEFAULT_WORKER_POOL
from scripts.processes import Timeout, wait_until
from scripts.slack_requests import (
    app_home_opened,
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


def endpoints_file() -> Path:
    """Where `charla` finds the running stack: ``.stack/endpoints.json``, or ``CHARLA_STACK_FILE``."""
    named = os.environ.get(STACK_FILE_VARIABLE)
    return Path(named).resolve() if named else ROOT / STACK_FILE


def log_dir() -> Path:
    """Each process's log of the last local run, kept after it stops: ``.stack/logs/`` beside the endpoints file."""
    return endpoints_file().parent / "logs"


# The local stand-in for the EventBridge schedule: refresh the agenda at start, then this often.
AGENDA_REFRESH_INTERVAL_S = 300.0


def say(line: str = "") -> None:
    print(line, flush=True)


def _raise_keyboard_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def running_stack(**options: Any) -> Iterator[DevStack]:
    """Start the stack with progress output; stop it on exit, Ctrl-C, SIGTERM or a closed terminal alike.

    Should this process die without cleaning up (SIGKILL), its children get SIGTERM from Linux
    (``scripts/processes.py``) and ``charla`` calls the endpoints file stale.
    """
    for signum in (signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal was closed
        signal.signal(signum, _raise_keyboard_interrupt)
    say("Starting the local stack: moto server (SQS, DynamoDB), Slack stand-in, ingress (uvicorn), celery worker…")
    endpoints, logs = endpoints_file(), log_dir()
    shutil.rmtree(logs, ignore_errors=True)  # the logs of the last run only
    logs.mkdir(parents=True)
    # The worker a deploy runs: its pool and size.
    options.setdefault("worker_pool", DEFAULT_WORKER_POOL)
    options.setdefault("worker_concurrency", DEFAULT_WORKER_CONCURRENCY)
    stack = DevStack(endpoints_file=endpoints, log_dir=logs, **options)
    try:
        stack.start()
        say(f"  ingress        {stack.ingress_url}/slack/events")
        say(f"  moto server    {stack.moto_url}")
        say(f"  Slack stand-in {stack.slack_url}")
        say(
            f"  worker         {', '.join(q.value for q in stack.worker_queues)} queues"
            f" ({stack.worker_pool} pool of {stack.worker_concurrency}, as deployed)"
        )
        if stack.lambda_queues:
            say(f"  Lambda         {', '.join(q.value for q in stack.lambda_queues)} queue (local event source)")
        say(f"  endpoints      {_shown(endpoints)} (queue URLs, table names: `charla env`)")
        say(f"  logs           {_shown(logs)}/ (one file per process, kept after stop)")
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


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


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
        elif kind == "header":
            lines.append(str((block.get("text") or {}).get("text", "")).upper())
        elif kind == "divider":
            lines.append("  " + "-" * 40)
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


# What the prompt understands besides a mention (README's "Talking to the bot locally").
CONSOLE_COMMANDS = {
    "/charla": "/charla <command>",
    "/dm": "/dm <text>",
    "/say": "/say <text>",
    "/press": "/press <label>",
    "/home": "/home",
    "/quit": "/quit",
    "/exit": "/exit",
}


def typing_mistake(text: str) -> str | None:
    """Why a line typed at the prompt is not sent (an unknown /word, a /dm with no text), or None."""
    if not text.startswith("/"):
        return None
    word, _, rest = text.partition(" ")
    if word not in CONSOLE_COMMANDS:
        known = ", ".join(sorted(set(CONSOLE_COMMANDS.values()) - {"/exit"}))
        return f"(not sent: {word} is not a console command; try {known}, or type the text alone to mention the bot)"
    if word in ("/dm", "/say") and not rest.strip():
        return f"(not sent: {CONSOLE_COMMANDS[word]} needs some text)"
    return None


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
        mistake = typing_mistake(text)
        if mistake:
            return [{"where": "not sent", "text": mistake}]
        if text.startswith("/press"):
            return self.press(text.removeprefix("/press").strip())
        if text == "/home":
            return self.open_home()
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

            if status == 200:
                return self._answers(before, mine) + self._reactions(f"{self.channel}/{ts}")

        if status != 200:
            return [{"where": "error", "text": f"(the ingress answered HTTP {status})"}]
        return self._answers(before, mine)

    def open_home(self) -> list[dict[str, Any]]:
        """Open the app's Home tab (``app_home_opened``) and show the view published for this user."""
        published = self.stack.slack_state()["views_published"]
        status = self.stack.post_event(app_home_opened(user=self.user)).status
        if status != 200:
            return [{"where": "error", "text": f"(the ingress answered HTTP {status})"}]
        try:
            wait_until(lambda: self.stack.slack_state()["views_published"] > published, timeout=5, message="a new view")
            where = "the Home tab (published now)"
        except Timeout:  # nothing changed since the last publish: Slack keeps showing that view
            where = "the Home tab (unchanged, not published again)"
        view = self.stack.slack_state()["views"].get(self.user)
        if view is None:
            return [{"where": "error", "text": "(no Home view was published; see the worker log)"}]
        return [{"where": where, "kind": "views.publish", "blocks": view["blocks"]}]

    def _reactions(self, key: str) -> list[dict[str, Any]]:
        """The bot's reactions on the message ``key`` (``channel/ts``), as one line if there were any."""
        log = [entry for entry in self.stack.slack_state()["reaction_log"] if entry["key"] == key]
        if not log:
            return []
        shown = ", ".join(f"{e['method'].removeprefix('reactions.')} :{e['name']}:" for e in log)
        return [{"where": "reactions on your message", "text": shown}]

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
            ephemeral=record.get("kind") == "response_url",  # Slack marks presses on those
        )
        before = len(self.stack.recorded())
        status = self.stack.post(signed_block_action(payload, self.stack.signing_secret)).status
        if status != 200:
            return [{"where": "error", "text": f"(the ingress answered HTTP {status})"}]
        # A page comes back to the press's response_url; Share posts it in the channel for everyone.
        return self._answers(
            before, lambda r: r.get("path") == f"/response/{key}" or r.get("kind") == "chat.postMessage"
        )

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
        # /press acts on the last answer only: an older answer's button is not pressed by mistake.
        self.last_with_buttons = next((a for a in reversed(answers) if _buttons(a)), None)
        return answers

    def _where(self, record: dict[str, Any]) -> str:
        if record.get("kind") == "response_url":
            if record.get("replace_original"):
                return "ephemeral, in place of the page you pressed"
            return "ephemeral, only you see it"
        if record.get("channel") == self.dm_channel:
            return "in the DM"
        if record.get("thread_ts"):
            return "in the thread"
        return f"in {record.get('channel')}"


def show(answers: list[dict[str, Any]]) -> None:
    if not answers:
        say(
            f"charla  (no answer within {ANSWER_TIMEOUT_S:.0f} s; see {_shown(log_dir())}/worker.log, "
            "and `charla dlq show` / `charla trace ID` in another shell)"
        )
    for answer in answers:
        say(f"charla  ({answer.get('where', '?')})")
        for line in render(answer):
            say(f"        {line}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use scripts.demo or scripts.chat")
