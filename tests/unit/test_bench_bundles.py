"""The cold-start bench runs the Lambda bundle as shipped: no bytecode written, none reused."""

from pathlib import Path

import pytest

from bench.bundles import WritablePycache, bundle_env, bytecode_in, check_runnable_as_shipped
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
