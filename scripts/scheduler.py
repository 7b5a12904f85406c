"""The local stand-in for the EventBridge schedule: invokes the Lambda ``handler`` with a
scheduled event, at once and then every ``--interval`` seconds, so locally the agenda refresh
takes exactly the path it takes in AWS (schedule -> Lambda -> SQS -> worker). No Celery beat.

Run with the stack's environment (queue URLs, AWS endpoint):
``python -m scripts.scheduler --interval 300`` or ``--once [--source URL]``.
"""

import argparse
import json
import signal
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

REGION = "us-east-1"
RULE_ARN = f"arn:aws:events:{REGION}:000000000000:rule/charla-agenda-refresh"


def scheduled_event(*, agenda_source: str | None = None) -> dict[str, Any]:
    """An EventBridge ``Scheduled Event`` as the Lambda receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [RULE_ARN],
        "detail": {"agenda_source": agenda_source} if agenda_source else {},
    }


def fire(*, agenda_source: str | None = None) -> dict[str, Any]:
    """Invoke the Lambda handler in this process with one scheduled event; returns its answer."""
    from lambda_handler.main import handler  # the environment must be set before settings load

    result: dict[str, Any] = handler(scheduled_event(agenda_source=agenda_source), None)
    return result


def run(interval_s: float, *, agenda_source: str | None, stop: threading.Event) -> None:
    """Fire now, then every ``interval_s`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            print(f"scheduler fired {json.dumps(fire(agenda_source=agenda_source))}", flush=True)
        except Exception as error:  # keep the schedule alive; the next tick retries
            print(f"scheduler tick failed: {type(error).__name__}: {error}", flush=True)
        stop.wait(interval_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--interval", type=float, default=300.0, help="seconds between refreshes")
    parser.add_argument("--once", action="store_true", help="fire one event and exit")
    parser.add_argument("--source", default=None, help="agenda source to put in the event's detail")
    args = parser.parse_args()
    if args.once:
        print(f"scheduler fired {json.dumps(fire(agenda_source=args.source))}", flush=True)
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(args.interval, agenda_source=args.source, stop=stop)


if __name__ == "__main__":
    main()
