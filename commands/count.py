"""``count [@user]`` (``cuenta [@usuario]``): how many messages each person named wrote here.

No one named, or ``my messages``: the asker. A name that is not a mention is pointed out, not
guessed (``cuenta bob``).
"""

from contract.command_spec import Answer, AnswerContext, Command, HelpLine
from contract.tasks import CommandRequest, TaskName


def answer(request: CommandRequest, ctx: AnswerContext) -> Answer:
    from contract.commands import means_the_asker, mentioned_users
    from workers.services import answers

    named = mentioned_users(request.args)[: answers.MAX_COUNTED_USERS]
    if request.args.strip() and not named and not means_the_asker(request.args):
        return answers.not_a_mention(request.args, lang=ctx.lang)
    counts = [(user, _message_count(request, user, ctx)) for user in named or [request.user]]
    return answers.message_counts(counts, asker=request.user, lang=ctx.lang)


def _message_count(request: CommandRequest, user: str, ctx: AnswerContext) -> int:
    """``user``'s messages; the asker's include the very message that asked, even if its archive
    task (on the bulk queue, which a burst may hold up) has not stored it yet."""
    count = int(ctx.store.message_count(team_id=request.team_id, user=user))
    if user == request.user and request.message_ts:
        asked = ctx.store.archived_message(team_id=request.team_id, channel=request.channel, ts=request.message_ts)
        if asked is None:
            count += 1
    return count


COMMAND = Command(
    task=TaskName.COUNT_MESSAGES,
    order=50,
    words={"en": ("count",), "es": ("cuenta", "contar")},
    help={
        "en": HelpLine(
            usage="count [@user]",
            summary="how many messages someone wrote here",
            detail="counts the messages a person wrote in this workspace: yours, or those of the person you mention.",
            example="count @alice",
        ),
        "es": HelpLine(
            usage="cuenta [@usuario]",
            summary="cuántos mensajes ha escrito alguien aquí",
            detail="cuenta los mensajes que alguien escribió en este espacio de trabajo: los tuyos, "
            "o los de la persona que menciones.",
            example="cuenta @alicia",
        ),
    },
    texts={
        "en": {
            "other.one": "<@{user}> has written {count} message here.",
            "other.many": "<@{user}> has written {count} messages here.",
            "not_a_mention": "I read `{arg}` as plain text, not as a mention, so I don't know who that is. "
            "Mention the person: `count @{arg}` (pick them from the list Slack shows as you type).",
        },
        "es": {
            "other.one": "<@{user}> ha escrito {count} mensaje aquí.",
            "other.many": "<@{user}> ha escrito {count} mensajes aquí.",
            "not_a_mention": "Entendí `{arg}` como texto, no como una mención, así que no sé quién es. "
            "Menciona a la persona: `cuenta @{arg}` (elígela de la lista que Slack muestra al escribir).",
        },
    },
    answer=answer,
)
