"""charla is Apache-2.0, and every manifest says so: a user may use and deploy it."""

import hashlib
import json
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# MD5 of https://www.apache.org/licenses/LICENSE-2.0.txt, the standard text, unchanged.
APACHE_2_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def test_the_license_file_is_the_standard_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_bytes()

    assert hashlib.md5(text).hexdigest() == APACHE_2_MD5  # noqa: S324 - a checksum, not security


def test_pyproject_and_both_package_json_declare_apache_2() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    manifests = [ROOT / "package.json", ROOT / "clients" / "node" / "package.json"]
    locks = [ROOT / "package-lock.json", ROOT / "clients" / "node" / "package-lock.json"]

    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    for manifest in manifests:
        assert json.loads(manifest.read_text())["license"] == "Apache-2.0", manifest
    for lock in locks:
        assert json.loads(lock.read_text())["packages"][""]["license"] == "Apache-2.0", lock
