"""``python -m bench [--quick] [--output DIR] [--only FIGURE ...]``: measure the eight figures.

Full runs (``make bench``) write docs/BENCHMARKS.md and docs/benchmarks.json; ``--quick`` (``make
bench-quick``, the CI smoke check) writes to a temporary directory unless ``--output`` is given, and
never to docs/.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bench import (
    budget,
    cold_start,
    cost_model,
    lambda_executor,
    reply_latency,
    sqs_requests,
    sustained,
    throughput,
    warm_overhead,
)
from bench.common import ROOT, Figure, machine
from bench.context import BenchContext
from bench.readme import update_readme
from bench.report import write_report
from scripts.provision import LOCAL_CREDENTIALS, REGION

# Order matters: cost_model reads the SQS requests per task and the worker throughput measured before it.
FIGURES: dict[str, ModuleType] = {
    "cold_start": cold_start,
    "warm_overhead": warm_overhead,
    "reply_latency": reply_latency,
    "throughput": throughput,
    "sqs_requests": sqs_requests,
    "sustained": sustained,
    "cost_model": cost_model,
    "budget": budget,
    "lambda_executor": lambda_executor,
}


def _failed(number: int, name: str, error: BaseException, command: str) -> Figure:
    return Figure(
        number=number,
        name=name,
        value=None,
        unit="",
        samples=0,
        goal="",
        goal_met=False,
        command=command,
        limits=f"the measurement failed: {type(error).__name__}: {error}"[:2000],
        notes=[traceback.format_exc()[-3000:]],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small samples, under 2 minutes (CI smoke check)")
    parser.add_argument("--output", type=Path, help="directory for BENCHMARKS.md and benchmarks.json")
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), help="run only these figures")
    args = parser.parse_args(argv)
    output: Path = args.output or (Path(tempfile.mkdtemp(prefix="charla-bench-")) if args.quick else ROOT / "docs")
    output.mkdir(parents=True, exist_ok=True)

    # The bench process itself talks only to local servers; boto3 still wants a region and keys.
    os.environ.update({**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": REGION})
    ctx = BenchContext(quick=args.quick)
    figures: list[Figure] = []
    started = time.monotonic()
    run_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ctx.start_moto()
    try:
        for number, (key, module) in enumerate(FIGURES.items(), start=1):
            if args.only and key not in args.only:
                continue
            print(f"[bench] figure {number}: {key} ...", flush=True)
            figure_started = time.monotonic()
            run: Callable[[BenchContext], Figure] = module.run
            restarted = not ctx.moto_alive()
            ctx.restart_moto()
            try:
                figure = run(ctx)
            except Exception as error:  # one broken figure must not hide the others
                figure = _failed(number, key, error, ctx.command(key))
            figure.extra["seconds"] = round(time.monotonic() - figure_started, 1)
            figure.extra["run_argv"] = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
            figure.extra["run_at"] = run_at
            if restarted:
                figure.notes.append("The previous figure's moto server had died (see its notes).")
            figures.append(figure)
            print(
                f"[bench]   {figure.value} {figure.unit}  floor x{figure.ratio_to_floor}  "
                f"alternative x{figure.ratio_to_alternative}  goal met: {figure.goal_met}  "
                f"({figure.extra['seconds']} s)",
                flush=True,
            )
    finally:
        ctx.stop()
    elapsed = time.monotonic() - started
    meta = {
        "machine": machine(),
        "quick": args.quick,
        "seconds": round(elapsed, 1),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "make bench-quick" if args.quick else ("make bench" if not args.only else "python -m bench --only"),
        "argv": ["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])],
    }
    existing = output / "benchmarks.json"
    if args.only and existing.exists():
        # Rerunning some figures keeps the others from the last run (each keeps its own numbers).
        kept = {f["number"]: Figure(**f) for f in json.loads(existing.read_text())["figures"]}
        kept.update({figure.number: figure for figure in figures})
        figures = [kept[number] for number in sorted(kept)]
    report = {**meta, "figures": [figure.to_json() for figure in figures]}
    # Which inputs of the cost model this run measured and which it assumed (figure 7 decides).
    cost_figure = next((figure for figure in figures if figure.number == 7 and figure.extra.get("cost_inputs")), None)
    if cost_figure is not None:
        report["cost_inputs"] = cost_figure.extra["cost_inputs"]
    (output / "benchmarks.json").write_text(json.dumps(report, indent=2) + "\n")
    write_report(output / "BENCHMARKS.md", figures, meta)
    if output.resolve() == (ROOT / "docs").resolve():
        update_readme(ROOT / "README.md", report)  # README quotes exactly these figures
    print(f"[bench] wrote {output / 'BENCHMARKS.md'} and {output / 'benchmarks.json'} in {elapsed:.0f} s")
    return 0 if all(figure.value is not None for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
