"""``search <text>`` (``busca <texto>``): agenda items whose title contains the text, a page at a time.

Its pages (Next, Previous, Share) are the framework task ``charla.search_more``, which shares
this command's texts in the catalogues (``search.*``).
"""

from contract.command_spec import Answer, AnswerContext, Command, HelpLine
from contract.tasks import CommandRequest, TaskName


def answer(request: CommandRequest, ctx: AnswerContext) -> Answer:
    from workers.services import agenda, answers

    if not request.args.strip():
        return answers.search_results("", [], lang=ctx.lang)  # asks for a word
    items = agenda.load_items(ctx.store)
    matches = agenda.search(items, request.args, ctx.now) if items else None
    return answers.search_results(
        request.args,
        matches,
        lang=ctx.lang,
        now=ctx.now,
        ephemeral=request.response_url is not None,
        thread_ts=request.thread_ts,
    )


COMMAND = Command(
    task=TaskName.SEARCH_AGENDA,
    order=40,
    words={"en": ("search",), "es": ("busca", "buscar")},
    help={
        "en": HelpLine(
            usage="search <text>",
            summary="agenda items whose title contains the text",
            detail="finds agenda items whose title contains the text (case and accents don't matter); "
            "upcoming ones first, then past ones (marked). *Next* and *Previous* page through them; "
            "*Share* shows a page only you see to everyone.",
            example="search python",
        ),
        "es": HelpLine(
            usage="busca <texto>",
            summary="eventos de la agenda cuyo título contiene el texto",
            detail="busca eventos cuyo título contiene el texto (sin importar mayúsculas ni acentos); "
            "primero los próximos, luego los pasados (marcados). *Siguientes* y *Anteriores* pasan de página; "
            "*Compartir* muestra a todos una página que solo ves tú.",
            example="busca python",
        ),
    },
    answer=answer,
)
