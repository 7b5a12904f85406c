"""Every answer's Block Kit, in both languages, parsed and validated by slack_sdk's own models and
held to Slack's message limits (a block Slack refuses loses the whole answer: ``invalid_blocks``)."""

from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from workers.services import answers
from workers.services.agenda import AgendaItem
from workers.services.texts import CATALOGUES

NOW = datetime(2027, 1, 1, tzinfo=UTC)
# https://docs.slack.dev/reference/block-kit/blocks (per block type) and chat.postMessage
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_TEXT = 4000  # chat.postMessage truncates text beyond 40,000; answers stay far below


def _items(count: int) -> list[AgendaItem]:
    return [
        AgendaItem.model_validate(
            {
                "title": f"Taller <{n}> & {'muy largo ' * 25}"[:300],
                "start": f"20{26 + n % 3}-0{1 + n % 9}-0{1 + n % 9}T10:00:00+02:00",
                "end": f"20{26 + n % 3}-0{1 + n % 9}-0{1 + n % 9}T12:00:00+02:00",
                "url": f"https://charla.example/agenda/{n}?q=a&b=c",
            }
        )
        for n in range(count)
    ]


def every_answer(lang: str) -> list[answers.Answer]:
    items = _items(12)
    long_query = "python " * 400
    return [
        answers.pong(worker="worker@ip-10-0-1-5", queue_delay_ms=12.3, lang=lang),
        answers.help_text("", lang=lang),
        answers.help_text("ayuda", "busca", lang=lang),
        answers.help_text("x" * 3500, lang=lang),
        answers.help_text("sigiente", lang=lang),
        answers.help_text("hola", lang=lang),
        answers.next_event(None, agenda_empty=True, lang=lang),
        answers.next_event(items[0], agenda_empty=False, lang=lang),
        answers.search_results(long_query, items, lang=lang, now=NOW),
        answers.search_results(long_query, items, lang=lang, now=NOW, offset=5, ephemeral=True, thread_ts="1.2"),
        answers.search_results("python", items, lang=lang, now=NOW, offset=10, ephemeral=True, replace_original=True),
        answers.search_results("python", items[:1], lang=lang, now=NOW),
        answers.search_results("python", [], lang=lang),
        answers.message_counts([(f"U{n}", n) for n in range(answers.MAX_COUNTED_USERS)], asker="U1", lang=lang),
        answers.not_a_mention("bob" * 1000, lang=lang),
        answers.stats({"search": 3, "count": 2, "unknown-old-name": 1}, lang=lang),
    ]


def _check_limits(block: dict[str, Any]) -> None:
    kind = block["type"]
    if kind == "section":
        assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
    elif kind == "context":
        assert 1 <= len(block["elements"]) <= MAX_CONTEXT_ELEMENTS
    elif kind == "actions":
        assert 1 <= len(block["elements"]) <= 25
        ids = [element["action_id"] for element in block["elements"]]
        assert len(ids) == len(set(ids)), "action ids must be unique in a block"
        for element in block["elements"]:
            assert len(element["text"]["text"]) <= MAX_BUTTON_TEXT
            assert len(element["value"]) <= MAX_BUTTON_VALUE
            assert len(element["action_id"]) <= MAX_ACTION_ID


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_every_answers_blocks_are_valid_block_kit_within_slacks_limits(lang: str) -> None:
    for answer in every_answer(lang):
        assert answer.text and len(answer.text) <= MAX_TEXT, answer.text[:80]
        blocks = answer.blocks or []
        assert len(blocks) <= MAX_BLOCKS
        for block in blocks:
            parsed = Block.parse(block)
            assert parsed is not None, block
            parsed.validate_json()  # raises SlackObjectFormationError on what Slack would refuse
            assert parsed.to_dict() == block, "slack_sdk's model dropped or changed a field"
            _check_limits(block)


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_the_home_view_is_valid_block_kit_within_slacks_limits(lang: str) -> None:
    from slack_sdk.models.views import View

    from workers.services.home import home_view

    for upcoming in (None, [], _items(12)):
        view = home_view(lang=lang, upcoming=upcoming, own_count=3, counts={"search": 2, "ping": 1}, now=NOW)
        assert view["type"] == "home" and len(view["blocks"]) <= 100  # Slack's limit for a Home view
        model = View(**view)
        model.validate_json()
        for block in view["blocks"]:
            parsed = Block.parse(block)
            assert parsed is not None and parsed.to_dict() == block
            _check_limits(block)
        assert view["blocks"][0]["text"]["text"] and len(view["blocks"][0]["text"]["text"]) <= 150  # header limit
