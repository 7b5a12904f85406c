"""Checks that a Lambda bundle carries bytecode its runtime will use (infra/bundling.py).

Shared by the ingress test (tests/infra/test_stack.py) and the executor's
(tests/infra/test_lambda_executor.py): each bundle is synthesized by its own fixture.
"""

import os
import shutil
import stat
import subprocess
from pathlib import Path

from infra.bundling import LAMBDA_PYTHON_VERSION, lambda_python

# PEP 552: the pyc header's flags word; bit 0 = hash-based, bit 1 = check the source.
UNCHECKED_HASH = 0b01
TAG = "cpython-" + LAMBDA_PYTHON_VERSION.replace(".", "")


def missing_or_wrong_bytecode(bundle: Path) -> list[str]:
    """Each ``.py`` of ``bundle`` whose ``__pycache__`` lacks an unchecked-hash pyc of the runtime's magic."""
    python = lambda_python()
    magic = subprocess.run(
        [python, "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    problems: list[str] = []
    for source in sorted(bundle.rglob("*.py")):
        cached = source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
        if not cached.is_file():
            problems.append(f"{source.relative_to(bundle)}: no {cached.name}")
            continue
        header = cached.read_bytes()[:8]
        if header[:4].hex() != magic or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            problems.append(f"{source.relative_to(bundle)}: {cached.name} is not unchecked-hash {TAG} bytecode")
    return problems


def read_only_copy(bundle: Path, target: Path) -> Path:
    """``bundle`` copied to ``target`` with every write bit cleared, as Lambda's /var/task is."""
    shutil.copytree(bundle, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return target


# Counts the modules of the bundle that were compiled from source on import (none, with bytecode).
_COMPILES_PROBE = """
import importlib.machinery, sys
compiled = []
original = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(path)
    return original(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
sys.path.insert(0, ".")
for name in sys.argv[1:]:
    __import__(name)
bundled = [path for path in compiled if not path.startswith(sys.base_prefix)]
print(len(bundled), *bundled[:5])
"""


def compiled_from_source(bundle: Path, modules: list[str]) -> tuple[int, str]:
    """Import ``modules`` from ``bundle`` under the runtime's Python, as a cold Lambda does.

    The environment has ``PYTHONDONTWRITEBYTECODE=1`` (nothing is written either way) and the
    code is read-only. Returns how many of the bundle's modules were compiled from source, and
    what the probe printed.
    """
    completed = subprocess.run(
        # -s: no user site-packages; the environment holds nothing else that Python reads.
        [lambda_python(), "-s", "-c", _COMPILES_PROBE, *modules],
        cwd=bundle,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout.strip().splitlines()[-1]
    return int(output.split()[0]), output
