"""The STATE table (see docs/DATA.md): one module per aggregate under ``workers/state/``, each the
only one that knows its keys, composed here into the ``StateStore`` workers use.

====================================  ==================================  ==========================
pk                                    sk                                  what (module)
====================================  ==================================  ==========================
``MSG#<team>#<channel>``              ``MSG#<ts>``                        one archived message (archive)
``COUNT#<team>``                      ``USER#<user>``                     messages a person wrote (archive)
``CHANNELS#<team>``                   ``<channel>``                       command counters and pace (pace)
``AGENDA``                            ``CURRENT`` / ``V#<version>#<i>``   the live agenda (agenda)
``EFFECT#<effect id>``                ``EFFECT``                          one answer's record (effects)
``WELCOME#<team>#<channel>``          ``USER#<user>``                     welcomed here (welcomes)
``COUNT#<team>``                      ``USER#<user>``                     + language, Home view (people)
``WORKER`` / ``FAILURE#<id>``         ...                                 heartbeats (heartbeats)
``JOBRUN#<job>``                      ``LAST``                            a job's last run (job_runs)
====================================  ==================================  ==========================

Every write that adds to a counter is a transaction with a conditional put of the record that
justifies it, so a redelivered event or task adds nothing the second time. The answer's claim,
its command counter and its channel's post slot are that one transaction
(``workers/services/replies.py`` owns the state machine; ``workers/state/effects.py`` the writes).
"""

from functools import cache
from typing import TYPE_CHECKING

from botocore.config import Config

from workers.runtime import aws
from workers.runtime.connection_pools import max_pool_connections
from workers.runtime.settings import get_settings
from workers.state.agenda import AgendaRecords
from workers.state.archive import ArchiveRecords
from workers.state.effects import EFFECT_TTL_S, Effects
from workers.state.job_runs import JobRuns
from workers.state.pace import ChannelCounts, ChannelPaces
from workers.state.people import PeopleRecords
from workers.state.table import StoreContended, StoreError, StoreUnavailableError, Table
from workers.state.welcomes import WelcomeRecords

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "EFFECT_TTL_S",
    "StateStore",
    "StoreContended",
    "StoreError",
    "StoreUnavailableError",
    "dynamodb_client",
    "get_store",
]


class StateStore(ArchiveRecords, WelcomeRecords, AgendaRecords, ChannelCounts, PeopleRecords, JobRuns):
    """Reads and writes of the STATE table: every aggregate's, through one client.

    ``effects`` (one answer's record) and ``pace`` (one channel's line) are objects of their own:
    only the reply state machine uses them.

    Raises (every method):
        StoreUnavailableError: Throttled, conflicting or unreachable: worth retrying.
        StoreError: Refused for good.
    """

    def __init__(self, client: "DynamoDBClient", table: str, *, archive_retention_days: int = 365) -> None:
        self._client = client
        self._table = table
        self._archive_retention_s = archive_retention_days * 24 * 3600
        shared = Table(client, table)
        self.effects = Effects(shared)  # one answer's record (workers/state/effects.py)
        self.pace = ChannelPaces(shared)  # one channel's line of posts (workers/state/pace.py)


def dynamodb_client(endpoint_url: str | None, region: str) -> "DynamoDBClient":
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=max_pool_connections(),  # one per pool thread (workers/runtime/connection_pools.py)
    )
    client: DynamoDBClient = aws.client("dynamodb", region=region, endpoint_url=endpoint_url, config=config)
    return client


@cache
def get_store() -> StateStore:
    """The store for this worker process, from its settings."""
    settings = get_settings()
    return StateStore(
        dynamodb_client(settings.aws_endpoint_url, settings.aws_region),
        settings.table_state,
        archive_retention_days=settings.archive_retention_days,
    )
