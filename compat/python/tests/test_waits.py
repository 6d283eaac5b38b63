"""Steps that wait: `ctx.step.wait_for_event` and `ctx.step.invoke` (inngest-protocol.md 2e and 4).

A wait_for_event op (`name` = event name, `opts.if`, `opts.timeout`) makes Durin store a pause that the first
matching event received afterwards ends (the memo is the raw event), or its timeout (memo null). An invoke op
(`opts.function_id`, `opts.payload`, `opts.timeout`) starts a run of the target with an
`inngest/function.invoked` event and resumes the caller with `{"data": result}` or `{"error": ...}` when that
run ends, or with an InngestInvokeTimeoutError at the timeout. Each test checks what the app observed (its
records and the call requests on the wire) and what Durin reports over `/v1`.
"""

from __future__ import annotations

import hashlib
import time

import inngest
import pytest

from tests.harness import step_attempts, wait_until

# What `waiter` passes as `if_exp` (apps/common.py).
APPROVAL_IF = "event.data.key == async.data.key && async.data.approved == true"
# Slack over a wait's timeout for the app to see the run resume.
WAIT_TOL = 1.5
# How long the wait_match test gives each of its steps: it runs whenever pytest reaches it (after example 7
# unless COMPAT_SKIP_SLOW is set), so it keeps its own clock rather than the scenario's shared deadline.
STEP_BUDGET = 15.0


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def approval_name(app) -> str:
    return f"compat/wait.approval.{app.framework}"


def approval(app, **data) -> inngest.Event:
    return inngest.Event(name=approval_name(app), data=data)


def left(sc) -> float:
    return max(0.5, sc.deadline - time.time())


def kinds(attempts: list[dict], step_name: str) -> list[tuple[str, int, str]]:
    """(job kind, attempt, outcome) of Durin's attempt records for one step."""
    return [(a["kind"]["kind"], a["attempt"], a["outcome"]) for a in attempts if a["step_name"] == step_name]


def first_op(wire: list[dict], op: str) -> tuple[int, dict]:
    """The first call whose 206 answer reports `op`, and that op."""
    for i, w in enumerate(wire):
        if w["status"] == 206 and w["response"][0]["op"] == op:
            return i, w["response"][0]
    raise AssertionError(f"no {op} op on the wire: {[w['response'] for w in wire]}")


def memo_after(wire: list[dict], index: int, step_id: str):
    """The memo Durin sent for `step_id` in the first call after call `index` that carries one."""
    for w in wire[index + 1:]:
        if step_id in w["request"]["steps"]:
            return w["request"]["steps"][step_id]
    raise AssertionError(f"no call after the op carried a memo for {step_id}")


# ---------------------------------------------------------------------------------------------------
# step.wait_for_event
# ---------------------------------------------------------------------------------------------------


def test_wait_for_event_resumes_with_the_first_matching_event(suite, app):
    sc = suite.scenario("wait_match")
    run_id = sc.engine.run_for(sc.event_id, app.fn_id("waiter"), timeout=STEP_BUDGET)["run_id"]

    # Durin records the attempt that reported the WaitForEvent op in the same commit as the pause: once it is
    # listed, events are matched against the wait.
    def waiting() -> list[dict]:
        return [a for a in sc.engine.attempts(run_id) if a["step_name"] == "wait-approval"]

    [reported] = wait_until("the wait to be stored", waiting, timeout=STEP_BUDGET)
    assert (reported["kind"]["kind"], reported["attempt"], reported["outcome"]) == ("discovery", 0, "ok")
    assert reported["step_id"] == sha1("wait-approval")

    # Two events with the awaited name that do not satisfy `if`: another key's approval, this key's refusal.
    decoys = sc.engine.send(
        [
            approval(app, key=f"{sc.key}-other", approved=True, n=0),
            approval(app, key=sc.key, approved=False, n=1),
        ]
    )
    assert sc.engine.run(run_id)["status"] == "Running"
    # Still waiting: the only job queued for the run is the wait's timeout.
    assert [j["kind"] for j in sc.engine.jobs(run_id)] == [
        {"kind": "timeout", "name": "wait-approval", "step_id": sha1("wait-approval")}
    ]
    [matched] = sc.engine.send([approval(app, key=sc.key, approved=True, n=2)])
    [late] = sc.engine.send([approval(app, key=sc.key, approved=True, n=3)])

    run = sc.engine.wait_final(run_id, timeout=STEP_BUDGET)
    assert run["status"] == "Completed"
    expected_data = {"key": sc.key, "approved": True, "n": 2}
    assert run["output"]["approval"] == {"id": matched, "name": approval_name(app), "data": expected_data}
    assert run["output"]["waited_s"] < 600

    # What the app saw: wait_for_event returned an inngest.Event, the first matching one.
    [after] = app.steps(sc.key, "after-wait")
    assert after["approval_type"] == "Event"
    assert after["approval"]["id"] == matched
    assert after["approval"]["name"] == approval_name(app)
    assert after["approval"]["data"] == expected_data
    assert app.attempts_seen(sc.key, "before-wait") == [0]

    # On the wire: the event name in `name`, `if` and `timeout` in `opts`; the memo is the raw event.
    wire = app.wire(sc.key, "waiter")
    i, op = first_op(wire, "WaitForEvent")
    assert op["id"] == sha1("wait-approval")
    assert op["displayName"] == "wait-approval"
    assert op["name"] == approval_name(app)
    assert op["opts"] == {"if": APPROVAL_IF, "timeout": "10m"}
    memo = memo_after(wire, i, op["id"])
    assert memo["id"] == matched
    assert memo["name"] == approval_name(app)
    assert memo["data"] == expected_data
    assert isinstance(memo["ts"], int)
    assert [w["status"] for w in wire] == [206, 206, 206, 200]

    # What Durin reports: the approvals started no run; the wait ended without a timeout attempt.
    for event_id in [*decoys, matched, late]:
        assert sc.engine.event_runs(event_id) == []
    attempts = sc.engine.attempts(run_id)
    assert step_attempts(attempts, "before-wait") == [(0, "ok")]
    assert kinds(attempts, "wait-approval") == [("discovery", 0, "ok")]
    assert step_attempts(attempts, "after-wait") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "ok")]
    assert len(attempts) == 4
    assert sc.engine.jobs(run_id) == []  # the timeout was dropped with the pause


def test_wait_for_event_returns_none_at_its_timeout(suite, app):
    sc = suite.scenario("wait_timeout")
    run = sc.finished(app, "waiter")
    timeout_s = 2

    assert run["status"] == "Completed"
    assert run["output"]["approval"] is None
    assert timeout_s <= run["output"]["waited_s"] < timeout_s + WAIT_TOL, run["output"]

    [after] = app.steps(sc.key, "after-wait")
    assert after["approval_type"] == "NoneType"
    assert after["approval"] is None
    before = app.steps(sc.key, "before-wait")
    assert len(before) == 1
    assert after["t"] - before[0]["t"] >= timeout_s

    wire = app.wire(sc.key, "waiter")
    i, op = first_op(wire, "WaitForEvent")
    assert op["name"] == approval_name(app)
    assert op["opts"] == {"if": APPROVAL_IF, "timeout": f"{timeout_s}s"}
    assert memo_after(wire, i, op["id"]) is None  # a timed-out wait is memoized as null
    assert wire[i + 1]["t"] - wire[i]["t"] >= timeout_s

    attempts = sc.engine.attempts(run["run_id"])
    waits = [a for a in attempts if a["step_name"] == "wait-approval"]
    assert kinds(attempts, "wait-approval") == [("discovery", 0, "ok"), ("timeout", 0, "ok")]
    assert waits[1]["started_at_ms"] - waits[0]["ended_at_ms"] >= timeout_s * 1000
    assert step_attempts(attempts, "after-wait") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "ok")]

    # An approval arriving after the timeout changes nothing.
    [late] = sc.engine.send([approval(app, key=sc.key, approved=True, n=1)])
    assert sc.engine.event_runs(late) == []
    assert sc.engine.jobs(run["run_id"]) == []
    assert sc.engine.run(run["run_id"]) == run
    assert sc.engine.attempts(run["run_id"]) == attempts


# ---------------------------------------------------------------------------------------------------
# step.invoke
# ---------------------------------------------------------------------------------------------------


def invoked(sc, app, slug: str, step: str) -> tuple[dict, dict, dict]:
    """The invoked function's record of its run, the `inngest/function.invoked` event Durin stored for it, and
    that event's run as `/v1/events/{id}/runs` lists it."""
    [record] = [r for r in app.steps(sc.key, step) if r["fn"] == slug]
    event = sc.engine.get(f"/v1/events/{record['event_id']}")
    [run] = sc.engine.event_runs(record["event_id"])
    assert run["function_id"] == app.fn_id(slug)
    assert run["run_id"] == record["run_id"]
    return record, event, run


def check_invoked_event(event: dict, sc, app, slug: str, caller_run_id: str, sleep_s: int = 0) -> None:
    assert event["name"] == "inngest/function.invoked"
    data = dict(event["data"])
    meta = data.pop("_inngest")
    assert data == {"key": sc.key, "a": 2, "b": 3, "sleep_s": sleep_s}  # the invoke's `data`
    assert meta["fn_id"] == app.fn_id(slug)
    assert meta["correlation_id"] == f"{caller_run_id}.{sha1('call')}"


def check_invoke_op(op: dict, app, slug: str, timeout: str | None, sleep_s: int = 0, key: str = "") -> None:
    assert op["id"] == sha1("call")
    assert op["displayName"] == "call"
    assert op["opts"] == {
        "function_id": app.fn_id(slug),  # the SDK prefixes the app id
        "payload": {"data": {"key": key, "a": 2, "b": 3, "sleep_s": sleep_s}, "v": None},
        "timeout": timeout,
    }


def test_invoke_returns_the_invoked_functions_result(suite, app):
    sc = suite.scenario("invoke_ok")
    run = sc.finished(app, "invoker")

    assert run["status"] == "Completed"
    assert run["output"]["result"] == {"sum": 5, "by": "invoked-add"}
    assert run["output"]["error"] is None
    [after] = app.steps(sc.key, "after-invoke")
    assert (after["result"], after["error"]) == ({"sum": 5, "by": "invoked-add"}, None)

    # The invoked function ran once, triggered by inngest/function.invoked carrying the correlation id.
    record, event, target = invoked(sc, app, "invoked-add", "body")
    assert record["attempt"] == 0
    assert record["event_name"] == "inngest/function.invoked"
    assert record["meta"]["correlation_id"] == f"{run['run_id']}.{sha1('call')}"
    check_invoked_event(event, sc, app, "invoked-add", run["run_id"])
    assert target["status"] == "Completed"
    assert target["output"] == {"sum": 5, "by": "invoked-add"}
    assert step_attempts(sc.engine.attempts(target["run_id"]), None) == [(0, "ok")]

    wire = app.wire(sc.key, "invoker")
    i, op = first_op(wire, "InvokeFunction")
    check_invoke_op(op, app, "invoked-add", None, key=sc.key)
    assert memo_after(wire, i, op["id"]) == {"data": {"sum": 5, "by": "invoked-add"}}

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "before-invoke") == [(0, "ok")]
    assert kinds(attempts, "call") == [("discovery", 0, "ok")]
    assert step_attempts(attempts, "after-invoke") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "ok")]
    # The caller resumed once the invoked run had ended.
    call = next(a for a in attempts if a["step_name"] == "call")
    resumed = next(a for a in attempts if a["step_name"] == "after-invoke")
    target_ended_ms = max(a["ended_at_ms"] for a in sc.engine.attempts(target["run_id"]))
    assert call["ended_at_ms"] <= target_ended_ms <= resumed["started_at_ms"]


def test_invoke_of_a_failing_function_raises_a_catchable_step_error(suite, app):
    sc = suite.scenario("invoke_fail")
    run = sc.finished(app, "invoker")
    message = f"invoked function failed ({sc.key})"

    # The caller caught inngest.StepError carrying the invoked function's error, and went on.
    assert run["status"] == "Completed"
    assert run["output"]["result"] is None
    assert run["output"]["error"] == {"type": "StepError", "name": "ValueError", "message": message}
    [after] = app.steps(sc.key, "after-invoke")
    assert after["error"] == {"type": "StepError", "name": "ValueError", "message": message}

    # retries=0: the invoked function ran exactly once and failed.
    record, event, target = invoked(sc, app, "invoked-fails", "body")
    assert app.attempts_seen(sc.key, "body") == [0]
    check_invoked_event(event, sc, app, "invoked-fails", run["run_id"])
    assert target["status"] == "Failed"
    assert target["output"]["name"] == "ValueError"
    assert target["output"]["message"] == message
    target_attempts = sc.engine.attempts(target["run_id"])
    assert [(a["attempt"], a["outcome"]) for a in target_attempts] == [(0, "error")]
    assert target_attempts[0]["next_attempt_at_ms"] is None

    wire = app.wire(sc.key, "invoker")
    i, op = first_op(wire, "InvokeFunction")
    check_invoke_op(op, app, "invoked-fails", None, key=sc.key)
    memo = memo_after(wire, i, op["id"])
    assert set(memo) == {"error"}
    assert (memo["error"]["name"], memo["error"]["message"]) == ("ValueError", message)

    attempts = sc.engine.attempts(run["run_id"])
    assert kinds(attempts, "call") == [("discovery", 0, "ok")]
    assert step_attempts(attempts, "after-invoke") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "ok")]


def test_invoke_with_a_timeout_of_a_slow_function_raises_the_timeout_error(suite, app):
    sc = suite.scenario("invoke_timeout")
    run = sc.finished(app, "invoker")
    timeout_s, sleep_s = 1, 2

    assert run["status"] == "Completed"
    assert run["output"]["result"] is None
    error = run["output"]["error"]
    assert (error["type"], error["name"]) == ("StepError", "InngestInvokeTimeoutError")
    assert "timed out" in error["message"].lower(), error
    assert timeout_s <= run["output"]["waited_s"] < timeout_s + WAIT_TOL, run["output"]
    [after] = app.steps(sc.key, "after-invoke")
    assert after["error"] == error

    wire = app.wire(sc.key, "invoker")
    i, op = first_op(wire, "InvokeFunction")
    check_invoke_op(op, app, "invoked-slow", f"{timeout_s}s", sleep_s=sleep_s, key=sc.key)
    memo = memo_after(wire, i, op["id"])
    assert set(memo) == {"error"}
    assert memo["error"]["name"] == "InngestInvokeTimeoutError"

    attempts = sc.engine.attempts(run["run_id"])
    calls = [a for a in attempts if a["step_name"] == "call"]
    assert kinds(attempts, "call") == [("discovery", 0, "ok"), ("timeout", 0, "ok")]
    assert calls[1]["started_at_ms"] - calls[0]["ended_at_ms"] >= timeout_s * 1000
    assert step_attempts(attempts, "after-invoke") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "ok")]

    # The slow function was not cancelled: it finishes on its own, after the caller, and its late
    # inngest/function.finished resumes nothing.
    record, event, target = invoked(sc, app, "invoked-slow", "started")
    check_invoked_event(event, sc, app, "invoked-slow", run["run_id"], sleep_s=sleep_s)
    target = sc.engine.wait_final(target["run_id"], timeout=left(sc))
    assert target["status"] == "Completed"
    assert target["output"] == {"slept_s": sleep_s}
    assert max(a["ended_at_ms"] for a in sc.engine.attempts(target["run_id"])) > max(
        a["ended_at_ms"] for a in attempts
    )
    assert sc.engine.run(run["run_id"]) == run
    assert sc.engine.attempts(run["run_id"]) == attempts
    assert sc.engine.jobs(run["run_id"]) == []


# ---------------------------------------------------------------------------------------------------
# step.invoke in ctx.group.parallel
# ---------------------------------------------------------------------------------------------------


def invoked_events_of(engine, run_id: str) -> list[dict]:
    """The `inngest/function.invoked` events Durin stored for the invokes of run `run_id`."""
    return [
        e
        for e in engine.events("inngest/function.invoked")
        if str(e["data"].get("_inngest", {}).get("correlation_id", "")).startswith(f"{run_id}.")
    ]


def test_parallel_invokes_resume_with_both_results(suite, app):
    sc = suite.scenario("invoke_fanout")
    run = sc.finished(app, "invoke-fanout")

    assert run["status"] == "Completed"
    assert run["output"] == {"results": [{"sum": 3, "by": "invoked-add"}, {"slept_s": 1}]}

    # Each invoked function ran once.
    assert len([r for r in app.steps(sc.key, "body") if r["fn"] == "invoked-add"]) == 1
    assert len(app.steps(sc.key, "started")) == 1

    # The SDK reported both invokes in one answer; when the fast one had ended it replayed the function and
    # reported the slow one again, still pending (inngest-protocol.md 2f).
    wire = app.wire(sc.key, "invoke-fanout")
    assert [op["op"] for op in wire[0]["response"]] == ["InvokeFunction", "InvokeFunction"]
    assert [op["displayName"] for op in wire[0]["response"]] == ["fast", "slow"]
    assert memo_after(wire, 0, sha1("fast")) == {"data": {"sum": 3, "by": "invoked-add"}}
    assert wire[-1]["status"] == 200
    assert wire[-1]["request"]["steps"][sha1("slow")] == {"data": {"slept_s": 1}}

    # Durin started exactly one run per invoke step.
    events = invoked_events_of(sc.engine, run["run_id"])
    runs = {}
    for event in events:
        for r in sc.engine.event_runs(event["id"]):
            runs.setdefault(event["data"]["_inngest"]["correlation_id"], []).append(r)
    assert {c: [(r["function_id"], r["status"]) for r in rs] for c, rs in runs.items()} == {
        f"{run['run_id']}.{sha1('fast')}": [(app.fn_id("invoked-add"), "Completed")],
        f"{run['run_id']}.{sha1('slow')}": [(app.fn_id("invoked-slow"), "Completed")],
    }
    assert step_attempts(sc.engine.attempts(run["run_id"]), None) == [(0, "ok")]
    assert sc.engine.jobs(run["run_id"]) == []


def test_a_re_reported_invoke_sends_no_second_invocation_event(suite, app):
    sc = suite.scenario("invoke_fanout")
    run = sc.finished(app, "invoke-fanout")
    assert run["status"] == "Completed"
    wire = app.wire(sc.key, "invoke-fanout")
    reported = [op["displayName"] for w in wire if w["status"] == 206 for op in w["response"]]
    # Parallel mode "wait" (Inngest's default): the app is called again only once both invokes ended, so
    # the pending `slow` is never re-reported; were it re-reported, it would still be one invocation.
    assert reported == ["fast", "slow"]

    correlation_ids = sorted(e["data"]["_inngest"]["correlation_id"] for e in invoked_events_of(sc.engine, run["run_id"]))
    assert correlation_ids == sorted([f"{run['run_id']}.{sha1('fast')}", f"{run['run_id']}.{sha1('slow')}"])
