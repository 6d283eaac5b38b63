"""Python-SDK specifics of the protocol (inngest-protocol.md 0.1 and 1.6), checked on the wire: the apps copy
every call request Durin sends and the SDK's answer, so these tests see both sides."""

from __future__ import annotations

import datetime
import re
import uuid

import httpx

from tests.conftest import FUNCTION_SLUGS

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def parse_iso(value: str) -> float:
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def test_register_payload_python_spelling(engine, app):
    """The SDK registers with `appname` / `deploy_type` (not `appName` / `deployType`)."""
    apps = {a["name"]: a for a in engine.get("/v1/apps")}
    listed = apps[app.app_id]
    assert listed["error"] is None
    assert listed["sdk"] == "py:v0.5.19"
    assert listed["framework"] == {"flask": "flask", "fastapi": "fast_api"}[app.framework]
    assert listed["url"] == app.serve_url
    assert listed["function_count"] == len(FUNCTION_SLUGS)

    fns = {f["id"]: f for f in engine.get("/v1/functions") if f["app"] == app.app_id}
    assert set(fns) == {app.fn_id(s) for s in FUNCTION_SLUGS}
    assert (fns[app.fn_id("click-recorder")]["retries"], fns[app.fn_id("click-recorder")]["max_attempts"]) == (4, 5)
    assert (fns[app.fn_id("retries-zero")]["retries"], fns[app.fn_id("retries-zero")]["max_attempts"]) == (0, 1)
    assert (fns[app.fn_id("doomed")]["retries"], fns[app.fn_id("doomed")]["max_attempts"]) == (1, 2)
    failure = fns[app.fn_id("doomed-failure")]
    assert failure["retries"] == 0
    assert failure["triggers"] == [
        {"event": "inngest/function.failed", "expression": f"event.data.function_id == '{app.fn_id('doomed')}'"}
    ]


def test_engine_sends_top_level_use_api_and_attempt_context(suite, app):
    sc = suite.scenario("sequence")
    run = sc.finished(app, "sequence")
    wire = app.wire(sc.key, "sequence")
    assert len(wire) == 4
    for n, w in enumerate(wire):
        req = w["request"]
        assert req["use_api"] is False  # top level: pydantic requires it (no default)
        assert req["ctx"]["use_api"] is False
        assert req["ctx"]["run_id"] == run["run_id"]
        assert req["ctx"]["attempt"] == 0
        assert req["ctx"]["max_attempts"] == 5
        assert req["ctx"]["disable_immediate_execution"] is False
        assert req["ctx"]["stack"]["current"] == n
        assert len(req["ctx"]["stack"]["stack"]) == n
        assert len(req["steps"]) == n
        assert req["event"]["name"] == "compat/steps.sequence"
        assert w["step_id"] == "step"
        assert w["headers"]["x-inngest-sdk"] == "inngest-py:v0.5.19"
    assert [w["status"] for w in wire] == [206, 206, 206, 200]
    # Durin stores the request version the SDK answered (2) and echoes it.
    assert wire[0]["request"]["version"] == -1
    assert all(w["request"]["version"] == 2 for w in wire[1:])


def test_sdk_rejects_a_call_request_without_top_level_use_api(app):
    """What the engine must avoid: the same request without top-level `use_api` is a 500 ValidationError."""
    key = f"direct-{uuid.uuid4().hex[:8]}"
    body = {
        "event": {"name": "compat/steps.loop", "data": {"key": key}, "id": "direct", "ts": 0, "user": {}},
        "events": [{"name": "compat/steps.loop", "data": {"key": key}, "id": "direct", "ts": 0, "user": {}}],
        "steps": {},
        "ctx": {
            "run_id": "01DIRECTRUN000000000000000",
            "attempt": 0,
            "max_attempts": 5,
            "disable_immediate_execution": False,
            "use_api": False,
            "env": "",
            "step_id": "step",
            "stack": {"stack": [], "current": 0},
        },
        "version": -1,
    }
    url = f"{app.serve_url}?fnId={app.fn_id('loop')}&stepId=step"
    without = httpx.post(url, json=body, timeout=10)
    assert without.status_code == 500
    assert "use_api" in without.text
    with_it = httpx.post(url, json={**body, "use_api": False}, timeout=10)
    assert with_it.status_code == 206
    assert with_it.json()[0]["op"] == "StepRun"


def test_non_retriable_error_in_step_is_a_500_with_no_retry(suite, app):
    sc = suite.scenario("ex4_digest_non_retriable_in_step")
    sc.finished(app, "user-weekly-digest")
    wire = app.wire(sc.key, "user-weekly-digest")
    assert len(wire) == 1  # exactly one call: the run failed at once
    w = wire[0]
    assert w["status"] == 500
    assert w["headers"].get("x-inngest-no-retry") == "true"
    assert w["response"]["code"] == "non_retriable_error"
    assert w["response"]["name"] == "NonRetriableError"


def test_retry_after_error_in_step_is_a_500_with_iso_retry_after(suite, app):
    sc = suite.scenario("ex5_welcome_retry_after")
    sc.finished(app, "send-welcome-notification")
    wire = app.wire(sc.key, "send-welcome-notification")
    first, second = wire[0], wire[1]
    assert first["status"] == 500
    assert first["response"]["code"] == "retry_after_error"
    assert first["headers"].get("x-inngest-no-retry") != "true"
    retry_after = first["headers"]["retry-after"]
    assert ISO_MS.match(retry_after), retry_after
    due = parse_iso(retry_after)
    assert 2.5 <= due - first["t"] <= 3.5
    assert second["t"] >= due - 0.001  # Durin honoured the date to the millisecond
    assert second["request"]["ctx"]["attempt"] == 1
    assert second["status"] == 206
    assert second["response"][0]["op"] == "StepRun"


def test_errors_are_500s_with_code_fields(suite, app):
    # A function-body error: 500, `code: unknown`, no no-retry header (retried).
    sc = suite.scenario("ex1_click_recorder")
    sc.finished(app, "click-recorder")
    wire = app.wire(sc.key, "click-recorder")
    assert [w["status"] for w in wire] == [500, 500, 200]
    assert [w["request"]["ctx"]["attempt"] for w in wire] == [0, 1, 2]
    for w in wire[:2]:
        assert w["response"]["code"] == "unknown"
        assert w["response"]["name"] == "RuntimeError"
        assert "x-inngest-no-retry" not in w["headers"]

    # A step error: 206 StepError (code unknown), StepFailed on the last attempt, then the uncaught
    # StepError: 500 + no-retry + `code: step_errored`.
    sc = suite.scenario("ex3_sync_save_exhausted")
    sc.finished(app, "sync-systems")
    wire = app.wire(sc.key, "sync-systems")
    save = [w for w in wire if w["status"] == 206 and w["response"][0]["displayName"] == "save-data"]
    assert [w["response"][0]["op"] for w in save] == ["StepError"] * 4 + ["StepFailed"]
    assert [w["request"]["ctx"]["attempt"] for w in save] == [0, 1, 2, 3, 4]
    assert all(w["response"][0]["error"]["code"] == "unknown" for w in save)
    last = wire[-1]
    assert last["status"] == 500
    assert last["headers"].get("x-inngest-no-retry") == "true"
    assert last["response"]["code"] == "step_errored"
    # The engine handed the memoized failure back as {"error": ...} under the step's hashed id.
    memo = list(last["request"]["steps"].values())
    assert {"error"} in [set(m) for m in memo if isinstance(m, dict)]


def test_sleep_ops_carry_an_iso_timestamp(suite, app):
    sc = suite.scenario("sleep")
    sc.finished(app, "sleepy")
    wire = app.wire(sc.key, "sleepy")
    sleeps = []
    for i, w in enumerate(wire):
        if w["status"] == 206 and w["response"][0]["op"] == "Sleep":
            sleeps.append((i, w["response"][0]))
    assert [op["displayName"] for _, op in sleeps] == ["nap", "until"]
    for i, op in sleeps:
        assert ISO_MS.match(op["name"]), op["name"]
        due = parse_iso(op["name"])
        resumed = wire[i + 1]
        assert resumed["t"] >= due - 0.001, (resumed["t"], due)
        assert resumed["t"] - due < 1.0
        # The finished sleep is memoized as null.
        assert resumed["request"]["steps"][op["id"]] is None


def test_parallel_steps_are_planned_then_targeted(suite, app):
    sc = suite.scenario("parallel")
    sc.finished(app, "parallel")
    wire = app.wire(sc.key, "parallel")
    first = wire[0]
    assert first["status"] == 206
    assert [op["op"] for op in first["response"]] == ["StepPlanned"] * 3
    planned = {op["displayName"]: op["id"] for op in first["response"]}
    assert set(planned) == {"part-0", "part-1", "part-2"}
    # Each planned step is executed by a request targeting its hashed id (?stepId=<hash>).
    targeted = {w["step_id"] for w in wire if w["step_id"] != "step"}
    assert set(planned.values()) <= targeted
    # While the parallel branches run, the engine plans every step (Inngest's ForceStepPlan) ...
    branch_requests = [w for w in wire if w["step_id"] in planned.values()]
    assert all(w["request"]["ctx"]["disable_immediate_execution"] is True for w in branch_requests)
    assert targeted == set(planned.values())
    # ... and lifts that once the last branch ended: the next discovery runs `combine` at once.
    after = wire[-2]
    assert after["step_id"] == "step"
    assert after["request"]["ctx"]["disable_immediate_execution"] is False
    assert [(op["op"], op["displayName"]) for op in after["response"]] == [("StepRun", "combine")]
    # The final request's stack lists every memoized step, in completion order.
    final = wire[-1]
    assert final["status"] == 200
    assert final["request"]["ctx"]["stack"]["current"] == 4
    assert final["request"]["ctx"]["stack"]["stack"][-1] == after["response"][0]["id"]
    assert set(final["request"]["ctx"]["stack"]["stack"][:3]) == set(planned.values())


def test_retries_zero_sends_max_attempts_1_so_the_sdk_fails_the_step_at_once(suite, app):
    sc = suite.scenario("ex6_retries_zero_uncaught")
    sc.finished(app, "retries-zero")
    wire = app.wire(sc.key, "retries-zero")
    assert [w["request"]["ctx"]["max_attempts"] for w in wire] == [1, 1]
    assert [w["request"]["ctx"]["attempt"] for w in wire] == [0, 0]
    # With max_attempts 1 the SDK reports the first failure as final (StepFailed, not StepError) ...
    assert wire[0]["status"] == 206
    assert wire[0]["response"][0]["op"] == "StepFailed"
    # ... and the uncaught StepError then fails the run: 500 + no-retry.
    assert wire[1]["status"] == 500
    assert wire[1]["headers"].get("x-inngest-no-retry") == "true"
