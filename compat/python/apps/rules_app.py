"""An app on the official Python SDK whose code knows nothing of Durin's retry rules, cool-downs or pauses:
ordinary SDK code that raises ordinary exceptions (and `inngest.RetryAfterError`). The test configures
everything on Durin's side (`durin dev --retry-policies`, issue 8 features 3-5).

- `rules`: step `fetch` raises, on attempt n, the n-th error of `event.data.plan` (`[name, message]`, one of
  the classes below) and succeeds once the plan is spent; the body catches the step's final error.
- `cool-wide`, `cool-tight`: step `limited` raises `RetryAfterError` (1 s) while `ctx.attempt <
  event.data.times`.
- `pause`: step `flaky` fails until the file `event.data.flag` exists.

Every step call is recorded (`ctx.attempt`, time) under `event.data.key`, and so is every call request's
`ctx.attempt` and `ctx.max_attempts` with the SDK's answer (status and ops); the test reads them at
`GET /compat/records?key=...` and `GET /compat/wire?key=...`.

Run: INNGEST_DEV=1 INNGEST_BASE_URL=... COMPAT_PORT=... python -m apps.rules_app
"""

from __future__ import annotations

import json
import logging
import os
import typing

import flask
import inngest
import inngest.flask
from werkzeug.serving import make_server

from apps.common import Recorder

PORT = int(os.environ["COMPAT_PORT"])

client = inngest.Inngest(app_id="compat-py-rules", logger=logging.getLogger("compat-py-rules"))
RECORDS = Recorder()
WIRE = Recorder()


class GatewayTimeout(Exception):
    """An upstream timed out: the SDK reports the error's `name` as the class name, `GatewayTimeout`."""


class RateLimited(Exception):
    pass


class ValidationError(Exception):
    pass


ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls for cls in (GatewayTimeout, RateLimited, ValidationError, RuntimeError)
}


def _record(ctx: inngest.ContextSync, fn: str, step: str, **fields: typing.Any) -> None:
    RECORDS.add(
        str(ctx.event.data.get("key")),
        fn,
        step,
        attempt=ctx.attempt,
        run_id=ctx.run_id,
        **fields,
    )


@client.create_function(fn_id="rules", retries=4, trigger=inngest.TriggerEvent(event="rules/run"))
def rules(ctx: inngest.ContextSync) -> typing.Any:
    plan = typing.cast(list, ctx.event.data["plan"])

    def fetch() -> dict:
        _record(ctx, "rules", "fetch")
        if ctx.attempt < len(plan):
            name, message = plan[ctx.attempt]
            raise ERRORS[name](message)
        return {"fetched_at_attempt": ctx.attempt}

    try:
        return {"fetch": ctx.step.run("fetch", fetch)}
    except inngest.StepError as err:
        return {"caught": {"name": err.name, "message": err.message}}


def _limited(ctx: inngest.ContextSync, fn: str) -> typing.Any:
    def limited() -> dict:
        _record(ctx, fn, "limited")
        if ctx.attempt < int(ctx.event.data["times"]):
            raise inngest.RetryAfterError("the API says slow down", 1000)
        return {"done_at_attempt": ctx.attempt}

    return ctx.step.run("limited", limited)


@client.create_function(fn_id="cool-wide", retries=4, trigger=inngest.TriggerEvent(event="rules/cool-wide"))
def cool_wide(ctx: inngest.ContextSync) -> typing.Any:
    return _limited(ctx, "cool-wide")


@client.create_function(fn_id="cool-tight", retries=4, trigger=inngest.TriggerEvent(event="rules/cool-tight"))
def cool_tight(ctx: inngest.ContextSync) -> typing.Any:
    return _limited(ctx, "cool-tight")


@client.create_function(fn_id="pause", retries=4, trigger=inngest.TriggerEvent(event="rules/pause"))
def pause(ctx: inngest.ContextSync) -> typing.Any:
    def flaky() -> str:
        _record(ctx, "pause", "flaky")
        if not os.path.exists(str(ctx.event.data["flag"])):
            raise RuntimeError("the flag is down")
        return "up"

    return {"flaky": ctx.step.run("flaky", flaky)}


FUNCTIONS = [rules, cool_wide, cool_tight, pause]

app = flask.Flask(__name__)
inngest.flask.serve(app, client, FUNCTIONS)


@app.after_request
def record_wire(response: flask.Response) -> flask.Response:
    if flask.request.method != "POST" or not flask.request.path.startswith("/api/inngest"):
        return response
    try:
        request = json.loads(flask.request.get_data())
        key = str(request["event"]["data"]["key"])
        answer = json.loads(response.get_data()) if response.status_code == 206 else None
        WIRE.add(
            key,
            flask.request.args.get("fnId", ""),
            "-",
            attempt=request["ctx"].get("attempt"),
            max_attempts=request["ctx"].get("max_attempts"),
            status=response.status_code,
            ops=[(op.get("op"), op.get("displayName")) for op in answer] if isinstance(answer, list) else None,
        )
    except (ValueError, KeyError, TypeError):
        pass
    return response


@app.get("/compat/wire")
def wire() -> typing.Any:
    return flask.jsonify(WIRE.get(flask.request.args.get("key", "")))


@app.get("/compat/records")
def records() -> typing.Any:
    return flask.jsonify(RECORDS.get(flask.request.args.get("key", "")))


if __name__ == "__main__":
    make_server("127.0.0.1", PORT, app, threaded=True).serve_forever()
