"""A production-mode app: the SDK takes INNGEST_SIGNING_KEY, INNGEST_SIGNING_KEY_FALLBACK, INNGEST_EVENT_KEY
and INNGEST_BASE_URL from the environment (with INNGEST_DEV=0), as it would against Inngest Cloud, so it
refuses every request `durin serve` did not sign, authenticates its calls with its bearer token and sends
events with its event key.

Run: INNGEST_DEV=0 INNGEST_BASE_URL=... INNGEST_SIGNING_KEY=... INNGEST_EVENT_KEY=... COMPAT_APP_ID=...
     COMPAT_PORT=... python -m apps.production_app
"""

from __future__ import annotations

import logging
import os
import typing

import flask
import inngest
import inngest.flask
from werkzeug.serving import make_server

APP_ID = os.environ.get("COMPAT_APP_ID", "compat-py-prod")
PORT = int(os.environ["COMPAT_PORT"])

client = inngest.Inngest(app_id=APP_ID, logger=logging.getLogger(APP_ID))


@client.create_function(fn_id="two-steps", retries=0, trigger=inngest.TriggerEvent(event="prod/two-steps"))
def two_steps(ctx: inngest.ContextSync) -> typing.Any:
    a = ctx.step.run("a", lambda: 1)
    b = ctx.step.run("b", lambda: 2)
    return {"sum": a + b, "from": ctx.event.data.get("from")}


@client.create_function(fn_id="relay", retries=0, trigger=inngest.TriggerEvent(event="prod/relay"))
def relay(ctx: inngest.ContextSync) -> typing.Any:
    # step.send_event posts to /e/<INNGEST_EVENT_KEY>.
    ctx.step.send_event("send", inngest.Event(name="prod/two-steps", data={"from": "relay"}))
    return "relayed"


app = flask.Flask(__name__)
inngest.flask.serve(app, client, [two_steps, relay])

if __name__ == "__main__":
    make_server("127.0.0.1", PORT, app, threaded=True).serve_forever()
