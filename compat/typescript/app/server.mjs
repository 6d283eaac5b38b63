// One process, three Inngest apps (three clients), each synced by `durin dev -u <url>`:
//
//   compat-ts-node     inngest/node on node:http   http://127.0.0.1:$NODE_PORT/api/inngest
//                      (the four documentation functions, the protocol coverage functions and the
//                      functions that wait: waitForEvent and invoke)
//   compat-ts-express  inngest/express             http://127.0.0.1:$EXPRESS_PORT/api/inngest
//                      (the four documentation functions)
//   compat-ts-slow     inngest/node on node:http   http://127.0.0.1:$NODE_PORT/slow/inngest
//                      (retries.md example 7; registers with the engine at $DURIN_SLOW_URL, which runs
//                      the real default backoff table; only when that variable is set)
//   compat-ts-timeout  inngest/node on node:http   http://127.0.0.1:$NODE_PORT/timeout/inngest
//                      (a request that outlives the engine's request timeout; registers with the engine
//                      at $DURIN_TIMEOUT_URL, which runs --request-timeout 2)
//
// The main engine is found the SDK's usual way, INNGEST_DEV=http://127.0.0.1:<port>. The node:http server
// also serves what the app observed: /_compat/records?token=..., /_compat/wire?runId=...,
// /_compat/checkpoints?runId=... (the node and Express clients get a pass-through `fetch` that records the
// SDK's checkpoint POSTs to the engine).

import http from "node:http";
import { Readable } from "node:stream";
import express from "express";
import { Inngest } from "inngest";
import { serve as serveNode } from "inngest/node";
import { serve as serveExpress } from "inngest/express";
import {
  docFunctions,
  protocolFunctions,
  waitFunctions,
  defaultScheduleFunctions,
  timeoutFunctions,
  policyFunctions,
} from "./functions.mjs";
import { recordingFetch, serveControl, watchResponse } from "./recorder.mjs";

const nodePort = Number(process.env.NODE_PORT);
const expressPort = Number(process.env.EXPRESS_PORT);
const slowUrl = process.env.DURIN_SLOW_URL;
const timeoutUrl = process.env.DURIN_TIMEOUT_URL;
const policiesUrl = process.env.DURIN_POLICIES_URL;
if (!process.env.INNGEST_DEV || !nodePort || !expressPort || !timeoutUrl || !policiesUrl) {
  console.error("INNGEST_DEV, NODE_PORT, EXPRESS_PORT, DURIN_TIMEOUT_URL and DURIN_POLICIES_URL must be set");
  process.exit(2);
}

const nodeClient = new Inngest({ id: "compat-ts-node", fetch: recordingFetch("node") });
const expressClient = new Inngest({ id: "compat-ts-express", fetch: recordingFetch("express") });

const nodeHandler = serveNode({
  client: nodeClient,
  functions: [
    ...docFunctions(nodeClient, "node"),
    ...protocolFunctions(nodeClient, "node"),
    ...waitFunctions(nodeClient, "node"),
  ],
});

/**
 * Reads a call request's body first (so the wire entry can show the memos Durin sent), and hands the SDK a
 * stand-in request that replays it: inngest/node reads a body with `req.on("data" | "end")` and looks at
 * `headers`, `method`, `url` and `socket` only.
 */
async function replayable(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const replay = Readable.from(body.length > 0 ? [body] : [], { objectMode: false });
  for (const key of ["headers", "rawHeaders", "method", "url", "httpVersion", "socket"]) replay[key] = req[key];
  return { replay, body: body.toString("utf8") };
}

let slowHandler = null;
if (slowUrl) {
  // The client option wins over INNGEST_DEV, so this app registers with the second engine.
  const slowClient = new Inngest({ id: "compat-ts-slow", baseUrl: slowUrl, isDev: true });
  slowHandler = serveNode({
    client: slowClient,
    functions: defaultScheduleFunctions(slowClient, "slow"),
  });
}

const timeoutClient = new Inngest({
  id: "compat-ts-timeout",
  baseUrl: timeoutUrl,
  isDev: true,
  fetch: recordingFetch("timeout"),
});
const timeoutHandler = serveNode({
  client: timeoutClient,
  functions: timeoutFunctions(timeoutClient, "timeout"),
});

const policiesClient = new Inngest({
  id: "compat-ts-policies",
  baseUrl: policiesUrl,
  isDev: true,
  fetch: recordingFetch("policies"),
});
const policiesHandler = serveNode({
  client: policiesClient,
  functions: policyFunctions(policiesClient, "policies"),
});

const nodeServer = http.createServer((req, res) => {
  if (serveControl(req, res)) return;
  if (req.url.startsWith("/api/inngest")) {
    if (req.method !== "POST") return nodeHandler(req, res);
    return replayable(req).then(
      ({ replay, body }) => {
        watchResponse("node", req, res, body);
        return nodeHandler(replay, res);
      },
      (err) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`could not read the request: ${err?.message ?? err}`);
      },
    );
  }
  if (req.url.startsWith("/policies/inngest")) {
    watchResponse("policies", req, res);
    return policiesHandler(req, res);
  }
  if (req.url.startsWith("/timeout/inngest")) {
    watchResponse("timeout", req, res);
    return timeoutHandler(req, res);
  }
  if (slowHandler && req.url.startsWith("/slow/inngest")) {
    watchResponse("slow", req, res);
    return slowHandler(req, res);
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found");
});

const expressApp = express();
expressApp.use(express.json({ limit: "10mb" }));
expressApp.use(
  "/api/inngest",
  (req, res, next) => {
    watchResponse("express", req, res);
    next();
  },
  serveExpress({
    client: expressClient,
    functions: docFunctions(expressClient, "express"),
  }),
);

const listen = (server, port) =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });

const expressServer = http.createServer(expressApp);
await Promise.all([listen(nodeServer, nodePort), listen(expressServer, expressPort)]);
console.log(
  `READY ${JSON.stringify({
    node: `http://127.0.0.1:${nodePort}/api/inngest`,
    express: `http://127.0.0.1:${expressPort}/api/inngest`,
    slow: slowHandler ? `http://127.0.0.1:${nodePort}/slow/inngest` : null,
    timeout: `http://127.0.0.1:${nodePort}/timeout/inngest`,
  })}`,
);

const stop = () => {
  nodeServer.close();
  expressServer.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
