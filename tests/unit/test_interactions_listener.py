"""A press of "More" becomes the next search page's task; a press we did not write is refused."""

import pytest

from contract.commands import SEARCH_MORE_ACTION, more_button_value
from lambda_handler.errors import RequestRejected
from lambda_handler.listeners.interactions import search_page
from scripts.slack_requests import block_action


def _press(value: str, **options: str) -> tuple[dict[str, object], dict[str, object]]:
    body = block_action(
        {"type": "button", "action_id": SEARCH_MORE_ACTION, "value": value},
        response_url="https://hooks.slack.com/actions/T1/1/x",
        channel="C0SEARCH",
        user="U0PRESS",
        trigger_id="111.222.abc",
        **options,
    )
    return body, body["actions"][0]  # type: ignore[index,return-value]


def test_a_press_carries_the_search_its_page_its_thread_and_where_to_answer() -> None:
    body, action = _press(more_button_value("python  asíncrono", 5, "es"), thread_ts="100.000001")

    page, key = search_page(body, action)  # type: ignore[arg-type]

    assert (page.query, page.offset, page.lang) == ("python  asíncrono", 5, "es")
    assert (page.channel, page.user, page.thread_ts) == ("C0SEARCH", "U0PRESS", "100.000001")
    assert page.response_url == "https://hooks.slack.com/actions/T1/1/x"
    assert key == f"111.222.abc:{action['action_ts']}"  # a re-delivered press: same key, same task id
    assert search_page(body, action)[1] == key  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", ["", "not json", "[]", '{"q": "x", "o": -1, "l": "es"}', '{"q": "x", "o": 1, "l": "fr"}']
)
def test_a_button_value_we_did_not_write_is_refused(value: str) -> None:
    body, action = _press(value)
    with pytest.raises(RequestRejected):
        search_page(body, action)  # type: ignore[arg-type]


def test_a_press_on_an_ephemeral_page_pages_in_place_and_share_shares_in_the_searchs_thread() -> None:
    from contract.commands import SEARCH_SHARE_ACTION

    body, action = _press(more_button_value("python", 5, "es", "100.000001"), ephemeral=True)  # type: ignore[arg-type]
    page, _ = search_page(body, action)  # type: ignore[arg-type]
    assert page.in_place and not page.share
    assert page.thread_ts == "100.000001"  # Slack's payload for an ephemeral page names no thread: the value does
    action["action_id"] = SEARCH_SHARE_ACTION
    shared, _ = search_page(body, action)  # type: ignore[arg-type]
    assert shared.share
