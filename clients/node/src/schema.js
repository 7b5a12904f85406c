// Payload checks against the JSON Schemas committed in contract/schemas/ (generated from the
// Python contract by scripts/generate_schemas.py). A small validator for exactly the subset of
// JSON Schema 2020-12 that generator emits; any other keyword is an error, so a change in what
// is generated fails the tests here instead of being silently ignored.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_SCHEMA_DIR = path.resolve(HERE, "..", "..", "..", "contract", "schemas");

const ANNOTATIONS = new Set(["$schema", "$id", "$defs", "title", "description", "default", "x-charla-task"]);
const ASSERTIONS = new Set(["type", "enum", "const", "anyOf", "$ref", "properties", "required", "additionalProperties", "items"]);
export const SUPPORTED_KEYWORDS = new Set([...ANNOTATIONS, ...ASSERTIONS]);

export class UnsupportedSchemaError extends Error {}

/** The contract as committed: index.json plus every task's schema. */
export class Contract {
  /** @param {string} [schemaDir] */
  constructor(schemaDir = process.env.CHARLA_SCHEMA_DIR || DEFAULT_SCHEMA_DIR) {
    this.schemaDir = schemaDir;
    this.index = JSON.parse(readFileSync(path.join(schemaDir, "index.json"), "utf8"));
    this._schemas = new Map();
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
    const schema = this.schema(name);
    return validate(schema, payload, schema, "");
  }
}

const TYPE_CHECKS = {
  string: (v) => typeof v === "string",
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === "number" && Number.isFinite(v),
  boolean: (v) => typeof v === "boolean",
  null: (v) => v === null,
  object: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

function resolveRef(root, ref) {
  const prefix = "#/$defs/";
  if (!ref.startsWith(prefix) || !root.$defs?.[ref.slice(prefix.length)]) {
    throw new UnsupportedSchemaError(`unsupported $ref ${ref}`);
  }
  return root.$defs[ref.slice(prefix.length)];
}

/**
 * Validate `value` against `schema` (a node of `root`); returns a list of problems.
 * @returns {string[]}
 */
export function validate(schema, value, root = schema, where = "") {
  for (const keyword of Object.keys(schema)) {
    if (!SUPPORTED_KEYWORDS.has(keyword)) throw new UnsupportedSchemaError(`unsupported keyword ${keyword} at ${where || "(root)"}`);
  }
  const at = where || "(payload)";
  if (schema.$ref) {
    const problems = validate(resolveRef(root, schema.$ref), value, root, where);
    if (problems.length) return problems;
  }
  if (schema.anyOf) {
    const branches = schema.anyOf.map((branch) => validate(branch, value, root, where));
    if (!branches.some((problems) => problems.length === 0)) {
      return [`${at}: does not match any allowed shape (${branches.map((p) => p.join(", ")).join(" | ")})`];
    }
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    for (const type of types) {
      if (!TYPE_CHECKS[type]) throw new UnsupportedSchemaError(`unsupported type ${type} at ${at}`);
    }
    if (!types.some((type) => TYPE_CHECKS[type](value))) {
      return [`${at}: expected ${types.join(" or ")}, got ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}`];
    }
  }
  if (schema.enum && !schema.enum.some((allowed) => allowed === value)) {
    return [`${at}: must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`];
  }
  if (Object.hasOwn(schema, "const") && schema.const !== value) {
    return [`${at}: must be ${JSON.stringify(schema.const)}`];
  }
  const problems = [];
  if (TYPE_CHECKS.object(value)) {
    const properties = schema.properties ?? {};
    for (const name of schema.required ?? []) {
      if (!Object.hasOwn(value, name)) problems.push(`${name}: field required`);
    }
    for (const [name, item] of Object.entries(value)) {
      const field = where ? `${where}.${name}` : name;
      if (Object.hasOwn(properties, name)) {
        problems.push(...validate(properties[name], item, root, field));
      } else if (schema.additionalProperties === false) {
        problems.push(`${field}: extra field not permitted`);
      }
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => problems.push(...validate(schema.items, item, root, `${where}[${i}]`)));
  }
  return problems;
}
