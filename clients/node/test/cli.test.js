import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/charla-send.js", import.meta.url));

// No AWS endpoint is reachable here: every case must fail before anything is sent.
// They run in an empty directory: no .stack/endpoints.json above it can point them anywhere.
const EMPTY = mkdtempSync(join(tmpdir(), "charla-send-"));
const run = (...args) =>
  spawnSync(process.execPath, [BIN, ...args], { cwd: EMPTY, encoding: "utf8", env: { PATH: process.env.PATH, AWS_REGION: "us-east-1" } });

for (const [name, args, pattern] of [
  ["an unknown task", ["dance"], /unknown task "dance"/],
  ["a payload of the wrong shape", ["ping", "--json", '{"channel": 1}'], /payload does not match CommandRequest for charla\.ping: .*channel: expected string/],
  ["--json that is not JSON", ["health", "--json", "{nope"], /--json is not JSON/],
  ["--wait on a task that stores no result", ["help", "--wait", "5"], /charla\.help stores no result, so --wait cannot work \(waitable: charla\.health, charla\.ping\)/],
  ["a missing queue URL", ["health"], /CHARLA_QUEUE_URL_REPLIES is not set/],
  ["no task at all", [], /usage: charla-send TASK/],
]) {
  test(`${name} exits 2 with one line on stderr`, () => {
    const result = run(...args);

    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.equal(result.stdout, "");
  });
}

test("--help prints the usage and where the deployment is found, and exits 0", () => {
  const result = run("--help");

  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^usage: charla-send TASK/);
  assert.match(result.stdout, /\.stack\/endpoints\.json/);
  assert.equal(result.stderr, "");
});

test("an endpoints file whose stack has exited is called stale in one line, nothing sent", () => {
  const home = mkdtempSync(join(tmpdir(), "charla-stale-"));
  mkdirSync(join(home, ".stack"));
  const gone = { pid: 2 ** 22 + 1, started: "1" }; // above Linux's pid_max: never a live process
  const document = { endpoint_url: "http://127.0.0.1:1", region: "us-east-1", owner: gone, variables: { CHARLA_QUEUE_URL_REPLIES: "http://127.0.0.1:1/q" } };
  writeFileSync(join(home, ".stack", "endpoints.json"), JSON.stringify(document));

  const result = spawnSync(process.execPath, [BIN, "health"], { cwd: join(home, ".stack"), encoding: "utf8", env: { PATH: process.env.PATH } });

  assert.equal(result.status, 4, result.stderr);
  assert.match(result.stderr, /is stale \(the process that started it \(pid 4194305\) has exited\)/);
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
});
