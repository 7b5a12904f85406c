"""Celery workers: consume SQS, answer on Slack, keep state in DynamoDB."""
