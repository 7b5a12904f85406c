"""Celery's DynamoDB result backend, with the item key stored as plain text.

Celery 5.7 builds result keys as bytes and writes ``str(key)`` into the string attribute
``id``, so the stored key reads ``b'celery-task-meta-<id>'`` (celery/celery#5455, open). A
caller in another language should not have to reproduce a Python ``repr``: this subclass keeps
keys as text, ``celery-task-meta-<task id>`` (``contract.results.result_key``), and changes
nothing else but one start-up call: the table's TTL setting belongs to whoever creates the table
(the CDK app, ``scripts/provision.py``), so the worker does not describe or change it and needs no
``DescribeTimeToLive``/``UpdateTimeToLive`` permission; it still writes the ``ttl`` attribute on
every item. ``workers/celery_worker/app.py`` selects this class with the ``<class>+dynamodb://`` form of
``result_backend``.
"""

from celery.backends.dynamodb import DynamoDBBackend


class TextKeyDynamoDBBackend(DynamoDBBackend):  # type: ignore[misc]  # celery ships no type information
    """``DynamoDBBackend`` whose keys are ``str`` (the workaround given in celery/celery#5455)."""

    key_t = str

    def _set_table_ttl(self) -> None:
        """Leave the table's TTL setting alone: the infra enables it on ``ttl`` (TableSpec)."""


BACKEND_CLASS = f"{__name__}:{TextKeyDynamoDBBackend.__name__}"
