"""The ingress's import graph stays light: no workers code, no Celery, no pydantic, no test tools.

A fresh interpreter imports ``lambda_handler.main`` (what a Lambda cold start does) and reports
``sys.modules``; any module on the forbidden list kept beside this test fails it, naming who
imported it first (from ``python -X importtime``'s nesting).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_LIST = Path(__file__).with_name("forbidden_ingress_modules.txt")


def forbidden_modules() -> list[str]:
    lines = FORBIDDEN_LIST.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _fresh_import(module: str) -> tuple[list[str], str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    # With a region the handler builds its AWS clients at import (as in Lambda), so what they
    # load is checked too; no request is made.
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stderr


def _importer_of(name: str, importtime: str) -> str:
    """The enclosing import of ``name`` in an importtime trace (entries are printed innermost first)."""
    entries = [(len(m.group(1)), m.group(2)) for m in re.finditer(r"\|( *)(\S+)\s*$", importtime, re.MULTILINE)]
    for index, (depth, module) in enumerate(entries):
        if module == name or module.startswith(name + "."):
            parent = next((m for d, m in entries[index + 1 :] if d < depth), "?")
            return f"{module} (imported by {parent})"
    return name


def test_forbidden_list_is_not_empty_and_names_the_worker_side() -> None:
    names = forbidden_modules()
    assert {"workers", "celery", "kombu", "pydantic", "pydantic_settings", "moto"} <= set(names)


def _offenders(loaded: list[str]) -> list[str]:
    forbidden = forbidden_modules()
    return sorted({name for name in loaded for banned in forbidden if name == banned or name.startswith(banned + ".")})


def test_handler_import_loads_no_forbidden_module() -> None:
    loaded, importtime = _fresh_import("lambda_handler.main")
    assert "lambda_handler.main" in loaded
    offenders = _offenders(loaded)
    assert not offenders, "the ingress pulls in: " + ", ".join(_importer_of(name, importtime) for name in offenders)


def test_a_forbidden_import_is_caught() -> None:
    """The check itself works: a module that imports pydantic is reported, with its importer."""
    loaded, importtime = _fresh_import("contract.tasks, pydantic_settings")
    assert {"pydantic", "pydantic_settings"} <= set(_offenders(loaded))
    assert "imported by" in _importer_of("pydantic", importtime)
