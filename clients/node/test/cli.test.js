import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/charla-send.js", import.meta.url));

// No AWS endpoint is reachable here: every case must fail before anything is sent.
const run = (...args) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { PATH: process.env.PATH, AWS_REGION: "us-east-1" } });

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
