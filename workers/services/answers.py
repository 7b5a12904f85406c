"""The text of the bot's answers."""

from contract.commands import COMMAND_WORDS, fold
from contract.tasks import TaskName

COMMAND_HELP: dict[TaskName, str] = {
    TaskName.PING: "`ping` (`ve`): check the bot is alive and how fast it answers",
    TaskName.HELP: "`help` (`ayuda`): this list",
}


def pong(*, worker: str, queue_delay_ms: float) -> str:
    """The answer to ``ping``: who answered and how long the request waited in the queue."""
    return f"pong (worker {worker}, {queue_delay_ms:.0f} ms in the queue)"


def help_text(command: str) -> str:
    """The command list; if ``command`` was not understood, say so first."""
    lines = [COMMAND_HELP[task] for task in TaskName if task in COMMAND_HELP]
    header = "Commands (mention me, DM me, or use `/charla <command>`):"
    if command and fold(command) not in COMMAND_WORDS:
        header = f"Sorry, I don't know `{command}`. " + header
    return "\n".join([header, *(f"• {line}" for line in lines)])
