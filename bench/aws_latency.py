"""The time AWS and Slack add to each call that moto and the stand-in answer at once.

moto answers in a millisecond or two on this machine; in a region a call also pays the network
and the service's own work. Figure 6 holds each call this much longer (at the proxies in front
of moto, and in the Slack stand-in), so a worker that waits on its calls is measured waiting as
it would in AWS. These are assumptions, stated so, not measurements:

- DynamoDB item reads and writes: single-digit milliseconds, as AWS describes the service; a
  transaction writes every item twice (prepare and commit), so about twice a write.
- SQS: tens of milliseconds per request from a task in the same region (long polls return as
  soon as a message is there; the hold is added to every receive).
- Slack's ``chat.postMessage``: about 150 ms, a typical round trip to Slack's Web API from a region.
"""

DYNAMODB_S = {
    "DynamoDB.GetItem": 0.005,
    "DynamoDB.Query": 0.008,
    "DynamoDB.PutItem": 0.008,
    "DynamoDB.UpdateItem": 0.008,
    "DynamoDB.DeleteItem": 0.008,
    "DynamoDB.TransactWriteItems": 0.015,
}
SQS_S = {
    f"AmazonSQS.{action}": 0.020
    for action in (
        "SendMessage",
        "SendMessageBatch",
        "ReceiveMessage",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
    )
}
SLACK_POST_S = 0.150


def described() -> str:
    """One line for the figure's notes: which latencies were injected."""
    dynamodb = ", ".join(f"{name.removeprefix('DynamoDB.')} {s * 1000:.0f} ms" for name, s in DYNAMODB_S.items())
    sqs = f"{next(iter(SQS_S.values())) * 1000:.0f} ms per SQS request"
    return f"AWS-like latencies injected: DynamoDB {dynamodb}; {sqs}; Slack posts {SLACK_POST_S * 1000:.0f} ms"
