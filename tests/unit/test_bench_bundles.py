"""The cold-start bench runs the Lambda bundle as shipped: no bytecode written, none reused but
what the bundler ships (the runtime's tag, unchecked-hash)."""

import py_compile
from pathlib import Path

import pytest

from bench.bundles import (
    WritablePycache,
    bundle_env,
    bytecode_in,
    check_runnable_as_shipped,
    runtime_python,
    source_copy,
)
from bench.common import run_fresh


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    package = tmp_path / "asset.1234" / "handler_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("ANSWER = 42\n")
    return package.parent


def test_the_runner_refuses_an_environment_that_writes_bytecode(bundle: Path) -> None:
    with pytest.raises(WritablePycache, match="PYTHONDONTWRITEBYTECODE"):
        check_runnable_as_shipped(bundle, {"PATH": "/usr/bin"})
    with pytest.raises(WritablePycache, match="PYTHONPYCACHEPREFIX"):
        check_runnable_as_shipped(bundle, {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/tmp/pyc"})


def test_the_runner_refuses_a_bundle_with_bytecode_it_was_not_shipped_with(bundle: Path) -> None:
    environ = bundle_env({"PYTHONPYCACHEPREFIX": "/tmp/pyc", "PYTHONPATH": "/elsewhere"}, bundle, extra_path=None)
    check_runnable_as_shipped(bundle, environ)  # clean: allowed
    assert environ["PYTHONPATH"] == str(bundle) and "PYTHONPYCACHEPREFIX" not in environ
    cache = bundle / "handler_pkg" / "__pycache__"
    cache.mkdir()
    (cache / "__init__.cpython-311.pyc").write_bytes(b"")
    with pytest.raises(WritablePycache, match="bytecode it was not shipped with"):
        check_runnable_as_shipped(bundle, environ)


def test_a_run_from_the_bundle_imports_from_source_and_leaves_it_as_shipped(bundle: Path) -> None:
    environ = bundle_env({"PATH": "/usr/bin:/bin"}, bundle, extra_path=None)
    code = "import json, handler_pkg; print(json.dumps({'answer': handler_pkg.ANSWER, 'from': handler_pkg.__file__}))"
    result = run_fresh(code, env=environ, python_args=["-S"], cwd=bundle)
    assert result["answer"] == 42 and result["from"].startswith(str(bundle))
    assert bytecode_in(bundle) == []


def _compile(source: Path, cfile: Path, mode: py_compile.PycInvalidationMode) -> None:
    cfile.parent.mkdir(exist_ok=True)
    py_compile.compile(str(source), cfile=str(cfile), invalidation_mode=mode, doraise=True)


def test_the_bytecode_the_bundler_ships_is_allowed_and_any_other_refused(bundle: Path) -> None:
    environ = bundle_env({"PATH": "/usr/bin"}, bundle, extra_path=None)
    source = bundle / "handler_pkg" / "__init__.py"
    cache = source.parent / "__pycache__"
    _compile(source, cache / "__init__.cpython-312.pyc", py_compile.PycInvalidationMode.UNCHECKED_HASH)
    check_runnable_as_shipped(bundle, environ)  # what infra/bundling.py writes: allowed

    _compile(source, cache / "__init__.cpython-312.pyc", py_compile.PycInvalidationMode.TIMESTAMP)
    with pytest.raises(WritablePycache, match="not shipped with"):  # a run's own pyc (timestamp-checked)
        check_runnable_as_shipped(bundle, environ)


def test_the_source_copy_has_no_bytecode_and_runs_are_the_runtimes_python(bundle: Path) -> None:
    source = bundle / "handler_pkg" / "__init__.py"
    _compile(
        source,
        source.parent / "__pycache__" / "__init__.cpython-312.pyc",
        py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    assert bytecode_in(source_copy(bundle)) == []
    environ = bundle_env({"PATH": "/usr/bin:/bin"}, bundle, extra_path=None)
    code = (
        "import json, handler_pkg, sys; "
        "print(json.dumps({'cached': handler_pkg.__cached__, 'v': sys.version_info[:2]}))"
    )
    result = run_fresh(code, env=environ, python_args=["-S"], cwd=bundle, python=runtime_python())
    assert result["v"] == [3, 12] and result["cached"].endswith("cpython-312.pyc")
