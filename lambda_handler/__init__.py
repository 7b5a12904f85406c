"""The ingress: verifies Slack requests, acks within Slack's 3 s and queues Celery tasks on SQS."""
