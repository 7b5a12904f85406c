"""Who was welcomed where: ``WELCOME#<team>#<channel>`` / ``USER#<user>`` (once, for good).
This module is the only one that knows the key.
"""

import time

from workers.state.records import Records
from workers.state.table import item as _item
from workers.state.table import n as _n


def welcome_key(team_id: str, channel: str, user: str) -> dict[str, str]:
    return {"pk": f"WELCOME#{team_id}#{channel}", "sk": f"USER#{user}"}


class WelcomeRecords(Records):
    """Welcome marks (a mixin of ``StateStore``)."""

    def was_welcomed(self, *, team_id: str, channel: str, user: str) -> bool:
        """Whether ``user`` was welcomed to ``channel`` before."""
        return self._get(welcome_key(team_id, channel, user)) is not None

    def mark_welcomed(self, *, team_id: str, channel: str, user: str, now: float | None = None) -> bool:
        """Remember that ``user`` was welcomed to ``channel`` (a conditional put: once for good).

        Returns:
            ``True`` if recorded now; ``False`` if it was recorded before.
        """
        item = _item(welcome_key(team_id, channel, user), welcomed_at=_n(time.time() if now is None else now))
        put = {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        return self._transact([{"Put": put}], what="mark welcomed")
