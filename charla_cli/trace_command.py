"""``charla trace ID``: gather what each source knows about one id (``charla_cli/trace.py``) and print it."""

import argparse
import json
import time
from pathlib import Path
from typing import TextIO

from charla_cli import heartbeats, queues, trace
from charla_cli.endpoints import Endpoints
from charla_cli.errors import EXIT_DEAD_LETTERS, EXIT_NOT_FOUND, EXIT_OK, EXIT_UNREACHABLE, CliError, aws_errors
from contract.tables import TABLE_SPECS, TableName


def _search_logs(found: trace.Trace, options: argparse.Namespace, endpoints: Endpoints, needles: set[str]) -> None:
    if endpoints.log_dir and not options.log_group:
        found.logs = trace.local_log_lines(Path(endpoints.log_dir), needles)
        found.log_source = f"the local stack's logs in {endpoints.log_dir}"
        return
    groups = list(options.log_group)
    if not groups and endpoints.stack_name:
        with aws_errors(f"listing the log groups of stack {endpoints.stack_name}"):
            groups = trace.stack_log_groups(endpoints.client("cloudformation"), endpoints.stack_name)
    if not groups:
        found.log_source = "no logs searched (locally run `make chat`; in AWS pass --stack NAME or --log-group)"
        return
    with aws_errors("querying CloudWatch Logs Insights"):
        try:
            found.logs = trace.insights_log_lines(
                endpoints.client("logs"), groups, needles, since_s=options.since * 3600, now=time.time()
            )
        except TimeoutError as error:
            raise CliError(str(error), EXIT_UNREACHABLE) from None
    found.log_source = f"Logs Insights over {', '.join(groups)} (last {options.since:g} h)"


def collect_trace(options: argparse.Namespace, endpoints: Endpoints) -> trace.Trace:
    """Everything known about ``options.id`` (``charla_cli/trace.py``)."""
    asked = options.id.strip()
    found = trace.Trace(asked=asked)
    candidates: dict[str, str | None] = {asked: None, **trace.derived_task_ids(asked)}
    needles = {asked, *candidates}
    _search_logs(found, options, endpoints, needles)
    in_logs, correlations = trace.ids_in_logs(found.logs)
    if correlations - needles or set(in_logs) - needles:  # a task id led to its correlation id, or back
        needles |= correlations | set(in_logs)
        _search_logs(found, options, endpoints, needles)
        in_logs, correlations = trace.ids_in_logs(found.logs)
    found.correlation_ids = correlations
    for task_id, name in in_logs.items():
        candidates[task_id] = name or candidates.get(task_id)
    dynamodb = endpoints.client("dynamodb")
    with aws_errors("reading effect records and results"):
        found.effects = trace.effect_records(dynamodb, endpoints.table(TableName.STATE), candidates)
        if endpoints.variables.get(TABLE_SPECS[TableName.RESULTS].variable):
            found.results = trace.result_records(dynamodb, endpoints.table(TableName.RESULTS), candidates)
        found.notes = heartbeats.failure_notes(dynamodb, endpoints.table(TableName.STATE), candidates)
    with aws_errors("reading the dead-letter queues"):
        sqs = endpoints.client("sqs")
        for label, url, _source in queues.dead_letter_targets(sqs, endpoints.require_queue_urls(), None):
            letters = queues.peek(sqs, url, label=label, limit=1000)
            found.dead_letters += [
                letter for letter in letters if letter.task_id in candidates or letter.message_id == asked
            ]
    known = set(in_logs) | set(found.effects) | set(found.results) | set(found.notes)
    known |= {letter.task_id for letter in found.dead_letters if letter.task_id}
    found.task_ids = {
        i: (candidates.get(i) or next((d.task for d in found.dead_letters if d.task_id == i), None))
        for i in sorted(known)
    }
    return found


def print_trace(found: trace.Trace, out: TextIO) -> None:
    print(f"trace {found.asked}", file=out)
    if not found.found:
        print("  nothing known: no log line, effect record, result or dead letter names it", file=out)
    for task_id, name in found.task_ids.items():
        print(f"  task      {name or '?'} {task_id}", file=out)
    if found.correlation_ids:
        print(f"  correlation id(s): {', '.join(sorted(found.correlation_ids))}", file=out)
    for line in found.logs:
        step = "queued  " if "enqueued" in line.text else "received" if " received" in line.text else "log     "
        print(f"  {step}  [{line.source}] {line.text}", file=out)
    for effect_id, effect in sorted(found.effects.items()):
        posted = f", posted ts {effect['posted_ts']}" if effect["posted_ts"] else ", nothing posted yet"
        print(f"  effect    {effect_id}: {effect['state']}{posted}", file=out)
    for task_id, result in sorted(found.results.items()):
        print(f"  result    {task_id}: {result['status']}", file=out)
    for task_id, note in sorted(found.notes.items()):
        print(f"  failure   {task_id}: {note.get('outcome')}: {note.get('reason')}", file=out)
    for letter in found.dead_letters:
        reason = letter.reason or letter.never_runnable or "(no reason recorded)"
        print(
            f"  DLQ       {letter.queue}: {letter.task or '?'} {letter.task_id or letter.message_id}: {reason}",
            file=out,
        )
    if not found.dead_letters:
        print("  DLQ       in no dead-letter queue", file=out)
    print(f"  searched  {found.log_source}", file=out)


def run_trace(options: argparse.Namespace, endpoints: Endpoints, out: TextIO) -> int:
    endpoints.require_queue_urls()
    found = collect_trace(options, endpoints)
    if options.json:
        print(json.dumps(found.as_json(), indent=2, sort_keys=True), file=out)
    else:
        print_trace(found, out)
    if found.dead_letters:
        return EXIT_DEAD_LETTERS
    return EXIT_OK if found.found else EXIT_NOT_FOUND
