"""Writes BENCHMARKS.md from the figures of one run."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.common import Figure

METHOD = """\
Everything runs on the local stack, in one run: moto in server mode (SQS and DynamoDB), the Slack
stand-in (a real HTTP server that stamps `received_at` on every post), the ingress under uvicorn or
called as `lambda_handler.main.handler(event, context)` with an API Gateway v2 event, and real
`celery worker` processes. Each figure is measured side by side with:

- **the floor** (physical): the least work the job needs, in the standard library and botocore or
  plain boto3 (`bench/floor.py`, `bench/cold_start.py`): at the door stdlib `hmac`, `GetSecretValue`
  and one `SendMessage` with botocore alone; a raw `ReceiveMessage(10)` -> post ->
  `DeleteMessageBatch` loop, its requests measured at the same rate as charla's.
- **the same-effects floor**: charla's own effects per command done by hand in plain boto3, no
  framework (`bench/floor.py`, `SameEffects`): at the door the same two AWS calls (so for the
  ingress figures it is the physical floor); in the worker `GetItem` of the channel item, one
  `TransactWriteItems` of the effect record and the channel item (command counter, post slot) with
  the same conditions, the post, one `UpdateItem` (DONE). **charla / same-effects floor is the
  framework's tax; same-effects floor / physical floor is what the exactly-once design costs.**
- **the alternative**: slack_bolt's `aws_lambda` adapter (`SlackRequestHandler`) with
  `process_before_response=True` and a lazy listener doing the same reply via slack_sdk
  (`bench/alternative.py`). Outside AWS its lazy listener cannot re-invoke the Lambda
  (`lambda.invoke`), so the bench runs the adapter's own runner up to that call (it builds the
  boto3 Lambda client) and then runs the lazy reply in a thread of the same process. That makes
  the alternative's local numbers a lower bound: it skips an Invoke round trip and a second
  invocation.

**Fair order.** Variants are interleaved run by run (cold starts) or event by event with the
first rotating (reply latency), or each runs on a fresh moto. moto itself is patched for the bench
(`bench/moto_patch.py`, never shipped or used by tests): moto 5.2 deep-copies every table a
`TransactWriteItems` touches (5 ms at an empty table, 80 ms at 1,600 items), so whoever ran later
paid more; patched, a transaction backs up only the items it touches. Cold starts run the ingress
asset exactly as `cdk.out` ships it (`bench/bundles.py`: no bytecode, none written, the run refused
otherwise); bench workers log at WARNING, as production's do; the sustained figure's worker runs
under a 0.25 vCPU cgroup quota, a Fargate task's share.

moto's SQS slows down as a queue deepens (about 10 ms per receive at 20 messages, 430 ms at
2,000), so every figure keeps queues shallow (purged, paced or fed under a depth limit) and
reports the depth; moto's own cost is part of the floor.

**Absolute numbers drift**: this machine has 2 cores shared with other work, and moto is not
SQS. The ratios, measured in the same run against the floor and the alternative, are the result.
"""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A GitHub table over the union of the rows' keys (in first-seen order)."""
    if not rows:
        return []
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in rows]
    return lines


def _figure_section(figure: Figure) -> list[str]:
    lines = [f"## {figure.number}. {figure.name}", ""]
    lines.append(f"- Command: `{figure.command}`")
    lines.append(
        f"- Result: **{_cell(figure.value)} {figure.unit}** over {figure.samples} samples"
        + (
            f" (min {_cell(figure.min)}, median {_cell(figure.median)}, p95 {_cell(figure.p95)})"
            if figure.median is not None
            else ""
        )
    )
    lines.append(
        f"- Floor: {_cell(figure.floor)} -> ratio **{_cell(figure.ratio_to_floor)}**; same-effects floor: "
        f"{_cell(figure.same_effects)} -> ratio **{_cell(figure.ratio_to_same_effects)}**; alternative: "
        f"{_cell(figure.alternative)} -> ratio **{_cell(figure.ratio_to_alternative)}**"
    )
    lines.append(f"- Goal: {figure.goal} -> {'met' if figure.goal_met else '**not met**'}")
    if figure.limits:
        lines.append(f"- Limited by: {figure.limits}")
    lines.append("")
    lines += markdown_table(figure.table)
    lines.append("")
    for note in figure.notes:
        if note.startswith("Traceback"):
            lines += ["```", note, "```"]
        else:
            lines.append(f"- {note}")
    offenders = figure.extra.get("import_offenders")
    if offenders:
        lines += [
            "",
            "Top import offenders of a charla cold start (`python -X importtime`, cumulative, by top-level "
            "package; one run):",
            "",
        ]
        lines += markdown_table(offenders)
    cost = figure.extra.get("cost")
    if cost:
        for key in ("default", "scale_to_zero", "bolt_lambda"):
            item = cost[key]
            lines += [
                "",
                f"**{item['design']}** ({item['shape_source']}): ${item['at_rest_usd_month']}/month at rest, "
                f"${item['per_million_events_usd']} per 1M events",
                "",
            ]
            rows = [{"line": name, "at rest USD/month": value} for name, value in item["at_rest"].items() if value]
            rows += [
                {"line": name, "per 1M events USD": value}
                for name, value in item["per_million_events"].items()
                if value
            ]
            lines += markdown_table(rows)
        lines += ["", "Prices (us-east-1, USD, dated):", ""]
        lines += markdown_table(
            [
                {
                    "price": name,
                    "value": price["value"],
                    "unit": price["unit"],
                    "as of": price["as_of"],
                    "source": price["source"],
                }
                for name, price in cost["prices"].items()
            ]
        )
        lines += ["", "Per-event inputs: " + ", ".join(f"{k} = {v}" for k, v in cost["usage"].items())]
    lines.append("")
    return lines


def provenance(figures: Sequence[Figure], meta: Mapping[str, Any]) -> list[str]:
    """Which run produced which figures, when a partial run (``--only``) kept figures of earlier ones."""
    runs: dict[tuple[str, str], list[int]] = {}
    for figure in figures:
        run = (str(figure.extra.get("run_argv", "?")), str(figure.extra.get("run_at", "?")))
        runs.setdefault(run, []).append(figure.number)
    if len(runs) <= 1:
        return []
    lines = ["**Not one run**: these figures come from different runs:", ""]
    for (argv, at), numbers in runs.items():
        lines.append(f"- figures {', '.join(map(str, numbers))}: `{argv}` at {at}")
    return [*lines, ""]


def write_report(path: Path, figures: Sequence[Figure], meta: Mapping[str, Any]) -> None:
    """Render the whole report to ``path``."""
    machine = meta["machine"]
    lines = [
        "# charla benchmarks",
        "",
        f"Generated by `{meta['command']}` (`{' '.join(meta['argv'])}`) at {meta['generated_at']} in "
        f"{meta['seconds']:.0f} s{' (quick: small samples)' if meta['quick'] else ''}. Machine: "
        f"{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, {machine['platform']}.",
        "",
        *provenance(figures, meta),
        "> Absolute numbers drift on this shared machine and moto is not SQS: **ratios are the result**.",
        "",
    ]
    missed = [figure for figure in figures if not figure.goal_met]
    lines += ["## Goals not met", ""]
    if missed:
        for figure in missed:
            lines.append(
                f"- **{figure.number}. {figure.name}**: goal {figure.goal}; measured "
                f"{_cell(figure.value)} {figure.unit}. Limited by: {figure.limits or 'see the figure'}."
            )
    else:
        lines.append("None.")
    lines += ["", "## Summary", ""]
    lines += markdown_table(
        [
            {
                "#": f.number,
                "figure": f.name,
                "value": f"{_cell(f.value)} {f.unit}",
                "samples": f.samples,
                "floor": f.floor,
                "same-effects floor": f.same_effects,
                "alternative": f.alternative,
                "x floor": f.ratio_to_floor,
                "x same-effects": f.ratio_to_same_effects,
                "x alternative": f.ratio_to_alternative,
                "goal": f.goal,
                "met": f.goal_met,
            }
            for f in figures
        ]
    )
    lines += ["", "## Method", "", METHOD]
    for figure in figures:
        lines += _figure_section(figure)
    lines += ["## Machine", ""]
    lines += markdown_table([{"package": name, "version": version} for name, version in machine["packages"].items()])
    lines.append("")
    path.write_text("\n".join(lines))
