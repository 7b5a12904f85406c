"""Bundle the ingress Lambda without Docker: pip installs Linux arm64 wheels for Python 3.12.

The asset hash is computed from the sources and the requirements file, so CDK reuses a bundle
that is already staged in ``cdk.out`` and a deploy replaces the code only when it changed.
"""

import hashlib
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
BUNDLE_FORMAT = "1"
LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_PLATFORM = "manylinux2014_aarch64"


def _source_files(packages: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for package in packages:
        files.extend(sorted(path for path in (ROOT / package).rglob("*.py") if "__pycache__" not in path.parts))
    return files


def bundle_hash(packages: Sequence[str], requirements: Path) -> str:
    """SHA-256 over the package sources, the requirements file and the bundling format."""
    digest = hashlib.sha256(f"{BUNDLE_FORMAT}|{LAMBDA_PYTHON_VERSION}|{LAMBDA_PLATFORM}".encode())
    for path in [requirements, *_source_files(packages)]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """Installs ``requirements`` for the Lambda's platform and copies ``packages`` beside them."""

    def __init__(self, *, packages: Sequence[str], requirements: Path) -> None:
        self.packages = tuple(packages)
        self.requirements = requirements

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
        for package in self.packages:
            shutil.copytree(
                ROOT / package,
                out / package,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "ruff.toml"),
                dirs_exist_ok=True,
            )
        return True


def lambda_code(*, packages: Sequence[str], requirements: Path) -> cdk.aws_lambda.Code:
    """``Code`` for the Lambda: ``packages`` from the repo root plus their pinned dependencies."""
    return cdk.aws_lambda.Code.from_asset(
        str(ROOT / packages[0]),  # the source Docker bundling would mount; local bundling reads ROOT
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundle_hash(packages, requirements),
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry("local-bundling-only"),  # never pulled: local wins
            local=PipLocalBundling(packages=packages, requirements=requirements),
        ),
    )
