"""contract/wire.py and the Node client build messages a charla worker reads the same way.

The vectors (tests/vectors/wire.json) are shared with clients/node/test/wire.test.js.
"""

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contract.wire import decode_task_message, encode_task_message

ROOT = Path(__file__).resolve().parent.parent.parent
CASES: list[dict[str, Any]] = json.loads((ROOT / "tests" / "vectors" / "wire.json").read_text(encoding="utf-8"))[
    "cases"
]
IDS = [case["name"] for case in CASES]
NODE_ENCODE = """
import { encodeTaskMessage } from "./clients/node/src/wire.js";
const cases = JSON.parse(process.argv[1]);
process.stdout.write(JSON.stringify(cases.map((c) => encodeTaskMessage({
  task: c.task, kwargs: c.kwargs, queue: c.queue, taskId: c.task_id, ignoreResult: c.ignore_result,
}))));
"""


def decoded_fields(body: str) -> dict[str, object]:
    """What a worker reads from ``body``; the raw headers (every one of Celery's) are not part of the vectors."""
    fields = dataclasses.asdict(decode_task_message(body))
    fields.pop("headers", None)
    return fields


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_python_encoding_decodes_to_the_vector(case: dict[str, Any]) -> None:
    given = case["input"]

    body = encode_task_message(
        task=given["task"],
        kwargs=given["kwargs"],
        queue=given["queue"],
        task_id=given["task_id"],
        ignore_result=given["ignore_result"],
    )

    assert decoded_fields(body) == case["decoded"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_committed_python_body_still_decodes_to_the_vector(case: dict[str, Any]) -> None:
    assert decoded_fields(case["python_body"]) == case["decoded"]


def test_node_encoding_decodes_to_the_vectors() -> None:
    node = shutil.which("node")
    assert node, "Node.js 20+ is needed for the Node client (see README)"

    result = subprocess.run(
        [node, "--input-type=module", "-e", NODE_ENCODE, json.dumps([case["input"] for case in CASES])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    bodies = json.loads(result.stdout)
    assert [decoded_fields(body) for body in bodies] == [case["decoded"] for case in CASES]
