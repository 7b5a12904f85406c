"""``help [command]`` (``ayuda``): the command list, or one command explained with an example.

Also the answer to anything not understood (the ingress routes unknown words here): a greeting
or thanks gets one line, a typo the word it meant, anything else the list naming the word.
A word we did not understand counts as no use of ``help``.
"""

from contract.command_spec import Answer, AnswerContext, Command, HelpLine
from contract.tasks import CommandRequest, TaskName


def answer(request: CommandRequest, ctx: AnswerContext) -> Answer:
    from workers.services.answers import help_text

    return help_text(request.command, request.args, lang=ctx.lang)


COMMAND = Command(
    task=TaskName.HELP,
    order=10,
    words={"en": ("help",), "es": ("ayuda",)},
    help={
        "en": HelpLine(
            usage="help [command]",
            summary="this list, or how to use one command",
            detail="lists what I can do; with a command word, explains that command.",
            example="help search",
        ),
        "es": HelpLine(
            usage="ayuda [comando]",
            summary="esta lista, o cómo se usa un comando",
            detail="lista lo que sé hacer; con un comando, explica ese comando.",
            example="ayuda busca",
        ),
    },
    answer=answer,
)
