"""The layout of workers/ means what it says, checked on the source (no import runs).

- ``workers/celery_worker/`` is what only the Celery executor needs: nothing else in ``workers/``
  imports it, and only it imports Celery or kombu, so the Lambda executor and the task code run
  without them;
- ``workers/lambda_executor/`` is what only the Lambda executor needs: nothing else imports it;
- ``workers/runtime/`` is what both executors share (settings, clients, clock, metrics): the
  bottom layer, importing nothing else from ``workers``.

And the dotted paths that name modules from outside Python (the Lambda handler, the container's
health check and entrypoint, the local stack's ``celery --app``) name modules that exist.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = ROOT / "workers"
CELERY_WORKER = "workers.celery_worker"
LAMBDA_EXECUTOR = "workers.lambda_executor"
RUNTIME = "workers.runtime"
CELERY_ONLY_LIBRARIES = ("celery", "kombu")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` (the module ``module``) imports, at any depth (function-level too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from workers import redelivery` imports the module workers.redelivery.
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path, _module_name(path))
        for path in sorted(WORKERS.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def test_the_three_packages_exist(graph: dict[str, set[str]]) -> None:
    for package in (CELERY_WORKER, LAMBDA_EXECUTOR, RUNTIME):
        assert package in graph, f"{package} has no __init__.py"
        assert any(_within(m, package) and m != package for m in graph), f"{package} is empty"


def test_only_the_celery_worker_imports_itself_celery_or_kombu(graph: dict[str, set[str]]) -> None:
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in graph.items()
        if not _within(module, CELERY_WORKER)
        for name in names
        if _within(name, CELERY_WORKER) or any(_within(name, lib) for lib in CELERY_ONLY_LIBRARIES)
    )
    assert offenders == [], "only workers/celery_worker/ may need Celery: " + "; ".join(offenders)


def test_only_the_lambda_executor_imports_itself(graph: dict[str, set[str]]) -> None:
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in graph.items()
        if not _within(module, LAMBDA_EXECUTOR)
        for name in names
        if _within(name, LAMBDA_EXECUTOR)
    )
    assert offenders == []


def test_the_runtime_imports_nothing_else_from_workers(graph: dict[str, set[str]]) -> None:
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in graph.items()
        if _within(module, RUNTIME)
        for name in names
        if _within(name, "workers") and not _within(name, RUNTIME) and name != "workers"
    )
    assert offenders == [], "workers/runtime/ is the bottom layer: " + "; ".join(offenders)


def test_the_checks_would_catch_a_crossing(tmp_path: Path) -> None:
    """The import reader sees function-level, aliased and ``from package import module`` forms."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def later():\n"
        "    from workers.celery_worker import consumer\n"
        "    import workers.lambda_executor.main as executor\n"
        "    from .. import store\n"
        "    return consumer, executor, store\n"
    )
    found = _imports(probe, "workers.runtime.probe")
    assert {"workers.celery_worker.consumer", "workers.lambda_executor.main", "workers.store"} <= found


def _constant(path: Path, name: str) -> object:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {path}")


def _defines(module: str, attribute: str | None = None) -> bool:
    path = ROOT / Path(*module.split("."))
    source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
    if not source.is_file():
        return False
    if attribute is None:
        return True
    tree = ast.parse(source.read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    return attribute in defined


def test_dotted_paths_named_outside_python_exist() -> None:
    handler = _constant(ROOT / "infra" / "constructs" / "lambda_executor.py", "HANDLER")
    assert isinstance(handler, str)
    module, _, function = handler.rpartition(".")
    assert _within(module, LAMBDA_EXECUTOR) and _defines(module, function), handler

    health_check = _constant(ROOT / "infra" / "constructs" / "worker_service.py", "HEALTH_CHECK_COMMAND")
    assert isinstance(health_check, list)
    assert _within(health_check[-1], CELERY_WORKER) and _defines(health_check[-1], "main"), health_check

    entrypoint = (WORKERS / "celery_worker" / "docker-entrypoint.sh").read_text()
    stack = (ROOT / "scripts" / "stack.py").read_text()
    apps = re.findall(r"--app (\S+) worker", entrypoint) + re.findall(r'"(workers\.[\w.]+\.app)"', stack)
    assert len(apps) == 2, apps
    for app in apps:
        assert _within(app, CELERY_WORKER) and _defines(app, "app"), app
