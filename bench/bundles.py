"""The Lambda bundles exactly as ``cdk.out`` ships them, and a runner that keeps them that way.

``infra/bundling.py`` ships bytecode for the runtime's Python only (``cpython-312``, unchecked-hash,
so zip timestamps cannot invalidate it), and a Lambda's code directory is read-only: what the
bundle does not carry, every cold start compiles from source. A bench that imports from the
project's venv (bytecode compiled by pip), runs another Python (whose bytecode tag the bundle
lacks) or lets Python write ``__pycache__`` beside the bundle measures a cold start AWS never runs.
Here the bundle is run in place by the runtime's Python, with only the bundle and the standard
library on the path (``-S``: no site-packages), and the runner refuses to run at all when bytecode
could be written, or bytecode the bundle was not shipped with is there.
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
INGRESS_PACKAGES = ("lambda_handler", "contract", "commands")


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
    """Every ``.pyc`` file under ``bundle``."""
    return sorted(p for p in bundle.rglob("*.pyc"))


# PEP 552: the flags word after the magic number; 0b01 = hash-based, not checked against the source.
_UNCHECKED_HASH = 0b01


def is_shipped_bytecode(pyc: Path) -> bool:
    """Whether ``pyc`` is what ``infra/bundling.py`` ships: the runtime's tag, unchecked-hash."""
    from infra.bundling import LAMBDA_PYTHON_VERSION

    tag = "cpython-" + LAMBDA_PYTHON_VERSION.replace(".", "")
    if pyc.parent.name != "__pycache__" or f".{tag}." not in pyc.name:
        return False
    header = pyc.read_bytes()[:8]
    return len(header) == 8 and int.from_bytes(header[4:8], "little") == _UNCHECKED_HASH


def unshipped_bytecode_in(bundle: Path) -> list[Path]:
    """Bytecode under ``bundle`` that the bundler never writes (another tag, timestamp-checked)."""
    return [pyc for pyc in bytecode_in(bundle) if not is_shipped_bytecode(pyc)]


def runtime_python() -> str:
    """The Lambda runtime's Python (3.12), as the bundler finds it to compile the bundle."""
    from infra.bundling import lambda_python

    return lambda_python()


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
    stale = unshipped_bytecode_in(bundle)
    if stale:
        raise WritablePycache(f"{bundle} holds bytecode it was not shipped with, e.g. {stale[0]}")


def bundle_env(
    base: Mapping[str, str], bundle: Path, *, extra_path: Path | None = ROOT, overlay: Path | None = None
) -> dict[str, str]:
    """The environment of a run from ``bundle``: no bytecode written, the bundle first on the path
    (``extra_path``, default the project root, only for the bench's own measuring code; ``overlay``,
    packages a compared design needs that the bundle does not ship)."""
    environ = {k: v for k, v in base.items() if k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX", "VIRTUAL_ENV")}
    path = [str(bundle)] + ([str(overlay)] if overlay else []) + ([str(extra_path)] if extra_path else [])
    return {**environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join(path)}


def package_overlay(names: tuple[str, ...]) -> Path:
    """A directory holding copies of the venv's ``names`` (pure-Python packages the shipped bundle
    leaves out, such as boto3 for designs that need it), to put on the path after the bundle."""
    target = Path(tempfile.mkdtemp(prefix="charla-bench-overlay-"))
    for name in names:
        origin = __import__(name).__file__
        if origin is None:
            raise RuntimeError(f"{name} is not a package on disk")
        shutil.copytree(Path(origin).parent, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def source_copy(bundle: Path) -> Path:
    """A copy of ``bundle`` without its bytecode (what a cold start cost before the bundle shipped any)."""
    target = Path(tempfile.mkdtemp(prefix="charla-bench-source-")) / bundle.name
    shutil.copytree(bundle, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


if __name__ == "__main__":  # pragma: no cover - a tool: python -m bench.bundles prints the bundle
    print(json.dumps({"ingress": str(shipped_ingress_bundle())}))
