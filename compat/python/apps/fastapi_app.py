"""The functions under test, written with the SDK's async API (`async def`, `await ctx.step...`) and served
by FastAPI under uvicorn. Same ids, triggers and behaviour as `apps.flask_app`.

Run: INNGEST_DEV=http://127.0.0.1:<engine port> COMPAT_APP_ID=... \
     python -m uvicorn apps.fastapi_app:app --host 127.0.0.1 --port <port>
"""

from __future__ import annotations

import asyncio
import datetime
import time
import typing
import urllib.parse

import fastapi
import inngest
import inngest.fast_api

from apps.common import APP_ID, APPROVAL_EVENT, APPROVAL_IF, FRAMEWORK, LOGGER, RECORDER, WIRE, UserNotFoundError, fails, record_wire

client = inngest.Inngest(app_id=APP_ID, logger=LOGGER)


def _data(ctx: inngest.Context) -> typing.Mapping[str, typing.Any]:
    return ctx.event.data


# ---------------------------------------------------------------------------------------------------
# The four functions of the retry documentation
# ---------------------------------------------------------------------------------------------------


@client.create_function(
    fn_id="click-recorder",
    trigger=inngest.TriggerEvent(event="app/button.clicked"),
)
async def record_click(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    RECORDER.add(d["key"], "click-recorder", "body", attempt=ctx.attempt, run_id=ctx.run_id)
    await asyncio.sleep(0)  # a real await in the body, as an async db driver would have
    if fails(d, "fail_times", ctx.attempt):
        raise RuntimeError(f"db.clicks.insert_one failed on attempt {ctx.attempt}")
    return {"inserted": d.get("button"), "attempt": ctx.attempt}


@client.create_function(
    fn_id="sync-systems",
    trigger=inngest.TriggerEvent(event="auto/sync.request"),
)
async def sync_systems(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]

    async def get_data_from_external_source() -> dict:
        RECORDER.add(key, "sync-systems", "get-data", attempt=ctx.attempt)
        if fails(d, "get_fails", ctx.attempt):
            raise ConnectionError(f"external source unavailable (attempt {ctx.attempt})")
        return {"rows": [1, 2, 3]}

    # Can be retried up to 4 times
    data = await ctx.step.run("get-data", get_data_from_external_source)

    async def insert_one(rows: dict) -> dict:
        RECORDER.add(key, "sync-systems", "save-data", attempt=ctx.attempt)
        if fails(d, "save_fails", ctx.attempt):
            raise ConnectionError(f"db.syncs.insert_one failed (attempt {ctx.attempt})")
        return {"saved": len(rows["rows"])}

    # Can also be retried up to 4 times
    saved = await ctx.step.run("save-data", insert_one, data)
    return {"data": data, "saved": saved}


@client.create_function(
    fn_id="user-weekly-digest",
    trigger=inngest.TriggerEvent(event="user/weekly.digest.requested"),
)
async def user_weekly_digest(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]

    async def find_one(user_id: str) -> dict:
        RECORDER.add(key, "user-weekly-digest", "get-user-email", attempt=ctx.attempt)
        if d.get("mode") == "non_retriable_in_step":
            raise inngest.NonRetriableError(f"user {user_id} was deleted; do not retry")
        raise UserNotFoundError(f"user {user_id} not found")

    try:
        user = await ctx.step.run("get-user-email", find_one, d["userId"])
    except Exception as err:
        if getattr(err, "name", None) == "UserNotFoundError":
            RECORDER.add(key, "user-weekly-digest", "caught", name=err.name, message=str(err))
            raise inngest.NonRetriableError("User no longer exists; stopping")
        raise

    async def send_digest(email: str) -> str:
        RECORDER.add(key, "user-weekly-digest", "send-digest", attempt=ctx.attempt)
        return f"sent to {email}"

    return await ctx.step.run("send-digest", send_digest, user["email"])


@client.create_function(
    fn_id="send-welcome-notification",
    trigger=inngest.TriggerEvent(event="app/user.created"),
)
async def send_welcome_notification(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]

    async def send_message() -> dict:
        RECORDER.add(key, "send-welcome-notification", "send-notification", attempt=ctx.attempt)
        if fails(d, "rate_limited_times", ctx.attempt):
            raise inngest.RetryAfterError(
                "Hit Twilio rate limit", datetime.timedelta(seconds=d.get("retry_after_s", 3))
            )
        return {"message": "Welcome to our service!", "to": d["user"]["phoneNumber"]}

    return await ctx.step.run("send-notification", send_message)


# ---------------------------------------------------------------------------------------------------
# retries.md worked example 6 and error handling outside steps
# ---------------------------------------------------------------------------------------------------


@client.create_function(
    fn_id="retries-zero",
    retries=0,
    trigger=inngest.TriggerEvent(event="compat/retries.zero"),
)
async def retries_zero(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]
    mode = d["mode"]  # "uncaught" | "caught" | "retry_after"

    async def flaky() -> str:
        RECORDER.add(key, "retries-zero", "flaky", attempt=ctx.attempt)
        if mode == "retry_after":
            raise inngest.RetryAfterError("come back in 3 s", 3000)
        raise RuntimeError("flaky step failed")

    try:
        await ctx.step.run("flaky", flaky)
    except inngest.StepError as err:
        if mode != "caught":
            raise
        RECORDER.add(key, "retries-zero", "caught", name=err.name, message=err.message)

    async def after() -> str:
        RECORDER.add(key, "retries-zero", "after", attempt=ctx.attempt)
        return "went on"

    return {"after": await ctx.step.run("after", after)}


@client.create_function(
    fn_id="body-errors",
    trigger=inngest.TriggerEvent(event="compat/body.errors"),
)
async def body_errors(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]
    mode = d["mode"]  # "non_retriable" | "retry_after"

    async def prepare() -> str:
        RECORDER.add(key, "body-errors", "prepare", attempt=ctx.attempt)
        return "prepared"

    prepared = await ctx.step.run("prepare", prepare)
    RECORDER.add(key, "body-errors", "body", attempt=ctx.attempt)
    if mode == "non_retriable":
        raise inngest.NonRetriableError("body gave up for good")
    if mode == "retry_after" and ctx.attempt == 0:
        raise inngest.RetryAfterError("body rate limited", 3000)
    return {"prepared": prepared, "attempt": ctx.attempt}


# ---------------------------------------------------------------------------------------------------
# Protocol coverage
# ---------------------------------------------------------------------------------------------------


@client.create_function(
    fn_id="sequence",
    trigger=inngest.TriggerEvent(event="compat/steps.sequence"),
)
async def sequence(ctx: inngest.Context) -> typing.Any:
    key = _data(ctx)["key"]

    async def step(name: str, value: int) -> int:
        RECORDER.add(key, "sequence", name, attempt=ctx.attempt)
        return value

    a = await ctx.step.run("a", step, "a", 1)
    b = await ctx.step.run("b", step, "b", a + 1)
    c = await ctx.step.run("c", step, "c", a + b)
    return {"a": a, "b": b, "c": c}


@client.create_function(
    fn_id="parallel",
    trigger=inngest.TriggerEvent(event="compat/steps.parallel"),
)
async def parallel(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]

    async def part(i: int) -> dict:
        RECORDER.add(key, "parallel", f"part-{i}", attempt=ctx.attempt)
        if i == d.get("flaky_part") and ctx.attempt == 0:
            raise RuntimeError(f"part {i} failed once")
        return {"i": i, "square": i * i}

    parts = await ctx.group.parallel(
        tuple((lambda i=i: ctx.step.run(f"part-{i}", part, i)) for i in range(3))
    )

    async def combine() -> int:
        RECORDER.add(key, "parallel", "combine", attempt=ctx.attempt)
        return sum(p["square"] for p in parts)

    return {"parts": list(parts), "total": await ctx.step.run("combine", combine)}


@client.create_function(
    fn_id="sleepy",
    trigger=inngest.TriggerEvent(event="compat/steps.sleep"),
)
async def sleepy(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]

    async def mark(name: str) -> float:
        RECORDER.add(key, "sleepy", name, attempt=ctx.attempt)
        return time.time()

    async def pick_until() -> float:
        return time.time() + d.get("until_s", 1)

    before = await ctx.step.run("before", mark, "before")
    await ctx.step.sleep("nap", datetime.timedelta(seconds=d.get("sleep_s", 1)))
    after_sleep = await ctx.step.run("after-sleep", mark, "after-sleep")
    until = await ctx.step.run("pick-until", pick_until)
    await ctx.step.sleep_until(
        "until", datetime.datetime.fromtimestamp(until, tz=datetime.timezone.utc)
    )
    after_until = await ctx.step.run("after-until", mark, "after-until")
    return {"before": before, "after_sleep": after_sleep, "until": until, "after_until": after_until}


@client.create_function(
    fn_id="loop",
    trigger=inngest.TriggerEvent(event="compat/steps.loop"),
)
async def loop(ctx: inngest.Context) -> typing.Any:
    key = _data(ctx)["key"]

    async def same(i: int) -> int:
        RECORDER.add(key, "loop", "same", index=i, attempt=ctx.attempt)
        return i * 10

    return [await ctx.step.run("same", same, i) for i in range(3)]


@client.create_function(
    fn_id="relay",
    trigger=inngest.TriggerEvent(event="compat/relay.start"),
)
async def relay(ctx: inngest.Context) -> typing.Any:
    key = _data(ctx)["key"]
    name = f"compat/relay.received.{FRAMEWORK}"
    step_ids = await ctx.step.send_event(
        "send", inngest.Event(name=name, data={"key": key, "via": "step.send_event"})
    )

    async def client_send() -> list[str]:
        return await client.send(inngest.Event(name=name, data={"key": key, "via": "client.send"}))

    client_ids = await ctx.step.run("client-send", client_send)
    return {"step_send_event_ids": step_ids, "client_send_ids": client_ids}


@client.create_function(
    fn_id="relay-receiver",
    trigger=inngest.TriggerEvent(event=f"compat/relay.received.{FRAMEWORK}"),
)
async def relay_receiver(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    RECORDER.add(d["key"], "relay-receiver", "received", via=d["via"], run_id=ctx.run_id)
    return {"received_via": d["via"]}


async def on_doomed_failure(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)  # the inngest/function.failed event
    original = d["event"]["data"]
    RECORDER.add(
        original["key"],
        "doomed-failure",
        "on_failure",
        attempt=ctx.attempt,
        trigger_name=ctx.event.name,
        error=d.get("error"),
        failed_run_id=d.get("run_id"),
        function_id=d.get("function_id"),
        run_id=ctx.run_id,
    )
    return {"handled": (d.get("error") or {}).get("message")}


@client.create_function(
    fn_id="doomed",
    retries=1,
    on_failure=on_doomed_failure,
    trigger=inngest.TriggerEvent(event="compat/doomed"),
)
async def doomed(ctx: inngest.Context) -> typing.Any:
    key = _data(ctx)["key"]
    RECORDER.add(key, "doomed", "body", attempt=ctx.attempt, run_id=ctx.run_id)
    raise ValueError(f"doomed to fail ({key})")


# ---------------------------------------------------------------------------------------------------
# Waits: step.wait_for_event and step.invoke
# ---------------------------------------------------------------------------------------------------


@client.create_function(
    fn_id="waiter",
    trigger=inngest.TriggerEvent(event="compat/wait.start"),
)
async def waiter(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]

    async def before_wait() -> float:
        RECORDER.add(key, "waiter", "before-wait", attempt=ctx.attempt, run_id=ctx.run_id)
        return time.time()

    waiting_since = await ctx.step.run("before-wait", before_wait)
    approval = await ctx.step.wait_for_event(
        "wait-approval",
        event=APPROVAL_EVENT,
        if_exp=APPROVAL_IF,
        timeout=datetime.timedelta(seconds=d["timeout_s"]),
    )

    async def after_wait() -> float:
        RECORDER.add(
            key,
            "waiter",
            "after-wait",
            attempt=ctx.attempt,
            approval_type=type(approval).__name__,
            approval=None if approval is None else approval.to_dict(),
        )
        return time.time()

    resumed_at = await ctx.step.run("after-wait", after_wait)
    return {
        "approval": None
        if approval is None
        else {"id": approval.id, "name": approval.name, "data": dict(approval.data)},
        "waited_s": resumed_at - waiting_since,
    }


@client.create_function(
    fn_id="invoked-add",
    trigger=inngest.TriggerEvent(event="compat/invoked.add"),
)
async def invoked_add(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    RECORDER.add(
        d["key"],
        "invoked-add",
        "body",
        attempt=ctx.attempt,
        run_id=ctx.run_id,
        event_id=ctx.event.id,
        event_name=ctx.event.name,
        meta=d.get("_inngest"),
    )
    await asyncio.sleep(0)
    return {"sum": d["a"] + d["b"], "by": "invoked-add"}


@client.create_function(
    fn_id="invoked-fails",
    retries=0,
    trigger=inngest.TriggerEvent(event="compat/invoked.fails"),
)
async def invoked_fails(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    RECORDER.add(
        d["key"], "invoked-fails", "body", attempt=ctx.attempt, run_id=ctx.run_id, event_id=ctx.event.id
    )
    await asyncio.sleep(0)
    raise ValueError(f"invoked function failed ({d['key']})")


@client.create_function(
    fn_id="invoked-slow",
    trigger=inngest.TriggerEvent(event="compat/invoked.slow"),
)
async def invoked_slow(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)

    async def started() -> float:
        RECORDER.add(d["key"], "invoked-slow", "started", run_id=ctx.run_id, event_id=ctx.event.id)
        return time.time()

    await ctx.step.run("started", started)
    await ctx.step.sleep("slow-nap", datetime.timedelta(seconds=d["sleep_s"]))
    return {"slept_s": d["sleep_s"]}


INVOKE_TARGETS = {"ok": invoked_add, "fail": invoked_fails, "timeout": invoked_slow}


@client.create_function(
    fn_id="invoker",
    trigger=inngest.TriggerEvent(event="compat/invoke.start"),
)
async def invoker(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]
    mode = d["mode"]  # "ok" | "fail" | "timeout"

    async def before_invoke() -> float:
        RECORDER.add(key, "invoker", "before-invoke", attempt=ctx.attempt, run_id=ctx.run_id)
        return time.time()

    invoked_since = await ctx.step.run("before-invoke", before_invoke)
    timeout = datetime.timedelta(seconds=d["timeout_s"]) if "timeout_s" in d else None
    result, error = None, None
    try:
        result = await ctx.step.invoke(
            "call",
            function=INVOKE_TARGETS[mode],
            data={"key": key, "a": 2, "b": 3, "sleep_s": d.get("sleep_s", 0)},
            timeout=timeout,
        )
    except inngest.StepError as err:
        error = {"type": type(err).__name__, "name": err.name, "message": err.message}

    async def after_invoke() -> float:
        RECORDER.add(key, "invoker", "after-invoke", attempt=ctx.attempt, result=result, error=error)
        return time.time()

    returned_at = await ctx.step.run("after-invoke", after_invoke)
    return {"result": result, "error": error, "waited_s": returned_at - invoked_since}



@client.create_function(
    fn_id="invoke-fanout",
    trigger=inngest.TriggerEvent(event="compat/invoke.fanout"),
)
async def invoke_fanout(ctx: inngest.Context) -> typing.Any:
    d = _data(ctx)
    key = d["key"]
    RECORDER.add(key, "invoke-fanout", "body", attempt=ctx.attempt)
    results = await ctx.group.parallel(
        (
            lambda: ctx.step.invoke(
                "fast", function=invoked_add, data={"key": key, "a": 1, "b": 2, "sleep_s": 0}
            ),
            lambda: ctx.step.invoke(
                "slow", function=invoked_slow, data={"key": key, "a": 0, "b": 0, "sleep_s": d["sleep_s"]}
            ),
        )
    )
    return {"results": list(results)}


FUNCTIONS = [
    record_click,
    sync_systems,
    user_weekly_digest,
    send_welcome_notification,
    retries_zero,
    body_errors,
    sequence,
    parallel,
    sleepy,
    loop,
    relay,
    relay_receiver,
    doomed,
    waiter,
    invoker,
    invoked_add,
    invoked_fails,
    invoked_slow,
    invoke_fanout,
]

class WireCapture:
    """Pure ASGI middleware: copies each call request to /api/inngest and the SDK's answer."""

    def __init__(self, app: typing.Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: typing.Any, send: typing.Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/api/inngest":
            await self.app(scope, receive, send)
            return
        started = time.time()
        request_chunks: list[bytes] = []
        response: dict[str, typing.Any] = {"status": 0, "headers": {}, "body": b""}

        async def receive_copy() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                request_chunks.append(message.get("body", b""))
            return message

        async def send_copy(message: dict) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                response["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive_copy, send_copy)
        query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode()))
        record_wire(
            started, query, b"".join(request_chunks), response["status"], response["headers"], response["body"]
        )


app = fastapi.FastAPI()
app.add_middleware(WireCapture)
inngest.fast_api.serve(app, client, FUNCTIONS)


@app.get("/compat/records")
async def records(key: str) -> list[dict]:
    return RECORDER.get(key)


@app.get("/compat/wire")
async def wire(key: str) -> list[dict]:
    return WIRE.get(key)
