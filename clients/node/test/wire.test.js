import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeTaskMessage, encodeTaskMessage } from "../src/wire.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../../tests/vectors/wire.json", import.meta.url), "utf8")).cases;

for (const vector of VECTORS) {
  test(`encodes "${vector.name}" to what a charla worker decodes`, () => {
    const { task, kwargs, queue, task_id: taskId, ignore_result: ignoreResult } = vector.input;

    const body = encodeTaskMessage({ task, kwargs, queue, taskId, ignoreResult });

    assert.deepEqual(decodeTaskMessage(body), vector.decoded);
  });

  test(`reads "${vector.name}" as encoded by contract/wire.py`, () => {
    assert.deepEqual(decodeTaskMessage(vector.python_body), vector.decoded);
  });
}

test("the envelope carries the headers a Celery worker needs", () => {
  const body = encodeTaskMessage({ task: "charla.health", kwargs: {}, queue: "replies", taskId: "t-1", ignoreResult: false });

  const envelope = JSON.parse(Buffer.from(body, "base64").toString("utf8"));

  assert.equal(envelope["content-type"], "application/json");
  assert.equal(envelope.properties.body_encoding, "base64");
  assert.equal(envelope.properties.delivery_info.routing_key, "replies");
  assert.deepEqual(
    { task: envelope.headers.task, id: envelope.headers.id, root_id: envelope.headers.root_id, retries: envelope.headers.retries, ignore_result: envelope.headers.ignore_result },
    { task: "charla.health", id: "t-1", root_id: "t-1", retries: 0, ignore_result: false },
  );
});

test("a random task id is given when none is passed", () => {
  const first = decodeTaskMessage(encodeTaskMessage({ task: "charla.ping", kwargs: {}, queue: "replies" }));
  const second = decodeTaskMessage(encodeTaskMessage({ task: "charla.ping", kwargs: {}, queue: "replies" }));

  assert.match(first.task_id, /^[0-9a-f-]{36}$/);
  assert.notEqual(first.task_id, second.task_id);
});

test("a pickle body is not read as a task", () => {
  const envelope = { body: "gASVAAAA", "content-type": "application/x-python-serialize", headers: { task: "charla.ping" }, properties: {} };

  assert.throws(() => decodeTaskMessage(Buffer.from(JSON.stringify(envelope)).toString("base64")), /is not application\/json/);
});
