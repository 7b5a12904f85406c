"""The STATE table, one module per aggregate; each is the only one that knows its keys.

- ``table``: what every aggregate shares (attribute values, errors, one conditional write).
- ``records``: the client and the writes the DynamoDB-speaking mixins share.
- ``effects``: one answer's record, behind "each answer is posted once" (``workers/services/replies.py``).
- ``pace``: one channel's line of posts under Slack's per-channel pace, and its command counters.
- ``archive``: archived messages and people's message counts.
- ``welcomes``: who was welcomed where.
- ``agenda``: the live agenda and its versions.
- ``people``: each person's language and last Home view.
- ``heartbeats``: workers' heartbeats and failure notes (their keys are the contract's).

``workers/store.py`` composes them into the ``StateStore`` the tasks use.
"""
