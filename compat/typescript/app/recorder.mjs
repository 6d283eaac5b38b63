// What the app observed, kept in memory and served to the tests as JSON.
//
// - `records`: one entry each time user code runs a recorded point (a step callback, a function body, a
//   catch block, an onFailure handler), with the `attempt` the SDK handed to the handler and a timestamp.
// - `wire`: one entry per call request the SDK answered (status, no-retry and retry-after headers, the ops
//   of a 206), captured around the SDK's own serve handler, keyed by the run id Durin sent.
// - `checkpoints`: one entry per `POST /v1/checkpoint/{runId}/async` the SDK sent to the engine (TS
//   checkpointing, when the call request carries `ctx.fn_id`): its body's ids and steps, and the engine's
//   answer. Captured through the client's documented `fetch` option, which the SDK uses for every call to
//   the engine's API; the request goes out unchanged.

const records = [];
const wire = [];
const checkpoints = [];

export function record(entry) {
  records.push({ t: Date.now(), ...entry });
}

export function recordsFor(token) {
  return records.filter((r) => r.token === token);
}

export function wireFor(runId) {
  return wire.filter((w) => w.runId === runId);
}

export function checkpointsFor(runId) {
  return checkpoints.filter((c) => c.runId === runId);
}

/** The fields of an op the tests look at; `data` is kept only when the op has that key at all. */
function summarizeOps(ops) {
  return ops.map((op) => ({
    op: op.op,
    id: op.id,
    name: op.name,
    displayName: op.displayName,
    userland: op.userland,
    error: op.error ? { name: op.error.name, message: op.error.message } : undefined,
    ...("opts" in op ? { opts: op.opts } : {}),
    ...("data" in op ? { data: op.data } : {}),
  }));
}

/** A 206's body is a list of ops; any other answer's body is kept as it is (a 200's is the run output). */
function summarizeBody(status, text) {
  try {
    const body = JSON.parse(text);
    if (status === 206 && Array.isArray(body)) return { ops: summarizeOps(body) };
    return { body };
  } catch {
    return { text: text.slice(0, 2000) };
  }
}

/**
 * A `fetch` for `new Inngest({ fetch })`: passes every request through unchanged and records the async
 * checkpoints (`POST .../v1/checkpoint/{runId}/async`) with the engine's answer.
 */
export function recordingFetch(app, inner = globalThis.fetch.bind(globalThis)) {
  return async (input, init) => {
    const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const match = /\/v1\/checkpoint\/([^/]+)\/async$/.exec(new URL(href).pathname);
    if (!match) return inner(input, init);
    const entry = { app, t: Date.now(), runId: decodeURIComponent(match[1]) };
    try {
      const body = JSON.parse(init?.body ?? "null");
      Object.assign(entry, {
        bodyRunId: body?.run_id ?? null,
        fnId: body?.fn_id ?? null,
        qiId: body?.qi_id ?? null,
        requestId: body?.request_id ?? null,
        generationId: body?.generation_id ?? null,
        steps: Array.isArray(body?.steps) ? summarizeOps(body.steps) : null,
      });
    } catch {
      entry.unreadableBody = String(init?.body).slice(0, 2000);
    }
    try {
      const res = await inner(input, init);
      entry.status = res.status;
      if (!res.ok) entry.answer = (await res.clone().text()).slice(0, 2000);
      return res;
    } catch (err) {
      entry.status = null;
      entry.answer = `fetch failed: ${err?.message ?? err}`;
      throw err;
    } finally {
      checkpoints.push(entry);
    }
  };
}

/**
 * Watches the response `res` to the call request `req` and appends one wire entry when it is sent.
 * Works for a bare node:http response and for an Express response (which extends it). `requestBody`, when
 * given (the node:http app reads it first, see server.mjs), adds the memos the call carried: `steps`, the
 * request's map of hashed step id to memo.
 */
export function watchResponse(app, req, res, requestBody) {
  if (req.method !== "POST") return;
  const url = new URL(req.url ?? "/", "http://app.invalid");
  const chunks = [];
  const origWrite = res.write;
  const origEnd = res.end;
  const origWriteHead = res.writeHead;
  // Headers handed straight to writeHead (as inngest/node does) never reach getHeader(): keep them.
  const headHeaders = {};
  res.writeHead = function (status, ...rest) {
    const headers = rest.find((a) => a && typeof a === "object");
    if (headers && !Array.isArray(headers)) {
      for (const [k, v] of Object.entries(headers)) headHeaders[k.toLowerCase()] = v;
    }
    return origWriteHead.call(this, status, ...rest);
  };
  res.write = function (chunk, ...rest) {
    if (chunk && typeof chunk !== "function") chunks.push(Buffer.from(chunk));
    return origWrite.call(this, chunk, ...rest);
  };
  const started = Date.now();
  // The entry is added when the SDK ends the response, before its bytes can reach the engine, so a test
  // that saw the engine record an attempt always finds the matching wire entry.
  res.end = function (chunk, ...rest) {
    if (chunk && typeof chunk !== "function") chunks.push(Buffer.from(chunk));
    pushEntry();
    return origEnd.call(this, chunk, ...rest);
  };
  let pushed = false;
  const pushEntry = () => {
    if (pushed) return;
    pushed = true;
    const header = (name) => {
      const v = headHeaders[name] ?? res.getHeader(name);
      return v === undefined || v === null ? null : String(v);
    };
    wire.push({
      app,
      t: started,
      runId: req.headers["x-run-id"] ?? null,
      fnId: url.searchParams.get("fnId"),
      stepId: url.searchParams.get("stepId"),
      status: res.statusCode,
      noRetry: header("x-inngest-no-retry"),
      retryAfter: header("retry-after"),
      sdk: header("x-inngest-sdk"),
      ...(requestBody === undefined ? {} : { steps: requestSteps(requestBody) }),
      ...summarizeBody(res.statusCode, Buffer.concat(chunks).toString("utf8")),
    });
  };
}

/** The `steps` of a call request's body (hashed step id -> memo), or null when it has none. */
function requestSteps(text) {
  try {
    return JSON.parse(text)?.steps ?? null;
  } catch {
    return null;
  }
}

/**
 * Serves `/_compat/records?token=`, `/_compat/wire?runId=` and `/_compat/checkpoints?runId=`; returns false
 * for any other path.
 */
export function serveControl(req, res) {
  const url = new URL(req.url ?? "/", "http://app.invalid");
  let data;
  if (url.pathname === "/_compat/records") data = recordsFor(url.searchParams.get("token"));
  else if (url.pathname === "/_compat/wire") data = wireFor(url.searchParams.get("runId"));
  else if (url.pathname === "/_compat/checkpoints") data = checkpointsFor(url.searchParams.get("runId"));
  else return false;
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(data));
  return true;
}
