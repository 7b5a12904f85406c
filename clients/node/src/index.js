export { CharlaClient, CharlaError, EXIT, buildPayload, describeError } from "./client.js";
export { Contract, validate, UnsupportedSchemaError } from "./schema.js";
export { encodeTaskMessage, decodeTaskMessage } from "./wire.js";
export { findStackFile, withLocalStack } from "./endpoints.js";
