import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Contract, UnsupportedSchemaError, validate } from "../src/schema.js";
import { buildPayload, CharlaError, EXIT } from "../src/client.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../../tests/vectors/payloads.json", import.meta.url), "utf8")).cases;
const contract = new Contract();

for (const vector of VECTORS) {
  test(`${vector.valid ? "accepts" : "refuses"} ${vector.name} (as the worker does)`, () => {
    const problems = contract.validate(vector.task, vector.payload);

    assert.equal(problems.length === 0, vector.valid, problems.join("; "));
  });
}

test("every committed schema compiles in ajv's strict draft 2020-12 mode", () => {
  for (const task of Object.keys(contract.index.tasks)) assert.doesNotThrow(() => contract.validate(task, {}), task);
});

test("every task in the index has its schema, its queue and a waitable flag", () => {
  for (const [task, entry] of Object.entries(contract.index.tasks)) {
    assert.equal(contract.schema(task)["x-charla-task"], task);
    assert.ok(contract.index.queues[entry.queue].url_variable.startsWith("CHARLA_QUEUE_URL_"));
    assert.equal(typeof entry.waitable, "boolean");
  }
});

test("problems name the field and never echo its value", () => {
  const problems = contract.validate("charla.health", { correlation_id: "secret text", requested_at: "soon", extra: 1 });

  assert.deepEqual(problems.sort(), ["extra: extra field not permitted", "requested_at: expected number, got string"]);
});

test("short task names resolve and unknown ones list the known names", () => {
  assert.equal(contract.resolveTask("health"), "charla.health");
  assert.throws(() => contract.resolveTask("dance"), /unknown task "dance" \(known: .*charla\.health/);
});

test("correlation_id and requested_at are filled in when missing", () => {
  const payload = buildPayload(contract, "charla.health", {}, () => 1234.5);

  assert.match(payload.correlation_id, /^node-/);
  assert.equal(payload.requested_at, 1234.5);
});

test("a payload of the wrong shape is refused before anything is sent", () => {
  assert.throws(
    () => buildPayload(contract, "charla.ping", { channel: "C1" }),
    (error) => error instanceof CharlaError && error.status === EXIT.USAGE && /HealthCheck|CommandRequest/.test(error.message) && /team_id: field required/.test(error.message),
  );
});

test("an unknown schema keyword is an error, not silently ignored", () => {
  assert.throws(() => validate({ type: "string", patern: "^a" }, "b"), (error) => error instanceof UnsupportedSchemaError && /unknown keyword: "patern"/.test(error.message));
});

test("a value outside an optional field's shapes is one problem, without its value", () => {
  const problems = contract.validate("charla.ping", { team_id: "T1", channel: "C1", user: "U1", command: "ping", thread_ts: 12 });

  assert.ok(problems.some((p) => p.startsWith("thread_ts: ")), problems.join("; "));
  assert.equal(problems.filter((p) => p.startsWith("thread_ts")).length, 1, problems.join("; "));
  assert.ok(problems.every((p) => !p.includes("12")), problems.join("; "));
});
