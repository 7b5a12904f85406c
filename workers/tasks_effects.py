"""Tasks whose effect is not an answer in a channel (issue #23): the Home tab and failure notices.

Each effect goes through the effect records (``workers/services/effects.py``): once per key,
deferred while another run holds it, released for a later copy when Slack fails.
"""

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from contract.commands import typed_language
from contract.tasks import FailureNotice, HomeOpened, TaskName
from workers.payloads import parse_payload
from workers.registry import TaskContext, task
from workers.runtime.settings import get_settings
from workers.runtime.slack import reader_client, web_client, webhook_client
from workers.services import agenda, answers, effects, home, languages
from workers.store import get_store

logger = logging.getLogger(__name__)
_home_opened = TypeAdapter(HomeOpened)
_failure_notice = TypeAdapter(FailureNotice)
# response_url answers that mean "this URL is gone": the notice goes to the channel instead.
_EXPIRED_RESPONSE_URL = frozenset({404, 410})


@task(TaskName.PUBLISH_HOME)
def publish_home(ctx: TaskContext, **payload: Any) -> None:
    """Publish the person's Home view, unless the very same view is what they have already.

    Slack sends ``app_home_opened`` every time the tab is opened; the view is rebuilt from reads
    (person, agenda, counters) and published only when its digest differs from the last one
    published for them: opening the tab again costs reads and no Slack call, no write.
    """
    opened = parse_payload(_home_opened, payload)
    store = get_store()
    person = store.person_languages(team_id=opened.team_id, user=opened.user)
    lang = languages.person_language(
        team_id=opened.team_id,
        user=opened.user,
        store=store,
        reader=reader_client(),
        default=get_settings().default_language,
        known=person,
    )
    now = datetime.now(UTC)
    items = agenda.load_items(store)
    upcoming = None if items is None else sorted((i for i in items if i.start > now), key=lambda i: i.start)
    view = home.home_view(
        lang=lang,
        upcoming=upcoming,
        own_count=store.message_count(team_id=opened.team_id, user=opened.user),
        counts=store.command_counts(team_id=opened.team_id),
        now=now,
    )
    digest = home.view_digest(view)
    if digest == person.home_view:
        logger.info("home view unchanged user=%s correlation_id=%s", opened.user, opened.correlation_id)
        return

    def publish() -> None:
        # views.publish replaces the whole view: repeating it is harmless (the reading client retries).
        effects.slack_call("views.publish", lambda: reader_client().views_publish(user_id=opened.user, view=view))

    effects.once(store, f"home:{opened.correlation_id}", publish, lease_s=ctx.spec.lease_s, observed=ctx.observed)
    store.remember_home_view(team_id=opened.team_id, user=opened.user, digest=digest)


@task(TaskName.NOTIFY_FAILURE)
def notify_failure(ctx: TaskContext, **payload: Any) -> None:
    """Tell the person whose answer was dead-lettered, in one ephemeral line in their language."""
    notice = parse_payload(_failure_notice, payload)
    store = get_store()
    lang = typed_language(notice.command, notice.args) or languages.person_language(
        team_id=notice.team_id,
        user=notice.user,
        store=store,
        reader=reader_client(),
        default=get_settings().default_language,
    )
    line = answers.failure_notice(lang=lang).text

    def post() -> None:
        if notice.response_url:
            response = webhook_client(notice.response_url).send(
                text=line, response_type="ephemeral", replace_original=False
            )
            if response.status_code == 200:
                return
            if response.status_code not in _EXPIRED_RESPONSE_URL:
                raise RuntimeError(f"response_url: HTTP {response.status_code}")
        effects.wait_for_channel_turn(store, notice.team_id, notice.channel)
        effects.slack_call(
            "chat.postEphemeral",
            lambda: web_client().chat_postEphemeral(
                channel=notice.channel, user=notice.user, text=line, thread_ts=notice.thread_ts
            ),
        )

    try:
        effects.once(store, f"notice:{notice.failed_task_id}", post, lease_s=ctx.spec.lease_s, observed=ctx.observed)
    except effects.EffectRefused as refused:
        # The notice is about a failure already in the DLQ; Slack refusing it too (the channel is
        # gone, the bot was removed) leaves nobody to tell, and a second dead letter would only
        # repeat the first one's story.
        logger.warning(
            "failure notice refused task=%s correlation_id=%s: %s",
            notice.failed_task_id,
            notice.correlation_id,
            refused,
        )
        return
    logger.info("failure notice task=%s correlation_id=%s", notice.failed_task_id, notice.correlation_id)
