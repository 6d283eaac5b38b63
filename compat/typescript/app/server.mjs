// One process, three Inngest apps (three clients), each synced by `durin dev -u <url>`:
//
//   compat-ts-node     inngest/node on node:http   http://127.0.0.1:$NODE_PORT/api/inngest
//                      (the four documentation functions + the protocol coverage functions)
//   compat-ts-express  inngest/express             http://127.0.0.1:$EXPRESS_PORT/api/inngest
//                      (the four documentation functions)
//   compat-ts-slow     inngest/node on node:http   http://127.0.0.1:$NODE_PORT/slow/inngest
//                      (retries.md example 7; registers with the engine at $DURIN_SLOW_URL, which runs
//                      the real default backoff table; only when that variable is set)
//
// The main engine is found the SDK's usual way, INNGEST_DEV=http://127.0.0.1:<port>. The node:http server
// also serves what the app observed: /_compat/records?token=..., /_compat/wire?runId=...

import http from "node:http";
import express from "express";
import { Inngest } from "inngest";
import { serve as serveNode } from "inngest/node";
import { serve as serveExpress } from "inngest/express";
import { docFunctions, protocolFunctions, defaultScheduleFunctions } from "./functions.mjs";
import { serveControl, watchResponse } from "./recorder.mjs";

const nodePort = Number(process.env.NODE_PORT);
const expressPort = Number(process.env.EXPRESS_PORT);
const slowUrl = process.env.DURIN_SLOW_URL;
if (!process.env.INNGEST_DEV || !nodePort || !expressPort) {
  console.error("INNGEST_DEV, NODE_PORT and EXPRESS_PORT must be set");
  process.exit(2);
}

const nodeClient = new Inngest({ id: "compat-ts-node" });
const expressClient = new Inngest({ id: "compat-ts-express" });

const nodeHandler = serveNode({
  client: nodeClient,
  functions: [...docFunctions(nodeClient, "node"), ...protocolFunctions(nodeClient, "node")],
});

let slowHandler = null;
if (slowUrl) {
  // The client option wins over INNGEST_DEV, so this app registers with the second engine.
  const slowClient = new Inngest({ id: "compat-ts-slow", baseUrl: slowUrl, isDev: true });
  slowHandler = serveNode({
    client: slowClient,
    functions: defaultScheduleFunctions(slowClient, "slow"),
  });
}

const nodeServer = http.createServer((req, res) => {
  if (serveControl(req, res)) return;
  if (req.url.startsWith("/api/inngest")) {
    watchResponse("node", req, res);
    return nodeHandler(req, res);
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
  })}`,
);

const stop = () => {
  nodeServer.close();
  expressServer.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
