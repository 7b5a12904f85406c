"""What demo and chat share: start the stack with progress lines, send as a user, show the answer."""

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scripts.processes import Timeout, wait_until
from scripts.slack_requests import app_mention, channel_message, direct_message, next_ts, signed_slash_command
from scripts.slack_standin import BOT_USER_ID
from scripts.stack import DevStack

ANSWER_TIMEOUT_S = 20.0
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
    stack = DevStack(**options)
    try:
        stack.start()
        say(f"  ingress        {stack.ingress_url}/slack/events")
        say(f"  moto server    {stack.moto_url}")
        say(f"  Slack stand-in {stack.slack_url}")
        say(f"  worker         {', '.join(q.value for q in stack.worker_queues)} queues")
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


@dataclass
class Conversation:
    """A person talking to the bot in one channel, one DM and through the slash command."""

    stack: DevStack
    channel: str = "C0GENERAL"
    dm_channel: str = "D0ALICE"
    user: str = "U0ALICE"

    def send(self, text: str) -> list[str]:
        """Send ``text`` as Slack would and return the bot's answers (empty if none came in time).

        ``/charla <cmd>`` is a slash command; ``/dm <text>`` a direct message; anything else a
        mention of the bot in the channel.
        """
        before = len(self.stack.recorded())
        if text.startswith("/charla"):
            key = next_ts().replace(".", "-")
            url = self.stack.response_url(key)
            request = signed_slash_command(
                text.removeprefix("/charla").strip(),
                self.stack.signing_secret,
                response_url=url,
                channel=self.channel,
                user=self.user,
            )
            status = self.stack.post(request).status

            def mine(record: dict[str, Any]) -> bool:
                return record.get("path") == f"/response/{key}" or record.get("channel") == self.channel
        elif text.startswith("/dm "):
            status = self.stack.post_event(direct_message(text[4:], channel=self.dm_channel, user=self.user)).status

            def mine(record: dict[str, Any]) -> bool:
                return record.get("channel") == self.dm_channel
        else:
            ts = next_ts()
            status = self.stack.post_event(app_mention(text, channel=self.channel, user=self.user, ts=ts)).status
            # Slack also delivers a mention as a message.channels event: that one is archived.
            twin = channel_message(f"<@{BOT_USER_ID}> {text}", channel=self.channel, user=self.user, ts=ts)
            self.stack.post_event(twin)

            def mine(record: dict[str, Any]) -> bool:
                return record.get("thread_ts") == ts

        if status != 200:
            return [f"(the ingress answered HTTP {status})"]
        try:
            answers = wait_until(
                lambda: [r for r in self.stack.recorded()[before:] if mine(r)],
                timeout=ANSWER_TIMEOUT_S,
                message="the bot's answer",
            )
        except Timeout:
            return []
        return [str(a.get("text", "")) for a in answers]


def show(answers: list[str]) -> None:
    if not answers:
        say("charla  (no answer within 20 s; see the worker log)")
    for answer in answers:
        lines = answer.splitlines() or [""]
        say(f"charla  {lines[0]}")
        for line in lines[1:]:
            say(f"        {line}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use scripts.demo or scripts.chat")
