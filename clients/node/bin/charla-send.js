#!/usr/bin/env node
// charla-send TASK [--json '{...}'] [--wait SECS]: the Node twin of `charla send` (same exit codes).
import { parseArgs } from "node:util";
import { CharlaClient, CharlaError, EXIT } from "../src/client.js";

// The AWS SDK warns on every run under Node < 22 (multi-line, on stderr); this CLI promises
// one line per failure, so the notice is off unless the caller set the variable themselves.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const USAGE = "usage: charla-send TASK [--json '{...}'] [--wait SECS]";
const HELP = `${USAGE}

Queue a charla task (the Node twin of \`charla send\`); with --wait, wait up to SECS for its result.

The deployment is found as \`charla\` finds it: AWS_REGION, AWS_ENDPOINT_URL, CHARLA_QUEUE_URL_<QUEUE>
and CHARLA_TABLE_RESULTS from the environment (\`eval "$(charla env)"\`), else the local stack's
.stack/endpoints.json here or above (or CHARLA_STACK_FILE), written by \`make chat\`.

exit status: 0 ok, 1 the task failed, 2 bad payload or usage (nothing sent), 3 no result in time,
4 AWS or the local stack unreachable`;

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: "string", default: "{}" }, wait: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    throw new CharlaError(`${error.message} (${USAGE})`, EXIT.USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (positionals.length !== 1) throw new CharlaError(USAGE, EXIT.USAGE);
  let payload;
  try {
    payload = JSON.parse(values.json);
  } catch (error) {
    throw new CharlaError(`--json is not JSON: ${error.message}`, EXIT.USAGE);
  }
  const wait = values.wait === undefined ? undefined : Number(values.wait);
  if (wait !== undefined && !(wait >= 0)) throw new CharlaError("--wait takes a number of seconds", EXIT.USAGE);
  const client = new CharlaClient();
  const taskId = await client.send(positionals[0], payload, { wait: wait !== undefined });
  if (wait === undefined) {
    process.stdout.write(`${taskId}\n`);
    return;
  }
  const result = await client.waitForResult(taskId, wait);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main(process.argv.slice(2)).then(
  () => process.exit(EXIT.OK),
  (error) => {
    process.stderr.write(`charla-send: ${error.message}\n`);
    process.exit(error instanceof CharlaError ? error.status : EXIT.UNREACHABLE);
  },
);
