// Send a charla task to its SQS queue and (for waitable tasks) read its result from DynamoDB.
import { randomUUID } from "node:crypto";
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { Contract } from "./schema.js";
import { encodeTaskMessage } from "./wire.js";

import { CharlaError, EXIT } from "./errors.js";
import { withLocalStack } from "./endpoints.js";

export { CharlaError, EXIT };

const READY_STATES = new Set(["SUCCESS", "FAILURE", "REVOKED", "REJECTED"]);

function awsConfig(env) {
  const config = { region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1" };
  if (env.AWS_ENDPOINT_URL) config.endpoint = env.AWS_ENDPOINT_URL; // moto locally
  // Keys given here (the local stack's dummy ones) rather than left to the SDK's chain, which
  // reads process.env only; otherwise the chain decides (profiles, SSO, roles).
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    config.credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  return config;
}

/**
 * Fill `correlation_id` / `requested_at` when the task's payload has them and they are missing,
 * then check the payload against the task's committed JSON Schema.
 */
export function buildPayload(contract, task, given, now = () => Date.now() / 1000) {
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw new CharlaError("--json must be a JSON object (the task's keyword arguments)", EXIT.USAGE);
  }
  const properties = contract.schema(task).properties ?? {};
  const payload = { ...given };
  if ("correlation_id" in properties && !("correlation_id" in payload)) payload.correlation_id = `node-${randomUUID()}`;
  if ("requested_at" in properties && !("requested_at" in payload)) payload.requested_at = now();
  const problems = contract.validate(task, payload);
  if (problems.length) {
    const schema = contract.schema(task);
    throw new CharlaError(`payload does not match ${schema.title} for ${contract.resolveTask(task)}: ${problems.join("; ")}`, EXIT.USAGE);
  }
  return payload;
}

export class CharlaClient {
  /**
   * @param {{env?: object, contract?: Contract, sqs?: SQSClient, dynamodb?: DynamoDBClient}} [options]
   *   `env` defaults to process.env with the local stack's endpoints file filled in (as `charla` reads it)
   */
  constructor({ env, contract = new Contract(), sqs, dynamodb } = {}) {
    env = env ?? withLocalStack(process.env, process.cwd());
    this.env = env;
    this.contract = contract;
    this.sqs = sqs ?? new SQSClient(awsConfig(env));
    this.dynamodb = dynamodb ?? new DynamoDBClient(awsConfig(env));
  }

  _required(variable, what) {
    const value = this.env[variable];
    if (!value) {
      throw new CharlaError(
        `${variable} is not set (the ${what}): start the local stack with \`make chat\`, or eval "$(charla env)" for AWS`,
        EXIT.USAGE,
      );
    }
    return value;
  }

  /**
   * Validate and send one task; resolves to its task id.
   * @param {string} name task name (`charla.health` or `health`)
   * @param {object} payload the task's keyword arguments
   * @param {{wait?: boolean}} [options] `wait: true` asks the worker to store the result
   */
  async send(name, payload, { wait = false } = {}) {
    let task;
    try {
      task = this.contract.resolveTask(name);
    } catch (error) {
      throw new CharlaError(error.message, EXIT.USAGE);
    }
    const entry = this.contract.index.tasks[task];
    if (wait && !entry.waitable) {
      const waitable = Object.entries(this.contract.index.tasks).filter(([, t]) => t.waitable).map(([n]) => n);
      throw new CharlaError(`${task} stores no result, so --wait cannot work (waitable: ${waitable.sort().join(", ")})`, EXIT.USAGE);
    }
    const kwargs = buildPayload(this.contract, task, payload);
    const variable = this.contract.index.queues[entry.queue].url_variable;
    const queueUrl = this._required(variable, `SQS URL of the ${entry.queue} queue`);
    const taskId = randomUUID();
    const body = encodeTaskMessage({ task, kwargs, queue: entry.queue, taskId, origin: "charla-node", ignoreResult: !wait });
    try {
      await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    } catch (error) {
      throw new CharlaError(`could not send to ${queueUrl}: ${error.message}`, EXIT.UNREACHABLE);
    }
    return taskId;
  }

  /** The result record Celery stored for `taskId` ({status, result, ...}), or null while there is none. */
  async readResult(taskId) {
    const { table_variable: variable, key_attribute: key, key_prefix: prefix } = this.contract.index.results;
    const table = this._required(variable, "DynamoDB table holding task results");
    let response;
    try {
      response = await this.dynamodb.send(
        new GetItemCommand({ TableName: table, Key: { [key]: { S: `${prefix}${taskId}` } }, ConsistentRead: true }),
      );
    } catch (error) {
      throw new CharlaError(`could not read ${table}: ${error.message}`, EXIT.UNREACHABLE);
    }
    if (!response.Item) return null;
    return JSON.parse(Buffer.from(response.Item.result.B).toString("utf8"));
  }

  /** Poll until the task is done; resolves to its result, rejects with its error or on timeout. */
  async waitForResult(taskId, timeoutSeconds, { pollMs = 200 } = {}) {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const record = await this.readResult(taskId);
      if (record && READY_STATES.has(record.status)) {
        if (record.status === "SUCCESS") return record.result;
        throw new CharlaError(`task ${taskId} failed: ${describeError(record)}`, EXIT.TASK_FAILED);
      }
      if (Date.now() >= deadline) throw new CharlaError(`no result for task ${taskId} after ${timeoutSeconds} s`, EXIT.TIMEOUT);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}

/** `ExcType: message` from a FAILURE record (Celery stores the exception as an object). */
export function describeError(record) {
  const error = record.result;
  if (error && typeof error === "object" && "exc_type" in error) {
    const message = Array.isArray(error.exc_message) ? error.exc_message.join(" ") : String(error.exc_message);
    return `${error.exc_type}: ${message}`;
  }
  return `${record.status}: ${JSON.stringify(error)}`;
}
