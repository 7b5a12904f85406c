"""The Slack stand-in is as strict as Slack about text: a post that echoes ``&``, ``<`` or ``>`` raw
(which Slack would read as a mention, a link or a broken entity) is flagged, over real sockets."""

import threading
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from scripts.slack_standin import SlackStandIn
from scripts.stack import http

TOKEN = "xoxb-escaping"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    server = SlackStandIn(0, TOKEN)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_post_with_raw_control_characters_is_flagged_and_an_escaped_one_is_not(standin: SlackStandIn) -> None:
    client = WebClient(token=TOKEN, base_url=standin.url + "/api/")
    client.chat_postMessage(
        channel="C1", text="1 match “Q&amp;A &lt;x&gt;” for <@U0BOB|bob>: <https://a.example|A&amp;B>"
    )
    client.chat_postMessage(
        channel="C1", text="fallback", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Q&A <x>"}}]
    )
    state = http("GET", standin.url + "/_recorded").json()
    assert state["unescaped_posts"] == 1
    assert [record["unescaped"] for record in state["records"]] == [False, True]
