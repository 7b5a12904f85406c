"""The local stand-in for the EventBridge schedule: invokes the Lambda ``handler`` with a
scheduled event, at once and then every ``--interval`` seconds, so locally the agenda refresh
takes exactly the path it takes in AWS (schedule -> Lambda -> SQS -> worker). No Celery beat.

Run with the stack's environment (queue URLs, AWS endpoint):
``python -m scripts.scheduler --interval 300`` or ``--once [--source URL]``.
``--once --job NAME`` fires the event of ``cdk.json``'s ``schedules`` entry for that job instead,
exactly as its EventBridge rule sends it (``infra/constructs/ingress_schedule.py``).
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


def scheduled_event(*, agenda_source: str | None = None, job: dict[str, Any] | None = None) -> dict[str, Any]:
    """An EventBridge ``Scheduled Event`` as the Lambda receives it (``job``: a job rule's detail)."""
    detail = job if job is not None else ({"agenda_source": agenda_source} if agenda_source else {})
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [RULE_ARN],
        "detail": detail,
    }


def job_detail(name: str) -> dict[str, Any]:
    """The detail the ``schedules`` entry of job ``name`` in ``cdk.json`` puts in its events.

    Raises:
        SystemExit: ``cdk.json`` does not schedule that job (or its entry is refused).
    """
    from infra.config import CharlaConfig, SettingError
    from infra.settings import saved_settings

    try:
        entry = CharlaConfig.from_context(saved_settings().get).schedules.get(name)
    except SettingError as error:
        raise SystemExit(str(error)) from None
    if entry is None:
        raise SystemExit(f"cdk.json schedules no job {name!r} (add it under context.schedules)")
    return {"job": name, "payload": dict(entry.payload)}


def fire(*, agenda_source: str | None = None, job: str | None = None) -> dict[str, Any]:
    """Invoke the Lambda handler in this process with one scheduled event; returns its answer."""
    from lambda_handler.main import handler  # the environment must be set before settings load

    event = scheduled_event(agenda_source=agenda_source, job=job_detail(job) if job else None)
    result: dict[str, Any] = handler(event, None)
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
    parser.add_argument("--job", default=None, help="with --once: fire this job's schedule from cdk.json")
    args = parser.parse_args()
    if args.once:
        print(f"scheduler fired {json.dumps(fire(agenda_source=args.source, job=args.job))}", flush=True)
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run(args.interval, agenda_source=args.source, stop=stop)


if __name__ == "__main__":
    main()
