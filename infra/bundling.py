"""Bundle a Lambda without Docker: pip installs Linux arm64 wheels for Python 3.12.

The asset hash is computed from the sources and the requirements file, so CDK reuses a bundle
that is already staged in ``cdk.out`` and a deploy replaces the code only when it changed.

Every ``.py`` in the bundle ships with its bytecode for the runtime's Python
(``__pycache__/*.cpython-312.pyc``): Lambda's code directory is read-only, so a bundle without
it compiles every module it imports from source on each cold start (about three times the
import time, measured in docs/BENCHMARKS.md). The bytecode is hash-based and *unchecked*
(PEP 552): the zip CDK uploads resets file timestamps, which would invalidate timestamp-based
``.pyc`` files, and the sources never change under a deployed function, so there is nothing to
check. Bytecode is specific to a minor version, so it is compiled by a Python 3.12, found by
``lambda_python()`` (this machine's Python may be another).
"""

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

ROOT = Path(__file__).resolve().parent.parent
# Bump when the bundling steps change, so the hash changes with them.
BUNDLE_FORMAT = "2"
LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
# Overrides the search for the interpreter that compiles the bundle's bytecode.
LAMBDA_PYTHON_ENV = "CHARLA_LAMBDA_PYTHON"


class LambdaPythonMissing(RuntimeError):
    """No Python of the Lambda runtime's version was found to compile the bundle's bytecode."""


def _is_lambda_python(candidate: str) -> bool:
    try:
        completed = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0 and completed.stdout.strip() == LAMBDA_PYTHON_VERSION


def lambda_python() -> str:
    """The path of a Python of the Lambda runtime's minor version, to compile bytecode with.

    Looked for in order: ``$CHARLA_LAMBDA_PYTHON``; this interpreter, if it is one; ``python3.12``
    on ``PATH``; a pyenv-installed 3.12 (the development machines ship one); a 3.12 that ``uv``
    knows or can install.

    Raises:
        LambdaPythonMissing: None of them is a Python 3.12.
    """
    wanted = f"python{LAMBDA_PYTHON_VERSION}"
    pyenv_versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [
        os.environ.get(LAMBDA_PYTHON_ENV, ""),
        sys.executable,
        shutil.which(wanted) or "",
        *sorted((str(p) for p in pyenv_versions.glob(f"{LAMBDA_PYTHON_VERSION}.*/bin/{wanted}")), reverse=True),
        f"/usr/bin/{wanted}",
        f"/usr/local/bin/{wanted}",
    ]
    for candidate in candidates:
        if candidate and _is_lambda_python(candidate):
            return candidate
    # uv on PATH, or the one `make lambda-python` installs beside this interpreter.
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv:
        for command in (["python", "find", LAMBDA_PYTHON_VERSION], ["python", "install", LAMBDA_PYTHON_VERSION]):
            subprocess.run([uv, *command], check=False, capture_output=True, text=True)
        found = subprocess.run(
            [uv, "python", "find", LAMBDA_PYTHON_VERSION], check=False, capture_output=True, text=True
        ).stdout.strip()
        if found and _is_lambda_python(found):
            return found
    raise LambdaPythonMissing(
        f"bundling the Lambda needs a Python {LAMBDA_PYTHON_VERSION} to compile its bytecode and found none: "
        f"install one (pyenv install {LAMBDA_PYTHON_VERSION}, uv python install {LAMBDA_PYTHON_VERSION}, "
        f"or your system's python{LAMBDA_PYTHON_VERSION}) or point {LAMBDA_PYTHON_ENV} at it"
    )


def compile_bundle(bundle: Path, python: str | None = None) -> None:
    """Write unchecked-hash bytecode for the runtime's Python beside every ``.py`` in ``bundle``.

    Raises:
        LambdaPythonMissing: No Python 3.12 to compile with.
        RuntimeError: A file did not compile (compileall names it).
    """
    completed = subprocess.run(
        [
            python or lambda_python(),
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            # Tracebacks name the files where Lambda puts them, not this machine's temp dir.
            "-s",
            str(bundle),
            "-p",
            "/var/task",
            str(bundle),
        ],
        check=False,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"compiling the Lambda bundle failed:\n{completed.stdout}\n{completed.stderr}")


def _excluded(path: Path, exclude: Sequence[str]) -> bool:
    """Whether ``path`` is, or lies under, one of the repo-relative folders in ``exclude``."""
    return any(path == ROOT / folder or (ROOT / folder) in path.parents for folder in exclude)


def _source_files(packages: Sequence[str], exclude: Sequence[str] = ()) -> list[Path]:
    files: list[Path] = []
    for package in packages:
        files.extend(
            sorted(
                path
                for path in (ROOT / package).rglob("*.py")
                if "__pycache__" not in path.parts and not _excluded(path, exclude)
            )
        )
    return files


def bundle_hash(packages: Sequence[str], requirements: Path, exclude: Sequence[str] = ()) -> str:
    """SHA-256 over the package sources (less ``exclude``), the requirements file and the bundling format."""
    digest = hashlib.sha256(f"{BUNDLE_FORMAT}|{LAMBDA_PYTHON_VERSION}|{LAMBDA_PLATFORM}".encode())
    for path in [requirements, *_source_files(packages, exclude)]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """Installs ``requirements`` for the Lambda's platform and copies ``packages`` beside them.

    ``exclude`` names folders inside ``packages`` (repo-relative, e.g. ``workers/celery_worker``)
    that are left out of the bundle.
    """

    def __init__(self, *, packages: Sequence[str], requirements: Path, exclude: Sequence[str] = ()) -> None:
        self.packages = tuple(packages)
        self.requirements = requirements
        self.exclude = tuple(exclude)

    def try_bundle(self, output_dir: str, *, image: Any = None, **_options: Any) -> bool:
        out = Path(output_dir)
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "-r",
                str(self.requirements),
                "--target",
                str(out),
                "--platform",
                LAMBDA_PLATFORM,
                "--python-version",
                LAMBDA_PYTHON_VERSION,
                "--implementation",
                "cp",
                "--only-binary=:all:",
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            # pip's own message says which requirement has no wheel for the Lambda platform.
            raise RuntimeError(f"bundling the Lambda failed:\n{completed.stdout}\n{completed.stderr}")
        shutil.rmtree(out / "bin", ignore_errors=True)  # console scripts: unusable in Lambda
        by_pattern = shutil.ignore_patterns("__pycache__", "*.pyc", "ruff.toml")

        def ignore(folder: str, names: list[str]) -> set[str]:
            left_out = {name for name in names if _excluded(Path(folder) / name, self.exclude)}
            return set(by_pattern(folder, names)) | left_out

        for package in self.packages:
            shutil.copytree(ROOT / package, out / package, ignore=ignore, dirs_exist_ok=True)
        compile_bundle(out)
        return True


def lambda_code(*, packages: Sequence[str], requirements: Path, exclude: Sequence[str] = ()) -> cdk.aws_lambda.Code:
    """``Code`` for the Lambda: ``packages`` (less the folders in ``exclude``) plus their pinned dependencies."""
    return cdk.aws_lambda.Code.from_asset(
        str(ROOT / packages[0]),  # the source Docker bundling would mount; local bundling reads ROOT
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundle_hash(packages, requirements, exclude),
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry("local-bundling-only"),  # never pulled: local wins
            local=PipLocalBundling(packages=packages, requirements=requirements, exclude=exclude),
        ),
    )


if __name__ == "__main__":  # `make lambda-python`: print the interpreter, or say why there is none
    try:
        print(lambda_python())
    except LambdaPythonMissing as missing:
        sys.exit(str(missing))
