// A production-mode app (isDev false): the SDK takes INNGEST_SIGNING_KEY, INNGEST_SIGNING_KEY_FALLBACK,
// INNGEST_EVENT_KEY and INNGEST_BASE_URL from the environment, as it would against Inngest Cloud, and so
// refuses every request `durin serve` did not sign, authenticates its own calls with its bearer token and
// sends events with its event key. Served with inngest/node on http://127.0.0.1:$PORT/api/inngest.

import http from "node:http";
import { Inngest } from "inngest";
import { serve } from "inngest/node";

const port = Number(process.env.PORT);
const appId = process.env.COMPAT_APP_ID || "compat-ts-prod";
if (!port || !process.env.INNGEST_SIGNING_KEY || !process.env.INNGEST_BASE_URL) {
  console.error("PORT, INNGEST_SIGNING_KEY and INNGEST_BASE_URL must be set");
  process.exit(2);
}

const client = new Inngest({ id: appId, isDev: false });

const twoSteps = client.createFunction(
  { id: "two-steps", retries: 0, triggers: [{ event: "prod/two-steps" }] },
  async ({ event, step }) => {
    const a = await step.run("a", () => 1);
    const b = await step.run("b", () => 2);
    return { sum: a + b, from: event.data.from ?? null };
  },
);

// step.sendEvent goes to /e/<INNGEST_EVENT_KEY>.
const relay = client.createFunction(
  { id: "relay", retries: 0, triggers: [{ event: "prod/relay" }] },
  async ({ step }) => {
    await step.sendEvent("send", { name: "prod/two-steps", data: { from: "relay" } });
    return "relayed";
  },
);

http
  .createServer(serve({ client, functions: [twoSteps, relay], servePath: "/api/inngest" }))
  .listen(port, "127.0.0.1", () => console.log(`${appId} serving on ${port}`));
