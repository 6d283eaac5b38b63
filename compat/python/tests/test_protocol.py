"""Protocol coverage: sequential steps, parallel steps (`ctx.group.parallel`), sleeps, step ids repeated in
a loop, step.send_event and the client's own send, on_failure, errors raised in the function body."""

from __future__ import annotations

import hashlib
import time

from tests.harness import step_attempts, wait_until


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def test_sequential_steps(suite, app):
    sc = suite.scenario("sequence")
    run = sc.finished(app, "sequence")

    assert run["status"] == "Completed"
    assert run["output"] == {"a": 1, "b": 2, "c": 3}
    assert [(r["step"], r["attempt"]) for r in app.records(sc.key)] == [("a", 0), ("b", 0), ("c", 0)]

    attempts = sc.engine.attempts(run["run_id"])
    assert [(a["step_name"], a["step_id"], a["outcome"]) for a in attempts] == [
        ("a", sha1("a"), "ok"),
        ("b", sha1("b"), "ok"),
        ("c", sha1("c"), "ok"),
        (None, None, "ok"),
    ]


def test_parallel_steps_with_group_parallel(suite, app):
    sc = suite.scenario("parallel")
    run = sc.finished(app, "parallel")

    assert run["status"] == "Completed"
    assert run["output"] == {
        "parts": [{"i": 0, "square": 0}, {"i": 1, "square": 1}, {"i": 2, "square": 4}],
        "total": 5,
    }
    assert app.attempts_seen(sc.key, "part-0") == [0]
    assert app.attempts_seen(sc.key, "part-1") == [0, 1]  # a planned step retries on its own counter
    assert app.attempts_seen(sc.key, "part-2") == [0]
    assert app.attempts_seen(sc.key, "combine") == [0]

    attempts = sc.engine.attempts(run["run_id"])
    # Each branch was planned (StepPlanned) and executed as its own job.
    for i in range(3):
        planned = [a for a in attempts if a["kind"].get("kind") == "step" and a["step_name"] == f"part-{i}"]
        assert planned, f"part-{i} did not run as a planned step job"
        assert all(a["step_id"] == sha1(f"part-{i}") for a in planned)
    assert step_attempts(attempts, "part-1") == [(0, "error"), (1, "ok")]
    assert step_attempts(attempts, "combine") == [(0, "ok")]


def test_sleep_and_sleep_until(suite, app):
    sc = suite.scenario("sleep")
    run = sc.finished(app, "sleepy")

    assert run["status"] == "Completed"
    out = run["output"]
    slept = out["after_sleep"] - out["before"]
    assert 1.0 <= slept < 1.0 + 1.0, slept
    assert out["after_until"] >= out["until"]
    assert out["after_until"] - out["until"] < 1.0

    attempts = sc.engine.attempts(run["run_id"])
    # Each sleep: the attempt that reported it, then the engine's wake-up (a timeout job, no app call).
    for step in ("nap", "until"):
        records = [(a["kind"]["kind"], a["attempt"], a["outcome"]) for a in attempts if a["step_name"] == step]
        assert records == [("discovery", 0, "ok"), ("timeout", 0, "ok")], records
    assert step_attempts(attempts, "after-until") == [(0, "ok")]


def test_step_ids_repeated_in_a_loop(suite, app):
    sc = suite.scenario("loop")
    run = sc.finished(app, "loop")

    assert run["status"] == "Completed"
    assert run["output"] == [0, 10, 20]
    assert [r["index"] for r in app.steps(sc.key, "same")] == [0, 1, 2]

    attempts = [a for a in sc.engine.attempts(run["run_id"]) if a["step_name"] == "same"]
    # The SDK hashes "same", "same:1", "same:2" (inngest-protocol.md 2f).
    assert [a["step_id"] for a in attempts] == [sha1("same"), sha1("same:1"), sha1("same:2")]
    assert all(a["outcome"] == "ok" for a in attempts)


def test_step_send_event_and_client_send(suite, app):
    sc = suite.scenario("relay")
    run = sc.finished(app, "relay")

    assert run["status"] == "Completed"
    out = run["output"]
    assert len(out["step_send_event_ids"]) == 1 and len(out["client_send_ids"]) == 1

    for via, event_id in (("step.send_event", out["step_send_event_ids"][0]), ("client.send", out["client_send_ids"][0])):
        event = sc.engine.get(f"/v1/events/{event_id}")
        assert event["name"] == f"compat/relay.received.{app.framework}"
        assert event["data"]["via"] == via
        receiver = sc.engine.finished_run(event_id, app.fn_id("relay-receiver"), sc.deadline)
        assert receiver["status"] == "Completed"
        assert receiver["output"] == {"received_via": via}

    received = app.steps(sc.key, "received")
    assert sorted(r["via"] for r in received) == ["client.send", "step.send_event"]

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "send") == [(0, "ok")]
    assert step_attempts(attempts, "client-send") == [(0, "ok")]


def test_on_failure_handler_receives_the_error(suite, app):
    sc = suite.scenario("on_failure")
    run = sc.finished(app, "doomed")

    assert run["status"] == "Failed"
    assert run["output"]["name"] == "ValueError"
    assert run["output"]["message"] == f"doomed to fail ({sc.key})"
    assert app.attempts_seen(sc.key, "body") == [0, 1]  # retries=1
    attempts = sc.engine.attempts(run["run_id"])
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(0, "error"), (1, "error")]

    def handled():
        return app.steps(sc.key, "on_failure")

    records = wait_until("the on_failure handler to run", handled, timeout=max(0.5, sc.deadline - time.time()))
    # The other app's `doomed` failed on the same event; its failure must not start this app's handler
    # (the handler's trigger expression filters on `event.data.function_id`).
    for other in sc.engine.event_runs(sc.event_id):
        sc.engine.wait_final(other["run_id"], timeout=max(0.5, sc.deadline - time.time()))
    time.sleep(0.5)
    handler_runs = sc.engine.get(f"/v1/runs?function_id={app.fn_id('doomed-failure')}")
    assert len(handler_runs) == 1, handler_runs
    records = app.steps(sc.key, "on_failure")
    assert len(records) == 1
    rec = records[0]
    assert rec["trigger_name"] == "inngest/function.failed"
    assert rec["attempt"] == 0
    assert rec["function_id"] == app.fn_id("doomed")
    assert rec["failed_run_id"] == run["run_id"]
    assert rec["error"]["message"] == f"doomed to fail ({sc.key})"
    assert rec["error"]["name"] == "ValueError"

    handler_run = sc.engine.wait_final(rec["run_id"], timeout=max(0.5, sc.deadline - time.time()))
    assert handler_run["function_id"] == app.fn_id("doomed-failure")
    assert handler_run["status"] == "Completed"
    assert handler_run["output"] == {"handled": f"doomed to fail ({sc.key})"}


def test_non_retriable_error_in_function_body(suite, app):
    sc = suite.scenario("body_non_retriable")
    run = sc.finished(app, "body-errors")

    assert run["status"] == "Failed"
    assert run["output"]["code"] == "non_retriable_error"
    assert run["output"]["message"] == "body gave up for good"
    assert app.attempts_seen(sc.key, "prepare") == [0]
    assert app.attempts_seen(sc.key, "body") == [0]

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "prepare") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "non_retriable")]


def test_retry_after_error_in_function_body(suite, app):
    sc = suite.scenario("body_retry_after")
    run = sc.finished(app, "body-errors")

    assert run["status"] == "Completed"
    assert run["output"] == {"prepared": "prepared", "attempt": 1}
    assert app.attempts_seen(sc.key, "prepare") == [0]  # memoized, not run again
    body = app.steps(sc.key, "body")
    assert [r["attempt"] for r in body] == [0, 1]
    gap = body[1]["t"] - body[0]["t"]
    assert 3.0 <= gap < 3.0 + 1.0, gap

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "prepare") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "retry_after"), (1, "ok")]
