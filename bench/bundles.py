"""The Lambda bundles exactly as ``cdk.out`` ships them, and a runner that keeps them that way.

``infra/bundling.py`` installs with ``--no-compile`` and copies no ``*.pyc``, and a Lambda's code
directory is read-only: every cold start without SnapStart compiles its imports from source. A bench
that imports from the project's venv (bytecode compiled by pip) or lets Python write
``__pycache__`` beside the bundle measures a cold start AWS never runs. Here the bundle is run in
place, with only the bundle and the standard library on the path (``-S``: no site-packages), and
the runner refuses to run at all when bytecode could be written or is already there.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bench.common import ROOT

SYNTH_CODE = """
import json, sys
import aws_cdk as cdk
from infra.app import build_app
context = json.loads(open("cdk.json").read())["context"]
app, stack = build_app(cdk.App(outdir=sys.argv[1], context=context))
app.synth()
"""


class WritablePycache(RuntimeError):
    """The run could write bytecode beside the bundle, or bytecode the bundle never shipped is there."""


# What the ingress asset copies from the repository (infra/constructs/slack_ingress.py).
INGRESS_PACKAGES = ("lambda_handler", "contract")


def _is_ingress(asset: Path) -> bool:
    return (asset / "lambda_handler" / "main.py").exists() and (asset / "slack_bolt").is_dir()


def is_current(asset: Path, *, packages: tuple[str, ...] = INGRESS_PACKAGES) -> bool:
    """Whether ``asset`` holds today's sources of ``packages`` (a cdk.out from before an edit does not)."""
    for package in packages:
        for source in (ROOT / package).rglob("*.py"):
            if "__pycache__" in source.parts:
                continue
            shipped = asset / source.relative_to(ROOT)
            if not shipped.exists() or shipped.read_bytes() != source.read_bytes():
                return False
    return True


def shipped_ingress_bundle(*, cdk_out: Path = ROOT / "cdk.out") -> Path:
    """The ingress Lambda's asset directory in ``cdk_out`` (the project's, as ``make synth`` leaves
    it), synthesized there first (~1-3 min) when it holds none with today's sources.

    Raises:
        RuntimeError: The synthesis failed or made no ingress asset.
    """
    if cdk_out.is_dir():
        for asset in sorted(cdk_out.glob("asset.*"), key=os.path.getmtime, reverse=True):
            if asset.is_dir() and _is_ingress(asset) and is_current(asset):
                return asset
    out = cdk_out
    environ = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    completed = subprocess.run(
        [sys.executable, "-c", SYNTH_CODE, str(out)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cdk synth failed:\n{completed.stderr[-3000:]}")
    found = [p for p in out.glob("asset.*") if p.is_dir() and _is_ingress(p) and is_current(p)]
    if not found:
        raise RuntimeError(f"no ingress asset with today's sources in {out}")
    return found[0]


def bytecode_in(bundle: Path) -> list[Path]:
    """Every ``__pycache__`` directory and ``.pyc`` file under ``bundle``."""
    return sorted(p for p in bundle.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc")


def check_runnable_as_shipped(bundle: Path, env: Mapping[str, str]) -> None:
    """Refuse a run that would not be the shipped cold start.

    Raises:
        WritablePycache: ``PYTHONDONTWRITEBYTECODE`` is not ``1``, ``PYTHONPYCACHEPREFIX`` sends
            bytecode elsewhere to be reused, or the bundle holds bytecode it was not shipped with.
    """
    if env.get("PYTHONDONTWRITEBYTECODE") != "1":
        raise WritablePycache("PYTHONDONTWRITEBYTECODE=1 is not set: the run would write __pycache__")
    if env.get("PYTHONPYCACHEPREFIX"):
        raise WritablePycache("PYTHONPYCACHEPREFIX is set: bytecode would be written and reused from there")
    stale = bytecode_in(bundle)
    if stale:
        raise WritablePycache(f"{bundle} holds bytecode it was not shipped with, e.g. {stale[0]}")


def bundle_env(base: Mapping[str, str], bundle: Path, *, extra_path: Path | None = ROOT) -> dict[str, str]:
    """The environment of a run from ``bundle``: no bytecode written, the bundle first on the path
    (``extra_path``, default the project root, only for the bench's own measuring code)."""
    environ = {k: v for k, v in base.items() if k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX", "VIRTUAL_ENV")}
    path = [str(bundle)] + ([str(extra_path)] if extra_path else [])
    return {**environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join(path)}


def compiled_copy(bundle: Path) -> Path:
    """A copy of ``bundle`` with every module compiled (what shipping bytecode would give)."""
    target = Path(tempfile.mkdtemp(prefix="charla-bench-bytecode-")) / bundle.name
    shutil.copytree(bundle, target)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(target)], check=True, timeout=600)
    return target


if __name__ == "__main__":  # pragma: no cover - a tool: python -m bench.bundles prints the bundle
    print(json.dumps({"ingress": str(shipped_ingress_bundle())}))
