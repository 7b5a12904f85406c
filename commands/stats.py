"""``stats`` (``estadísticas``): the most used commands in this workspace.

Its lines are shared texts (``stats.*`` in the catalogues): the Home tab shows them too.
"""

from contract.command_spec import Answer, AnswerContext, Command, HelpLine
from contract.tasks import CommandRequest, TaskName


def answer(request: CommandRequest, ctx: AnswerContext) -> Answer:
    from workers.services import answers

    return answers.stats(ctx.store.command_counts(team_id=request.team_id), lang=ctx.lang)


COMMAND = Command(
    task=TaskName.STATS,
    order=60,
    words={"en": ("stats",), "es": ("estadísticas",)},
    help={
        "en": HelpLine(
            usage="stats",
            summary="the most used commands",
            detail="lists the commands used most in this workspace.",
            example="stats",
        ),
        "es": HelpLine(
            usage="estadísticas",
            summary="los comandos más usados",
            detail="lista los comandos más usados en este espacio de trabajo.",
            example="estadísticas",
        ),
    },
    answer=answer,
)
