"""The STATE table, one module per aggregate; each is the only one that knows its keys.

- ``table``: the plumbing every aggregate shares (attribute values, errors, one conditional write).
- ``effects``: one answer's record, behind "each answer is posted once" (``workers/services/replies.py``).
- ``pace``: one channel's line of posts under Slack's per-channel pace.

The archive, counters, welcomes and agenda still live in ``workers/store.py``; heartbeats in
``workers/heartbeat_store.py``.
"""
