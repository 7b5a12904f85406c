// Where the deployment is, found as `charla` finds it (charla_cli/endpoints.py): the environment
// first, then the endpoints file the local stack writes (`.stack/endpoints.json` in this
// directory or a parent, or the file named by CHARLA_STACK_FILE). So after `make chat` the
// client needs no `export` at all, and against AWS the variables `charla env` prints still win.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CharlaError, EXIT } from "./errors.js";

export const STACK_FILE_VARIABLE = "CHARLA_STACK_FILE";
const STACK_FILE = join(".stack", "endpoints.json");
const CREDENTIALS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/** `.stack/endpoints.json` in `start` or its nearest parent that has one, else null. */
export function findStackFile(start) {
  for (let directory = resolve(start); ; directory = dirname(directory)) {
    const candidate = join(directory, STACK_FILE);
    if (existsSync(candidate)) return candidate;
    if (dirname(directory) === directory) return null;
  }
}

/** A process's start time from /proc (Linux), "" where /proc is absent, null when it is gone. */
function processStarted(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    if (existsSync("/proc/self/stat")) return null;
    try {
      process.kill(pid, 0);
      return "";
    } catch (error) {
      return error.code === "EPERM" ? "" : null;
    }
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return null;
  return fields[19] ?? "";
}

/** Why the file no longer describes a running stack (its owner process is gone), or null. */
export function staleReason(document) {
  const owner = document.owner;
  if (!owner || !Number.isInteger(owner.pid)) return null;
  const now = processStarted(owner.pid);
  if (now !== null && (!owner.started || !now || now === owner.started)) return null;
  return `the process that started it (pid ${owner.pid}) has exited`;
}

/**
 * The environment with the local stack's endpoints filled in where the environment is silent.
 * @param {object} env process.env or a test's stand-in
 * @param {string} cwd where to start looking for `.stack/endpoints.json`
 */
export function withLocalStack(env = process.env, cwd = process.cwd()) {
  const named = env[STACK_FILE_VARIABLE];
  const path = named || findStackFile(cwd);
  if (!path) return { ...env };
  let document;
  try {
    document = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new CharlaError(`endpoints file ${path} is unreadable (${error.code ?? error.message}); start the local stack with \`make chat\``, EXIT.USAGE);
  }
  const stale = staleReason(document);
  const fromFile = !env.AWS_ENDPOINT_URL && Boolean(document.endpoint_url);
  if (stale && fromFile) {
    throw new CharlaError(`the local stack in ${path} is stale (${stale}): start it again with \`make chat\`, or run \`make stop\``, EXIT.UNREACHABLE);
  }
  const merged = { ...(document.variables ?? {}), ...env };
  for (const [name, value] of Object.entries(document.variables ?? {})) if (!env[name]) merged[name] = value;
  if (!merged.AWS_REGION && !merged.AWS_DEFAULT_REGION && document.region) merged.AWS_REGION = document.region;
  if (fromFile) {
    merged.AWS_ENDPOINT_URL = document.endpoint_url;
    if (!env.AWS_ACCESS_KEY_ID) for (const name of CREDENTIALS) if (document.credentials?.[name]) merged[name] = document.credentials[name];
  }
  return merged;
}
