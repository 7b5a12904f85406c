"""The Lambda executor: the same registry's tasks run by an AWS Lambda fed by SQS.

``main.handler`` is the function's handler (infra/constructs/lambda_executor.py). It loads no
Celery: nothing here imports ``workers.celery_worker`` (tests/unit/test_layout.py).
"""
