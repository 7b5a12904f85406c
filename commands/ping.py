"""``ping`` (``ve``): is the bot alive, who answered, how long the request waited in the queue.

Also the task ``charla send ping --wait`` waits on: its ``Answer.result`` is what the caller gets.
"""

import time
from typing import Any

from contract.command_spec import Answer, AnswerContext, Command, HelpLine
from contract.tasks import CommandRequest, TaskName


def answer(request: CommandRequest, ctx: AnswerContext) -> Answer:
    """Who ran the task (no host name) and how long the request waited."""
    from workers.services.answers import worker_label

    delay_ms = max(0.0, (time.time() - request.requested_at) * 1000)
    result: dict[str, Any] = {
        "worker": ctx.worker,
        "queue_delay_ms": round(delay_ms, 1),
        "correlation_id": request.correlation_id,
    }
    return Answer(ctx.text("pong", worker=worker_label(ctx.worker), delay_ms=f"{delay_ms:.0f}"), result=result)


COMMAND = Command(
    task=TaskName.PING,
    order=20,
    waitable=True,
    words={"en": ("ping",), "es": ("ve",)},
    help={
        "en": HelpLine(
            usage="ping",
            summary="check the bot is alive and how fast it answers",
            detail="answers with the worker that ran it and how long your request waited in the queue.",
            example="ping",
        ),
        "es": HelpLine(
            usage="ve",
            summary="comprueba que el bot está vivo y cuánto tarda",
            detail="responde con el worker que lo atendió y cuánto esperó tu petición en la cola.",
            example="ve",
        ),
    },
    texts={
        "en": {"pong": "pong (worker {worker}, {delay_ms} ms in the queue)"},
        "es": {"pong": "Por lo pronto vas bien (worker {worker}, {delay_ms} ms en la cola)"},
    },
    answer=answer,
)
