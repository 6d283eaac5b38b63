"""An app that knows nothing of Durin's retry policies: its functions keep the SDK's defaults, and the test
configures per-step retries and backoffs on Durin's side only (`durin dev --retry-policies`).

Run: INNGEST_DEV=1 INNGEST_BASE_URL=... COMPAT_PORT=... python -m apps.policy_app
"""

from __future__ import annotations

import logging
import os
import typing

import flask
import inngest
import inngest.flask
from werkzeug.serving import make_server

PORT = int(os.environ["COMPAT_PORT"])

client = inngest.Inngest(app_id="compat-py-policies", logger=logging.getLogger("compat-py-policies"))


@client.create_function(fn_id="charge", retries=4, trigger=inngest.TriggerEvent(event="policy/charge"))
def charge(ctx: inngest.ContextSync) -> typing.Any:
    def call_bank() -> None:
        raise RuntimeError("the bank is down")

    def ledger() -> str:
        if ctx.attempt < 3:
            raise RuntimeError("the ledger is locked")
        return "written"

    caught = False
    try:
        ctx.step.run("call-bank", call_bank)
    except inngest.StepError:
        caught = True
    written = ctx.step.run("ledger", ledger)
    return {"caught": caught, "ledger": written}


@client.create_function(fn_id="sync", retries=4, trigger=inngest.TriggerEvent(event="policy/sync"))
def sync(ctx: inngest.ContextSync) -> typing.Any:
    raise RuntimeError("the remote is down")


app = flask.Flask(__name__)
inngest.flask.serve(app, client, [charge, sync])

if __name__ == "__main__":
    make_server("127.0.0.1", PORT, app, threaded=True).serve_forever()
