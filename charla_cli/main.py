"""The ``charla`` command line: parse, resolve the deployment, run one subcommand, map errors to exit codes."""

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from charla_cli import executors, heartbeats, jobs, queues, render
from charla_cli.endpoints import Endpoints, resolve
from charla_cli.errors import (
    EXIT_DEAD_LETTERS,
    EXIT_NO_WORKER,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    aws_errors,
)
from charla_cli.send import build_payload, resolve_task, send, wait_for_result
from charla_cli.trace_command import run_trace
from contract.queues import QueueName
from contract.registry import RESULT_TASKS, is_waitable
from contract.tables import TableName
from jobs import all_jobs

EXIT_CODES_HELP = """exit status:
  0  done; for status: nothing needs a person
  1  send --wait: the task ran and failed
  2  wrong command line, payload or configuration (the message says what to set)
  3  send --wait: no result in time although a worker is alive
  4  AWS or the local moto server could not be reached or refused the call
  5  a dead-letter queue holds messages (status, dlq show)
  6  no live worker while work waits (status, send --wait); workers: none alive
  7  trace: nothing names this id (no log line, effect record, result or dead letter)"""


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors in the one-line form every ``charla`` failure takes (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"charla: error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    root = OneLineParser(
        prog="charla",
        description="Operate a charla deployment (local moto stack or AWS): queues, workers, dead letters.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--stack", metavar="NAME", help="read endpoints from this CloudFormation stack's outputs")
    root.add_argument("--stack-file", type=Path, help="endpoints file (default: .stack/endpoints.json here or above)")
    root.add_argument("--region", help="AWS region (default: AWS_REGION, the endpoints file, ~/.aws/config)")
    root.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL, the endpoints file)")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send_command = commands.add_parser(
        "send",
        help="queue a task (and wait for its result)",
        description=f"Queue a charla task by name. Waitable tasks: {', '.join(sorted(RESULT_TASKS))}.",
    )
    send_command.add_argument("task", help="task name, e.g. charla.health (the 'charla.' prefix is optional)")
    send_command.add_argument("--json", default="{}", help="the task's keyword arguments as a JSON object")
    send_command.add_argument("--wait", type=float, metavar="SECS", help="wait up to SECS for the result and print it")

    status = commands.add_parser("status", help="queues, dead letters, live workers, failures in the last hour")
    status.add_argument("--json", action="store_true", help="one JSON object (fields in docs/OPERATIONS.md)")

    workers = commands.add_parser("workers", help="live workers from their heartbeats, with their running tasks")
    workers.add_argument("--json", action="store_true", help="the heartbeat records as a JSON list")
    workers.add_argument("--watch", type=float, nargs="?", const=2.0, metavar="SECS", help="refresh every SECS")

    dlq = commands.add_parser("dlq", help="dead-letter queues: show, redrive").add_subparsers(
        dest="dlq_command", required=True, metavar="ACTION"
    )
    show = dlq.add_parser("show", help="list dead letters with their reason (nothing is consumed)")
    show.add_argument("--queue", choices=[q.value for q in QueueName], help="only this queue's DLQ")
    show.add_argument("--limit", type=int, default=100)
    show.add_argument("--json", action="store_true")
    redrive = dlq.add_parser("redrive", help="move dead letters back to their queue")
    redrive.add_argument("--queue", choices=[q.value for q in QueueName], help="only this queue's DLQ")
    redrive.add_argument("--task", help="only messages of this task, e.g. charla.ping")
    redrive.add_argument("--id", action="append", default=[], help="only this task id or SQS message id (repeatable)")
    redrive.add_argument("--limit", type=int, default=1000)
    redrive.add_argument("--dry-run", action="store_true", help="list what would move, move nothing")
    redrive.add_argument("--json", action="store_true")

    purge = commands.add_parser("purge", help="delete every message of one queue (asks first)")
    purge.add_argument("queue", help="replies, bulk, replies-dlq or bulk-dlq")
    purge.add_argument("--yes", action="store_true", help="do not ask (for scripts)")

    trace_command = commands.add_parser(
        "trace",
        help="where did this message go? a Slack event id, task id or correlation id, followed",
        description="Follow one message: queued, received, its effect record (state, posted ts), result, "
        "dead letter. Locally from the stack's logs (.stack/logs/); in AWS with one Logs Insights query "
        "over the stack's log groups (--stack NAME, or --log-group).",
    )
    trace_command.add_argument("id", help="a Slack event id (Ev...), trigger id, task id or correlation id")
    trace_command.add_argument("--log-group", action="append", default=[], help="search this log group (repeatable)")
    trace_command.add_argument(
        "--since", type=float, default=24.0, metavar="HOURS", help="how far back the logs are searched in AWS (24)"
    )
    trace_command.add_argument("--json", action="store_true")

    env_command = commands.add_parser("env", help="print the export block for this deployment")
    env_command.add_argument("--json", action="store_true")
    return root


# -- subcommands ---------------------------------------------------------------------------------


def _workers_alive(endpoints: Endpoints) -> Callable[[], int | None]:
    def count() -> int | None:
        try:
            with aws_errors("reading heartbeats"):
                return len(heartbeats.live_workers(endpoints.client("dynamodb"), endpoints.table(TableName.STATE)))
        except CliError:
            return None  # unknown: say nothing about workers

    return count


def live_executors(endpoints: Endpoints, *, now: float, serving_only: bool = True) -> list[dict[str, Any]]:
    """Celery workers with an unexpired heartbeat, then the Lambda event source mappings (``executors.py``)."""
    with aws_errors("reading worker heartbeats"):
        live = heartbeats.live_workers(endpoints.client("dynamodb"), endpoints.table(TableName.STATE), now=now)
    urls = endpoints.queue_urls()
    if urls:
        mappings = executors.event_source_mappings(endpoints.client("sqs"), endpoints.client("lambda"), urls)
        live += [m for m in mappings if m["serving"] or not serving_only]
    return live


def run_send(options: argparse.Namespace, endpoints: Endpoints, out: TextIO) -> int:
    task = resolve_task(options.task)
    if options.wait is not None and not is_waitable(task):
        waitable = ", ".join(sorted(RESULT_TASKS))
        raise CliError(f"{task} stores no result, so --wait cannot work (waitable: {waitable})", EXIT_USAGE)
    payload = build_payload(task, options.json)
    task_id = send(task, payload, wait=options.wait is not None, endpoints=endpoints)
    if options.wait is None:
        print(task_id, file=out)
        return EXIT_OK
    result = wait_for_result(
        task_id, timeout_s=options.wait, endpoints=endpoints, workers_alive=_workers_alive(endpoints)
    )
    print(json.dumps(result, sort_keys=True), file=out)
    return EXIT_OK


def collect_status(endpoints: Endpoints, *, now: float) -> dict[str, Any]:
    """What ``charla status`` reports (the JSON fields documented in docs/OPERATIONS.md)."""
    urls = endpoints.require_queue_urls()
    with aws_errors("reading the queues"):
        sqs = endpoints.client("sqs")
        cloudwatch = None if endpoints.endpoint_url else endpoints.client("cloudwatch")
        rows = queues.queue_status(sqs, urls, cloudwatch=cloudwatch)
    live = live_executors(endpoints, now=now)
    with aws_errors("reading the jobs' last runs"):
        table = endpoints.table(TableName.STATE)
        runs = jobs.last_runs(endpoints.client("dynamodb"), table, sorted(all_jobs()))
    waiting = sum(r.visible + r.in_flight + r.delayed for r in rows if not r.is_dlq)
    dead = sum(r.visible + r.in_flight for r in rows if r.is_dlq)
    # Judged per queue: on the small profile a Lambda mapping serving replies says nothing about bulk.
    served = {queue for executor in live for queue in executor.get("queues", [])}
    unserved = [r.queue for r in rows if not r.is_dlq and r.visible + r.in_flight + r.delayed and r.queue not in served]
    return {
        "checked_at": now,
        "source": endpoints.source,
        "queues": [r.as_json() for r in rows],
        "workers": {
            "alive": len(live),
            "names": [w["hostname"] for w in live],
            "active_tasks": sum(len(w.get("active", [])) for w in live),
        },
        "failures_last_hour": sum(int(w.get("failures_last_hour", 0)) for w in live),
        "jobs": jobs.job_status(runs, jobs.schedules(Path.cwd())),
        "messages_waiting": waiting,
        "queues_without_worker": unserved,
        "dead_letters": dead,
        "problems": [
            *([f"no live worker while messages wait ({', '.join(unserved)})"] if unserved else []),
            *([f"{dead} message(s) in dead-letter queues"] if dead else []),
        ],
    }


def status_exit(report: Mapping[str, Any]) -> int:
    unserved = report.get("queues_without_worker")
    if unserved is None:  # a report without the per-queue field (older JSON): judge the whole
        unserved = report["messages_waiting"] and not report["workers"]["alive"]
    if unserved:
        return EXIT_NO_WORKER
    if report["dead_letters"]:
        return EXIT_DEAD_LETTERS
    return EXIT_OK


def run_status(options: argparse.Namespace, endpoints: Endpoints, out: TextIO) -> int:
    report = collect_status(endpoints, now=time.time())
    if options.json:
        print(json.dumps(report, indent=2, sort_keys=True), file=out)
        return status_exit(report)
    rows = [
        [q["queue"], q["visible"], q["in_flight"], q["delayed"], render.duration(q["oldest_age_s"])]
        for q in report["queues"]
    ]
    print(render.table(["QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST"], rows), file=out)
    workers = report["workers"]
    print(
        f"\nworkers alive: {workers['alive']} ({', '.join(workers['names']) or 'none'}), "
        f"running {workers['active_tasks']} task(s); failures in the last hour: {report['failures_last_hour']}",
        file=out,
    )
    if report["jobs"]:
        job_rows = [
            [
                job["name"],
                job["queue"],
                job["schedule"] or "not scheduled",
                _last_run(job["last_run"], report["checked_at"]),
            ]
            for job in report["jobs"]
        ]
        print("\n" + render.table(["JOB", "QUEUE", "SCHEDULE", "LAST RUN"], job_rows), file=out)
    if endpoints.endpoint_url and any(not q["is_dlq"] for q in report["queues"]):
        print(
            "oldest: n/a for main queues locally (moto publishes no SQS metrics; reading would count a receive)",
            file=out,
        )
    for problem in report["problems"]:
        print(f"attention: {problem}", file=out)
    return status_exit(report)


def _last_run(run: Mapping[str, Any] | None, now: float) -> str:
    if run is None:
        return "none recorded"
    return f"{run['outcome']} {render.ago(float(run['at']), now)} on {run['worker']}"


def workers_table(records: Sequence[Mapping[str, Any]], now: float) -> str:
    rows = []
    for w in records:
        counts = {name: "-" for name in ("received", "succeeded", "retried", "failed", "refused")}
        counts.update(w.get("counts") or {})
        active = ", ".join(
            f"{a['task']}[{str(a['id'])[:8]}] {render.duration(a.get('runtime_s'))}" for a in w["active"]
        )
        failure = w.get("last_failure")
        rows.append(
            [
                w["hostname"],
                w["pid"],
                ",".join(w.get("queues", [])),
                f"{w.get('pool')}/{w.get('concurrency')}",
                f"mapping {w['state']}" if w.get("state") else render.ago(w.get("written_at"), now),
                "{received}/{succeeded}/{retried}/{failed}/{refused}".format(**counts),
                active or "idle",
                f"{failure['task']} {failure['exception']} {render.ago(failure['at'], now)}" if failure else "-",
            ]
        )
    return render.table(
        ["WORKER", "PID", "QUEUES", "POOL", "BEAT", "RECV/OK/RETRY/FAIL/REFUSED", "ACTIVE", "LAST FAILURE"], rows
    )


def run_workers(options: argparse.Namespace, endpoints: Endpoints, out: TextIO) -> int:
    while True:
        now = time.time()
        every = live_executors(endpoints, now=now, serving_only=False)
        records = [r for r in every if r.get("serving", True)]
        if options.json:
            print(json.dumps(records, indent=2, sort_keys=True), file=out)
        else:
            if options.watch:
                print("\033[2J\033[H", end="", file=out)  # clear the screen between refreshes
            print(
                workers_table(every, now)
                if every
                else "no live worker (no unexpired heartbeat, no event source mapping)",
                file=out,
            )
        out.flush()
        if not options.watch:
            return EXIT_OK if records else EXIT_NO_WORKER
        time.sleep(options.watch)


def _dlq_targets(endpoints: Endpoints, only: str | None) -> list[tuple[str, str, str]]:
    return queues.dead_letter_targets(endpoints.client("sqs"), endpoints.require_queue_urls(), only)


def _with_reasons(endpoints: Endpoints, letters: list[queues.DeadLetter]) -> list[queues.DeadLetter]:
    from dataclasses import replace

    ids = [i for letter in letters for i in (letter.task_id, letter.message_id) if i]
    with aws_errors("reading failure notes"):
        notes = heartbeats.failure_notes(endpoints.client("dynamodb"), endpoints.table(TableName.STATE), ids)
    described = []
    for letter in letters:
        note = notes.get(letter.task_id or "") or notes.get(letter.message_id)
        # The copy's own header, when the worker dead-lettered it itself, comes first.
        if letter.reason is None and note is not None:
            described.append(replace(letter, reason=f"{note['outcome']}: {note['reason']}"))
        else:
            described.append(letter)
    return described


def _reason_shown(letter: queues.DeadLetter) -> str:
    reason = letter.reason or (
        f"can never run: {letter.never_runnable}"
        if letter.never_runnable
        else "(no failure note: `charla trace ID` follows it through the logs)"
    )
    if letter.never_runnable and letter.reason:
        reason += " [redrive keeps it]"
    return reason


def run_dlq_show(options: argparse.Namespace, endpoints: Endpoints, out: TextIO) -> int:
    letters: list[queues.DeadLetter] = []
    with aws_errors("reading the dead-letter queues"):
        client = endpoints.client("sqs")
        for label, url, _source in _dlq_targets(endpoints, options.queue):
            letters += queues.peek(client, url, label=label, limit=options.limit - len(letters))
    letters = _with_reasons(endpoints, letters)
    if options.json:
        print(json.dumps([letter.as_json() for letter in letters], indent=2, sort_keys=True), file=out)
    elif letters:
        now = time.time()
        rows = [
            [
                letter.queue,
                letter.task or "(not a task message)",
                letter.task_id or letter.message_id,
                render.ago(letter.first_seen, now),
                letter.receive_count,
                _reason_shown(letter),
            ]
            for letter in letters
        ]
        print(render.table(["DLQ", "TASK", "ID", "FIRST SEEN", "RECEIVES", "REASON"], rows), file=out)
    else:
        print("no dead letters", file=out)
    return EXIT_DEAD_LETTERS if letters else EXIT_OK


def run_dlq_redrive(options: argparse.Namespace, endpoints: Endpoints, out: TextIO) -> int:
    task = resolve_task(options.task) if options.task else None
    matches = queues.matcher(task=task, ids=set(options.id))
    moved: list[queues.DeadLetter] = []
    kept: list[queues.DeadLetter] = []
    with aws_errors("redriving dead letters"):
        client = endpoints.client("sqs")
        for label, dlq_url, source_url in _dlq_targets(endpoints, options.queue):
            moved += queues.redrive(
                client,
                source_url=source_url,
                dlq_url=dlq_url,
                label=label,
                matches=matches,
                limit=options.limit - len(moved),
                dry_run=options.dry_run,
                kept=kept,
            )
    if options.json:
        document = {
            "dry_run": options.dry_run,
            "moved": [m.as_json() for m in moved],
            "kept_never_runnable": [k.as_json() for k in kept],
        }
        print(json.dumps(document, indent=2), file=out)
        return EXIT_OK
    verb = "would move" if options.dry_run else "moved"
    print(f"{verb} {len(moved)} message(s) back to their queue", file=out)
    for letter in moved:
        print(
            f"  {letter.queue}: {letter.task or '(not a task message)'} {letter.task_id or letter.message_id}", file=out
        )
    if kept:
        print(
            f"kept {len(kept)} message(s) that can never run (moving them back would only dead-letter them again):",
            file=out,
        )
        for letter in kept:
            print(f"  {letter.queue}: {letter.task_id or letter.message_id}: {letter.never_runnable}", file=out)
        print("  fix the sender; `charla purge <queue>-dlq` removes them once read", file=out)
    return EXIT_OK


def run_purge(options: argparse.Namespace, endpoints: Endpoints, out: TextIO, ask: Callable[[str], str]) -> int:
    urls = endpoints.require_queue_urls()
    with aws_errors("finding the queue"):
        known = {label: url for label, url, _dlq, _source in queues.all_queues(endpoints.client("sqs"), urls)}
    url = known.get(options.queue)
    if url is None:
        raise CliError(f"no queue {options.queue!r} (known: {', '.join(sorted(known)) or 'none'})", EXIT_USAGE)
    if not options.yes:
        if not sys.stdin.isatty() and ask is input:
            raise CliError(f"not purging {options.queue} without confirmation: pass --yes", EXIT_USAGE)
        answer = ask(f"Delete every message in {options.queue} ({url})? Type the queue name to confirm: ")
        if answer.strip() != options.queue:
            raise CliError(f"not confirmed; {options.queue} left as it was", EXIT_USAGE)
    with aws_errors(f"purging {options.queue}"):
        queues.purge(endpoints.client("sqs"), url)
    print(f"purged {options.queue}", file=out)
    return EXIT_OK


def run_env(options: argparse.Namespace, endpoints: Endpoints, out: TextIO) -> int:
    endpoints.require_queue_urls()
    values = endpoints.environment()
    if options.json:
        print(json.dumps(values, indent=2, sort_keys=True), file=out)
    else:
        print(f"# charla endpoints from {endpoints.source}", file=out)
        for name, value in values.items():
            print(f"export {name}={shlex.quote(value)}", file=out)
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    out: TextIO | None = None,
    ask: Callable[[str], str] = input,
    cwd: Path | None = None,
) -> int:
    """Run one ``charla`` command; returns its exit status (``charla_cli/errors.py``)."""
    options = parser().parse_args(argv)
    out = out or sys.stdout
    try:
        endpoints = resolve(
            environ=os.environ if environ is None else environ,
            cwd=cwd,
            stack_file=options.stack_file,
            stack_name=options.stack,
            region=options.region,
            endpoint_url=options.endpoint_url,
        )
        if options.command != "env":
            endpoints.require_reachable()
        if options.command == "send":
            return run_send(options, endpoints, out)
        if options.command == "status":
            return run_status(options, endpoints, out)
        if options.command == "workers":
            return run_workers(options, endpoints, out)
        if options.command == "dlq":
            if options.dlq_command == "show":
                return run_dlq_show(options, endpoints, out)
            return run_dlq_redrive(options, endpoints, out)
        if options.command == "purge":
            return run_purge(options, endpoints, out, ask)
        if options.command == "trace":
            return run_trace(options, endpoints, out)
        return run_env(options, endpoints, out)
    except CliError as error:
        print(f"charla: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 130
