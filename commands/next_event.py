"""``next`` (``siguiente``): the next agenda item after now (also ``¿qué sigue?``, read as this)."""

from contract.command_spec import Answer, AnswerContext, Command, HelpLine
from contract.tasks import CommandRequest, TaskName


def answer(request: CommandRequest, ctx: AnswerContext) -> Answer:
    from workers.services import agenda, answers

    items = agenda.load_items(ctx.store)
    upcoming = agenda.next_item(items or [], ctx.now)
    return answers.next_event(upcoming, agenda_empty=not items, lang=ctx.lang)


COMMAND = Command(
    task=TaskName.NEXT_EVENT,
    order=30,
    words={"en": ("next",), "es": ("siguiente",)},
    help={
        "en": HelpLine(
            usage="next",
            summary="the next event or course on the agenda",
            detail="shows the agenda item that starts soonest, with its date in your time zone and a link.",
            example="next",
        ),
        "es": HelpLine(
            usage="siguiente",
            summary="el próximo evento de la agenda",
            detail="muestra el evento de la agenda que empieza antes, con la fecha en tu zona horaria y un enlace.",
            example="siguiente",
        ),
    },
    texts={"en": {"item": "Next up: {item}"}, "es": {"item": "El siguiente evento es {item}"}},
    answer=answer,
)
