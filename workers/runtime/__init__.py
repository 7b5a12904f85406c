"""What every worker process has around its tasks, whichever executor runs them.

Settings (``settings``), the AWS and Slack clients (``aws``, ``slack``, ``slack_token``) and the
connection pools they share (``connection_pools``), the wall clock (``clock``) and the metric
lines (``metrics``). The bottom layer: it imports nothing else from ``workers``
(tests/unit/test_layout.py).
"""
