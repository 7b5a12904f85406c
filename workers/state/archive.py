"""The message archive and people's message counts: ``MSG#<team>#<channel>`` / ``MSG#<ts>`` (one
record per message, whatever order its new, edited and deleted events arrive in) and
``COUNT#<team>`` / ``USER#<user>``. This module is the only one that knows those keys.

An archived message is one record that its events (new, edited, deleted) update in whatever order
they arrive: ``posted_at`` says the original was applied (and counted), ``edited_at`` which edit
the text is from, ``deleted_at`` that the text is gone for good. A new message's put and its
author's count are one transaction conditional on the record being new.
"""

import time
from typing import Any

from contract.tasks import ArchivedMessage, MessageKind
from workers.state.records import Records
from workers.state.table import StoreUnavailableError
from workers.state.table import item as _item
from workers.state.table import n as _n
from workers.state.table import s as _s

# Subtypes a person writes; joins, topic changes and the like are archived but not counted.
COUNTED_SUBTYPES: frozenset[str | None] = frozenset({None, "file_share", "thread_broadcast", "me_message"})


def channel_archive_pk(team_id: str, channel: str) -> str:
    return f"MSG#{team_id}#{channel}"


def message_key(message: ArchivedMessage) -> dict[str, str]:
    """Key of one archived message: its new, edited and deleted events all land on this record."""
    return archived_message_key(message.team_id, message.channel, message.ts)


def archived_message_key(team_id: str, channel: str, ts: str) -> dict[str, str]:
    return {"pk": channel_archive_pk(team_id, channel), "sk": f"MSG#{ts}"}


def user_count_key(team_id: str, user: str) -> dict[str, str]:
    return {"pk": f"COUNT#{team_id}", "sk": f"USER#{user}"}


def is_counted(message: ArchivedMessage) -> bool:
    """A new message a person wrote (not a bot, not an edit, deletion, join or topic change)."""
    return (
        message.kind == MessageKind.NEW
        and not message.is_bot
        and bool(message.user)
        and message.subtype in COUNTED_SUBTYPES
    )


class ArchiveRecords(Records):
    """Archive writes and reads (a mixin of ``StateStore``)."""

    _archive_retention_s: float

    def archive_message(
        self, message: ArchivedMessage, *, now: float | None = None, written_language: str | None = None
    ) -> bool:
        """Apply one message event to the message's record; count a new message a person wrote.

        One record per message (see the module docstring): a new message is one conditional put,
        in the same transaction as its author's count; an edit replaces the text (only if it is
        newer than the last edit applied); a deletion removes the text and keeps who and when.
        Events may arrive in any order: a deletion leaves a tombstone that no later original or
        edit brings text back to, and an original arriving after an edit keeps the edited text.

        Args:
            written_language: The language a counted message shows (``en``/``es``), recorded on its
                author's counter item in the same write as the count (``workers/state/people.py``).

        Returns:
            ``True`` if the event changed the record; ``False`` if it was a redelivery or is
            older than what the record already holds (nothing changed, nothing counted).
        """
        now = time.time() if now is None else now
        if message.kind == MessageKind.EDITED:
            return self._apply_edit(message, now)
        if message.kind == MessageKind.DELETED:
            return self._apply_deletion(message, now)
        return self._apply_new(message, now, written_language)

    def _archive_expiry(self, message: ArchivedMessage) -> dict[str, Any]:
        """``expires_at`` of a message's record: its own time plus the retention (none when 0)."""
        if not self._archive_retention_s:
            return {}
        try:
            written = float(message.ts)
        except ValueError:
            written = time.time()
        return {"expires_at": _n(written + self._archive_retention_s)}

    def _apply_new(self, message: ArchivedMessage, now: float, written_language: str | None) -> bool:
        key = message_key(message)
        about = {
            "event_id": _s(message.event_id),
            "user": _s(message.user),
            "posted_at": _s(message.event_ts),
            "is_bot": {"BOOL": message.is_bot},
            "archived_at": _n(now),
            **({"subtype": _s(message.subtype)} if message.subtype else {}),
            **({"thread_ts": _s(message.thread_ts)} if message.thread_ts else {}),
            **({"channel_type": _s(message.channel_type)} if message.channel_type else {}),
            **self._archive_expiry(message),
        }
        counter = []
        if is_counted(message):
            count = self._add_one(user_count_key(message.team_id, message.user), "messages")
            if written_language:
                update = count["Update"]
                update["UpdateExpression"] += " SET last_written = :lang"
                update["ExpressionAttributeValues"][":lang"] = _s(written_language)
            counter.append(count)
        # The common case: nothing is known of this message yet. One put (and the count).
        put = {
            "TableName": self._table,
            "Item": _item(key, text=_s(message.text), **about),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if self._transact([{"Put": put}, *counter], what="archive"):
            return True
        # An edit or deletion got here first (out-of-order delivery), or this is a redelivery.
        for _ in range(3):
            existing = self._get(key) or {}
            if "posted_at" in existing:
                return False  # the original was applied before: a redelivery
            keeps_text = "deleted_at" in existing or "edited_at" in existing
            names = {f"#{name}": name for name in about}
            values = {f":{name}": value for name, value in about.items()}
            assignments = [f"#{name} = :{name}" for name in about]
            condition = "attribute_not_exists(posted_at)"
            if not keeps_text:
                names["#text"], values[":text"] = "text", _s(message.text)
                assignments.append("#text = :text")
                condition += " AND attribute_not_exists(deleted_at) AND attribute_not_exists(edited_at)"
            update = {
                "TableName": self._table,
                "Key": {name: _s(value) for name, value in key.items()},
                "UpdateExpression": "SET " + ", ".join(assignments),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
            if self._transact([{"Update": update}, *counter], what="archive"):
                return True
            # A deletion or edit landed between the read and the write: look again.
        raise StoreUnavailableError("archive: message record changing under us")

    def _apply_edit(self, message: ArchivedMessage, now: float) -> bool:
        expiry = self._archive_expiry(message)
        update = {
            "TableName": self._table,
            "Key": {name: _s(value) for name, value in message_key(message).items()},
            "UpdateExpression": "SET #text = :text, edited_at = :at, #user = if_not_exists(#user, :user), "
            "archived_at = :now" + (", expires_at = :expires" if expiry else ""),
            # Never after a deletion; never an older edit over a newer one (Slack ts strings
            # have a fixed width, so they compare in time order).
            "ConditionExpression": "attribute_not_exists(deleted_at) AND "
            "(attribute_not_exists(edited_at) OR edited_at < :at)",
            "ExpressionAttributeNames": {"#text": "text", "#user": "user"},
            "ExpressionAttributeValues": {
                ":text": _s(message.text),
                ":at": _s(message.event_ts),
                ":user": _s(message.user),
                ":now": _n(now),
                **({":expires": expiry["expires_at"]} if expiry else {}),
            },
        }
        return self._transact([{"Update": update}], what="archive edit")

    def _apply_deletion(self, message: ArchivedMessage, now: float) -> bool:
        expiry = self._archive_expiry(message)
        update = {
            "TableName": self._table,
            "Key": {name: _s(value) for name, value in message_key(message).items()},
            "UpdateExpression": "SET deleted_at = :at, #user = if_not_exists(#user, :user), archived_at = :now"
            + (", expires_at = :expires" if expiry else "")
            + " REMOVE #text",
            "ConditionExpression": "attribute_not_exists(deleted_at)",
            "ExpressionAttributeNames": {"#text": "text", "#user": "user"},
            "ExpressionAttributeValues": {
                ":at": _s(message.event_ts),
                ":user": _s(message.user),
                ":now": _n(now),
                **({":expires": expiry["expires_at"]} if expiry else {}),
            },
        }
        return self._transact([{"Update": update}], what="archive deletion")

    def message_count(self, *, team_id: str, user: str) -> int:
        """Messages ``user`` wrote in the workspace (0 if none were archived)."""
        item = self._get(user_count_key(team_id, user))
        return int(item["messages"]["N"]) if item and "messages" in item else 0

    def archived(self, *, team_id: str, channel: str) -> list[dict[str, Any]]:
        """Every archived event of a channel, oldest message first (plain values)."""
        return [
            {name: next(iter(value.values())) for name, value in item.items()}
            for item in self._query(channel_archive_pk(team_id, channel), "")
        ]

    def archived_message(self, *, team_id: str, channel: str, ts: str) -> dict[str, Any] | None:
        """One archived message as plain values, or ``None`` if nothing is stored for it."""
        item = self._get(archived_message_key(team_id, channel, ts))
        return {name: next(iter(value.values())) for name, value in item.items()} if item else None
