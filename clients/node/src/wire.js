// The Celery message protocol v2 as it travels on SQS: the Node twin of contract/wire.py.
//
// SQS MessageBody = base64(JSON envelope); envelope.body = base64(JSON [args, kwargs, embed]).
// A charla worker runs it as task(**kwargs). docs/CONTRACT.md describes every field.
import { randomUUID } from "node:crypto";

export const CONTENT_TYPE = "application/json";
export const CONTENT_ENCODING = "utf-8";
const EMBED = { callbacks: null, errbacks: null, chain: null, chord: null };

const b64 = (text) => Buffer.from(text, "utf8").toString("base64");

/**
 * The SQS MessageBody that a charla worker consuming `queue` runs as `task(**kwargs)`.
 * @param {{task: string, kwargs: object, queue: string, taskId?: string, origin?: string, ignoreResult?: boolean}} options
 * @returns {string}
 */
export function encodeTaskMessage({ task, kwargs, queue, taskId, origin = "charla-node", ignoreResult = true }) {
  const id = taskId ?? randomUUID();
  const body = JSON.stringify([[], kwargs, EMBED]);
  const message = {
    body: b64(body),
    "content-encoding": CONTENT_ENCODING,
    "content-type": CONTENT_TYPE,
    headers: {
      lang: "py", // Celery's name for protocol v2; the worker only reads it for compatibility
      task,
      id,
      shadow: null,
      eta: null,
      expires: null,
      group: null,
      group_index: null,
      retries: 0,
      timelimit: [null, null],
      root_id: id,
      parent_id: null,
      argsrepr: "()",
      kwargsrepr: "{...}", // payloads may hold user text; keep it out of worker logs
      origin,
      ignore_result: ignoreResult,
      replaced_task_nesting: 0,
      stamped_headers: null,
      stamps: {},
    },
    properties: {
      correlation_id: id,
      delivery_mode: 2,
      delivery_info: { exchange: "", routing_key: queue },
      priority: 0,
      body_encoding: "base64",
      delivery_tag: randomUUID(),
    },
  };
  return b64(JSON.stringify(message));
}

/**
 * Read a charla/Celery SQS message body: what a worker would run.
 * @param {string} messageBody
 * @returns {{task: string, task_id: string, queue: string, args: any[], kwargs: object, content_type: string, retries: number, ignore_result: boolean}}
 */
export function decodeTaskMessage(messageBody) {
  const message = JSON.parse(Buffer.from(messageBody, "base64").toString("utf8"));
  const contentType = message["content-type"];
  if (contentType !== CONTENT_TYPE) {
    throw new Error(`content type ${JSON.stringify(contentType)} is not ${CONTENT_TYPE}`);
  }
  let raw = message.body;
  if (message.properties?.body_encoding === "base64") {
    raw = Buffer.from(raw, "base64").toString("utf8");
  }
  const [args, kwargs] = JSON.parse(raw);
  const headers = message.headers;
  return {
    task: headers.task,
    task_id: headers.id,
    queue: message.properties.delivery_info.routing_key,
    args,
    kwargs,
    content_type: contentType,
    retries: Number(headers.retries ?? 0),
    ignore_result: headers.ignore_result ?? true,
  };
}
