"""The floors, in plain boto3 and the standard library, with no framework.

- The physical floor: the least work each job needs (verify, one SendMessage; receive, post,
  delete).
- The same-effects floor: charla's own effects per command, done by hand: the worker's read of
  the channel item, its one conditional transaction (effect record + command counter + channel
  post slot) before the post, the post, its one write (DONE) after it. charla against it is the
  framework's tax; it against the physical floor is what the exactly-once design costs.

Nothing here imports charla's ingress or workers (the key schema below is written out again on
purpose: docs/DATA.md). Heavy imports sit inside the functions so that the cold-start floor, run in
a fresh process, pays only for what it uses.
"""

import base64
import http.client
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# A fresh interpreter: verify the signature with slack_sdk, build the SQS client, send one message.
# (This is also the ingress's same-effects floor: the ingress makes exactly one AWS call.)
# Reads {"headers", "body", "queue_url"} on stdin; prints one JSON line.
COLD_START_CODE = """
import json, sys, time
request = json.loads(sys.stdin.read())
started = time.perf_counter()
from slack_sdk.signature import SignatureVerifier
import boto3
import os
imported = time.perf_counter() - started
verifier = SignatureVerifier(os.environ["SLACK_SIGNING_SECRET"])
headers = request["headers"]
assert verifier.is_valid(body=request["body"], timestamp=headers["x-slack-request-timestamp"],
                         signature=headers["x-slack-signature"])
client = boto3.client("sqs")
client.send_message(QueueUrl=request["queue_url"], MessageBody=request["body"])
elapsed = time.perf_counter() - started
print(json.dumps({"status": 200, "in_process_s": elapsed, "imported_s": imported,
                  "peak_rss_kib": _peak_rss_kib(),
                  "modules": len(sys.modules)}))
"""


class StandInPoster:
    """Posts ``chat.postMessage`` to the Slack stand-in, one connection per post as slack_sdk does.

    (A kept-alive connection meets Nagle's algorithm and delayed ACKs against the stand-in's two
    writes per response: 40 ms per post, which would flatter charla.)
    """

    def __init__(self, slack_api_url: str, token: str) -> None:
        target = urlsplit(slack_api_url)
        self._host = target.hostname or "127.0.0.1"
        self._port = target.port or 80
        self._path = target.path.rstrip("/") + "/chat.postMessage"
        self._token = token

    def post(self, channel: str, text: str, thread_ts: str | None, reply_id: str | None = None) -> str:
        """Post once; the new message's ts. ``reply_id`` goes in the metadata, as charla's does."""
        payload: dict[str, Any] = {"channel": channel, "text": text, "thread_ts": thread_ts}
        if reply_id:
            payload["metadata"] = {"event_type": "charla_reply", "event_payload": {"reply_id": reply_id}}
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {self._token}"}
        connection = http.client.HTTPConnection(self._host, self._port, timeout=10)
        try:
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"stand-in answered {response.status}")
        return str(json.loads(answer or b"{}").get("ts") or "")

    def close(self) -> None:
        return


def reply_from_task_body(message_body: str) -> tuple[str, str | None]:
    """(channel, thread_ts) from a Celery-protocol body, decoded with the standard library only."""
    task = task_from_body(message_body)
    return str(task["channel"]), task.get("thread_ts")


def task_from_body(message_body: str) -> dict[str, Any]:
    """The task's kwargs plus its ``task_id``, from a Celery-protocol body (standard library only)."""
    envelope = json.loads(base64.b64decode(message_body))
    _args, kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    task_id = envelope.get("headers", {}).get("id") or envelope.get("properties", {}).get("correlation_id")
    return {**kwargs, "task_id": task_id}


class SameEffects:
    """The worker's DynamoDB effects for one command, by hand (the same items and conditions as
    ``workers/state/``): GetItem of the channel item; ONE TransactWriteItems of the effect record
    (absent -> held, with owner, version and the fence's posting_at) and the channel item (command
    counter + 1, next post slot, conditional on the slot read); after the post, UpdateItem held ->
    done by its owner."""

    def __init__(self, dynamodb: Any, table: str, *, lease_s: float = 60.0) -> None:
        self._db = dynamodb
        self._table = table
        self._lease_s = lease_s

    def before_post(self, task: dict[str, Any], owner: str) -> None:
        now = time.time()
        channel_key = {"pk": {"S": f"CHANNELS#{task['team_id']}"}, "sk": {"S": str(task["channel"])}}
        item = self._db.get_item(TableName=self._table, Key=channel_key, ConsistentRead=True).get("Item") or {}
        seen = item.get("next_at", {}).get("N")
        slot = max(now, float(seen or 0))
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": channel_key,
            "UpdateExpression": "ADD #counter :one SET next_at = :next",
            "ExpressionAttributeNames": {"#counter": f"uses_{task.get('command') or 'ping'}"},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":next": {"N": f"{slot + 1.0:.3f}"}},
            "ConditionExpression": "attribute_not_exists(next_at)",
        }
        if seen is not None:
            update["ConditionExpression"] = "next_at = :seen"
            update["ExpressionAttributeValues"][":seen"] = {"N": seen}
        record = {
            "pk": {"S": f"EFFECT#{task['task_id']}"},
            "sk": {"S": "EFFECT"},
            "state": {"S": "held"},
            "owner": {"S": owner},
            "version": {"S": secrets.token_hex(8)},
            "posting_at": {"N": f"{now:.3f}"},  # the claim is the fence when the slot is now
            "claimed_at": {"N": f"{now:.3f}"},
            "expires_at": {"N": str(int(now + 19 * 86400))},
            "slot_at": {"N": f"{slot:.3f}"},
            "shift_at": {"N": "0"},
        }
        self._db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._table, "Item": record, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Update": update},
            ]
        )

    def after_post(self, task: dict[str, Any], owner: str, message_ts: str) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"EFFECT#{task['task_id']}"}, "sk": {"S": "EFFECT"}},
            UpdateExpression="SET #state = :done, message_ts = :ts",
            ConditionExpression="#state = :held AND #owner = :owner",
            ExpressionAttributeNames={"#state": "state", "#owner": "owner"},
            ExpressionAttributeValues={
                ":done": {"S": "done"},
                ":ts": {"S": message_ts},
                ":held": {"S": "held"},
                ":owner": {"S": owner},
            },
        )


@dataclass
class DrainResult:
    """What the raw receive/delete loop did."""

    handled: int = 0
    receives: int = 0
    deletes: int = 0
    cpu_s: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    errors: list[str] = field(default_factory=list)


def raw_consumer(
    sqs: Any,
    queue_url: str,
    poster: StandInPoster,
    *,
    stop: threading.Event,
    expected: int | None,
    result: DrainResult,
    wait_s: int = 20,
    effects: SameEffects | None = None,
) -> None:
    """ReceiveMessage(10, long poll) -> post each reply -> DeleteMessageBatch, until ``stop`` or ``expected``.

    The same real work as a ping task (decode the body, one HTTP post), none of the framework.
    With ``effects``, each post is wrapped in charla's DynamoDB effects (the same-effects floor).
    """
    cpu_started = time.thread_time()
    while not stop.is_set() and (expected is None or result.handled < expected):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s).get(
            "Messages", []
        )
        result.receives += 1
        if not messages:
            continue
        if not result.started:
            result.started = time.time()
        for message in messages:
            if effects is None:
                channel, thread_ts = reply_from_task_body(message["Body"])
                poster.post(channel, "pong", thread_ts)
                continue
            task = task_from_body(message["Body"])
            owner = uuid.uuid4().hex
            effects.before_post(task, owner)
            ts = poster.post(str(task["channel"]), "pong", task.get("thread_ts"), reply_id=str(task["task_id"]))
            effects.after_post(task, owner, ts)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        result.deletes += 1
        result.handled += len(messages)
        result.finished = time.time()
    result.cpu_s = time.thread_time() - cpu_started


def verify_signature(signing_secret: str, body: bytes, timestamp: str, signature: str) -> None:
    """Slack's v0 signature check in the standard library (what SignatureVerifier does)."""
    import hashlib
    import hmac

    expected = (
        "v0=" + hmac.new(signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    )
    if not hmac.compare_digest(expected, signature):
        raise ValueError("bad signature")


def raw_send_check(
    sqs: Any, queue_url: str, signing_secret: str, *, body: bytes, timestamp: str, signature: str
) -> None:
    """The ingress floor per request: HMAC check (stdlib) and one SendMessage."""
    verify_signature(signing_secret, body, timestamp, signature)
    sqs.send_message(QueueUrl=queue_url, MessageBody=body.decode())


def start_consumer(
    stack: Any, queue_url: str, *, expected: int, wait_s: int, name: str = "floor", same_effects: bool = False
) -> Any:
    """Start ``main`` below as a process of ``stack`` (same environment as a worker); waits until it polls.

    ``same_effects``: do charla's DynamoDB effects around each post, in the stack's state table.
    """
    from scripts.processes import ManagedProcess, python_module, wait_until
    from scripts.stack import ROOT

    process = ManagedProcess(
        name,
        python_module(
            "bench.floor",
            queue_url,
            f"{stack.slack_url}/api/",
            str(expected),
            str(wait_s),
            *(["--same-effects"] if same_effects else []),
        ),
        env={**stack.env, "PYTHONPATH": str(ROOT)},
        log_dir=stack.log_dir,
        cwd=ROOT,
    )
    stack.processes[name] = process  # stopped with the stack whatever happens
    wait_until(lambda: "ready" in process.log_text(), timeout=30, message=f"{name} consumer")
    return process


def consumer_result(process: Any, *, timeout: float) -> dict[str, Any]:
    """Wait for a consumer started with ``expected`` > 0 to finish; its JSON summary."""
    process.popen.wait(timeout=timeout)
    result: dict[str, Any] = json.loads(process.log_text().strip().splitlines()[-1])
    return result


def main() -> None:
    """``python -m bench.floor QUEUE_URL SLACK_API_URL EXPECTED WAIT_S [--same-effects]``: the raw consumer.

    Like a worker it runs apart from the producer; EXPECTED 0 runs until SIGTERM. Prints one JSON line:
    messages handled, requests made, CPU seconds and epoch times of the first and last message.
    """
    import os
    import signal
    import sys

    import boto3

    queue_url, slack_api_url, expected, wait_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    effects = None
    if "--same-effects" in sys.argv[5:]:
        from contract.tables import TABLE_SPECS, TableName

        effects = SameEffects(boto3.client("dynamodb"), os.environ[TABLE_SPECS[TableName.STATE].variable])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    result = DrainResult()
    poster = StandInPoster(slack_api_url, os.environ["SLACK_BOT_TOKEN"])
    print("ready", flush=True)
    raw_consumer(
        boto3.client("sqs"),
        queue_url,
        poster,
        stop=stop,
        expected=expected or None,
        result=result,
        wait_s=wait_s,
        effects=effects,
    )
    print(
        json.dumps(
            {
                "handled": result.handled,
                "receives": result.receives,
                "deletes": result.deletes,
                "cpu_s": result.cpu_s,
                "process_cpu_s": time.process_time(),
                "started": result.started,
                "finished": result.finished,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
