// Payload checks against the JSON Schemas committed in contract/schemas/ (generated from the
// Python contract by scripts/generate_schemas.py), with ajv, the JavaScript ecosystem's JSON
// Schema validator, in draft 2020-12 strict mode: a keyword ajv does not know is an error, so a
// change in what is generated fails the tests here instead of being silently ignored.
// Problems are reported as `field: message` and never echo the offending value (it may be user text).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import Ajv2020 from "ajv/dist/2020.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_SCHEMA_DIR = path.resolve(HERE, "..", "..", "..", "contract", "schemas");
// Our own annotation in each schema: the task name it describes.
const CHARLA_KEYWORDS = ["x-charla-task"];

export class UnsupportedSchemaError extends Error {}

function newAjv() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  for (const keyword of CHARLA_KEYWORDS) ajv.addKeyword({ keyword, schemaType: "string" });
  return ajv;
}

/** The contract as committed: index.json plus every task's schema, each compiled once. */
export class Contract {
  /** @param {string} [schemaDir] */
  constructor(schemaDir = process.env.CHARLA_SCHEMA_DIR || DEFAULT_SCHEMA_DIR) {
    this.schemaDir = schemaDir;
    this.index = JSON.parse(readFileSync(path.join(schemaDir, "index.json"), "utf8"));
    this._schemas = new Map();
    this._validators = new Map();
    this._ajv = newAjv();
  }

  /** `charla.health` or `health`; throws with the known names if neither exists. */
  resolveTask(name) {
    for (const candidate of [name, `charla.${name}`]) {
      if (Object.hasOwn(this.index.tasks, candidate)) return candidate;
    }
    throw new Error(`unknown task ${JSON.stringify(name)} (known: ${Object.keys(this.index.tasks).sort().join(", ")})`);
  }

  task(name) {
    return this.index.tasks[this.resolveTask(name)];
  }

  schema(name) {
    const task = this.resolveTask(name);
    if (!this._schemas.has(task)) {
      const file = path.join(this.schemaDir, this.index.tasks[task].schema);
      this._schemas.set(task, JSON.parse(readFileSync(file, "utf8")));
    }
    return this._schemas.get(task);
  }

  /** Problems of `payload` against the task's schema, as `field: message` strings ([] when valid). */
  validate(name, payload) {
    const task = this.resolveTask(name);
    if (!this._validators.has(task)) this._validators.set(task, compile(this._ajv, this.schema(task)));
    return problemsOf(this._validators.get(task), payload);
  }
}

function compile(ajv, schema) {
  try {
    return ajv.compile(schema);
  } catch (error) {
    throw new UnsupportedSchemaError(error.message);
  }
}

/** `a.b[0]` from ajv's JSON pointer `/a/b/0`. */
function fieldOf(instancePath, extra) {
  const parts = instancePath.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((text, part) => (/^\d+$/.test(part) ? `${text}[${part}]` : text ? `${text}.${part}` : part), "");
}

function typeName(value) {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

function valueAt(root, instancePath) {
  return instancePath
    .split("/")
    .slice(1)
    .reduce((node, part) => (node == null ? node : node[part.replace(/~1/g, "/").replace(/~0/g, "~")]), root);
}

/** ajv's errors as `field: message` lines; an anyOf that failed is one line, not one per branch. */
function problemsOf(check, value) {
  if (check(value)) return [];
  const errors = check.errors ?? [];
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath));
  const problems = [];
  for (const error of errors) {
    const insideAnyOf = error.keyword !== "anyOf" && anyOfPaths.has(error.instancePath) && error.schemaPath.includes("/anyOf/");
    if (insideAnyOf) continue;
    const at = fieldOf(error.instancePath) || "(payload)";
    switch (error.keyword) {
      case "required":
        problems.push(`${fieldOf(error.instancePath, error.params.missingProperty)}: field required`);
        break;
      case "additionalProperties":
        problems.push(`${fieldOf(error.instancePath, error.params.additionalProperty)}: extra field not permitted`);
        break;
      case "type":
        problems.push(`${at}: expected ${[].concat(error.params.type).join(" or ")}, got ${typeName(valueAt(value, error.instancePath))}`);
        break;
      case "anyOf":
        problems.push(`${at}: does not match any allowed shape`);
        break;
      case "enum":
        problems.push(`${at}: must be one of ${error.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`);
        break;
      case "const":
        problems.push(`${at}: must be ${JSON.stringify(error.params.allowedValue)}`);
        break;
      default:
        problems.push(`${at}: ${error.message}`); // ajv's messages name the rule, not the value
    }
  }
  return problems;
}

/**
 * Validate `value` against a standalone `schema`; returns a list of problems.
 * @returns {string[]}
 */
export function validate(schema, value) {
  return problemsOf(compile(newAjv(), schema), value);
}
