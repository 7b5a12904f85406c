"""Workers: the tasks, the two executors that run them, and what both executors share.

``celery_worker/`` is the Celery executor (ECS Fargate) and ``lambda_executor/`` the Lambda one;
``runtime/`` holds the settings and clients every worker process has; ``services/`` and
``state/`` are the work and the DynamoDB records the tasks (``tasks*.py``, ``registry.py``) use.
"""
# Workers never import the ingress: checked by ruff TID251 (workers/ruff.toml).
