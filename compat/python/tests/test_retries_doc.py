"""The retry documentation's four functions and retries.md's seven worked examples, against `durin dev`.

Each test reads what the app observed (its recorder: `ctx.attempt` per step, timestamps) and what Durin
reports (`/v1/events/{id}/runs`, `/v1/runs/{id}`, `/v1/runs/{id}/attempts`). Both apps run every example:
Flask with sync functions, FastAPI with async ones.
"""

from __future__ import annotations

import pytest

from tests.conftest import RUN_SLOW
from tests.harness import assert_backoff_gaps, scaled_window, step_attempts


def test_ex1_click_recorder_body_fails_twice_then_succeeds(suite, app):
    sc = suite.scenario("ex1_click_recorder")
    run = sc.finished(app, "click-recorder")

    assert run["status"] == "Completed"
    assert run["output"] == {"inserted": "signup", "attempt": 2}

    seen = app.steps(sc.key, "body")
    assert [r["attempt"] for r in seen] == [0, 1, 2]
    assert {r["run_id"] for r in seen} == {run["run_id"]}
    assert_backoff_gaps([r["t"] for r in seen])

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, None) == [(0, "error"), (1, "error"), (2, "ok")]
    assert len(attempts) == 3
    assert attempts[0]["error"]["message"] == "db.clicks.insert_one failed on attempt 0"
    assert attempts[0]["error"]["name"] == "RuntimeError"
    for n, a in enumerate(attempts[:2]):
        lo, hi = scaled_window(n)
        delay = (a["next_attempt_at_ms"] - a["ended_at_ms"]) / 1000
        assert lo - 0.05 <= delay <= hi + 0.05, (n, delay)
        assert attempts[n + 1]["started_at_ms"] >= a["next_attempt_at_ms"]
    assert attempts[2]["next_attempt_at_ms"] is None


def test_ex2_sync_systems_each_step_has_its_own_counter(suite, app):
    sc = suite.scenario("ex2_sync_independent")
    run = sc.finished(app, "sync-systems")

    assert run["status"] == "Completed"
    assert run["output"] == {"data": {"rows": [1, 2, 3]}, "saved": {"saved": 3}}

    assert app.attempts_seen(sc.key, "get-data") == [0, 1]
    assert app.attempts_seen(sc.key, "save-data") == [0, 1, 2, 3, 4]
    assert_backoff_gaps([r["t"] for r in app.steps(sc.key, "save-data")])

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "get-data") == [(0, "error"), (1, "ok")]
    assert step_attempts(attempts, "save-data") == [(0, "error"), (1, "error"), (2, "error"), (3, "error"), (4, "ok")]
    assert step_attempts(attempts, None) == [(0, "ok")]


def test_ex3_sync_systems_save_data_fails_for_good(suite, app):
    sc = suite.scenario("ex3_sync_save_exhausted")
    run = sc.finished(app, "sync-systems")

    assert run["status"] == "Failed"
    # The step error reached the function body uncaught: the SDK answered `step_errored`.
    assert run["output"]["code"] == "step_errored"
    assert run["output"]["name"] == "ConnectionError"
    assert run["output"]["message"] == "db.syncs.insert_one failed (attempt 4)"

    assert app.attempts_seen(sc.key, "get-data") == [0]  # never run again
    assert app.attempts_seen(sc.key, "save-data") == [0, 1, 2, 3, 4]

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "get-data") == [(0, "ok")]
    assert [n for n, _ in step_attempts(attempts, "save-data")] == [0, 1, 2, 3, 4]
    assert all(outcome == "error" for _, outcome in step_attempts(attempts, "save-data"))
    assert attempts[-1]["step_name"] is None
    assert (attempts[-1]["attempt"], attempts[-1]["outcome"]) == (0, "non_retriable")
    assert len(attempts) == 7


def test_ex4_user_weekly_digest_catches_user_not_found(suite, app):
    sc = suite.scenario("ex4_digest_user_not_found")
    run = sc.finished(app, "user-weekly-digest")

    assert run["status"] == "Failed"
    assert run["output"]["code"] == "non_retriable_error"
    assert run["output"]["name"] == "NonRetriableError"
    assert run["output"]["message"] == "User no longer exists; stopping"

    assert app.attempts_seen(sc.key, "get-user-email") == [0, 1, 2, 3, 4]
    caught = app.steps(sc.key, "caught")
    assert [(c["name"], c["message"]) for c in caught] == [("UserNotFoundError", "user u-404 not found")]
    assert app.steps(sc.key, "send-digest") == []

    attempts = sc.engine.attempts(run["run_id"])
    assert [n for n, _ in step_attempts(attempts, "get-user-email")] == [0, 1, 2, 3, 4]
    assert step_attempts(attempts, None) == [(0, "non_retriable")]
    assert step_attempts(attempts, "send-digest") == []
    assert attempts[-1]["error"]["code"] == "non_retriable_error"
    assert attempts[-1]["next_attempt_at_ms"] is None


def test_ex4_variant_non_retriable_error_inside_the_step(suite, app):
    sc = suite.scenario("ex4_digest_non_retriable_in_step")
    run = sc.finished(app, "user-weekly-digest")

    assert run["status"] == "Failed"
    assert run["output"]["code"] == "non_retriable_error"
    assert run["output"]["message"] == "user u-410 was deleted; do not retry"

    # Exactly one attempt of the step; Python fails the whole function at once (500 + no-retry).
    assert app.attempts_seen(sc.key, "get-user-email") == [0]
    assert app.steps(sc.key, "caught") == []
    assert app.steps(sc.key, "send-digest") == []

    attempts = sc.engine.attempts(run["run_id"])
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(0, "non_retriable")]
    assert attempts[0]["next_attempt_at_ms"] is None


def test_ex5_send_welcome_notification_retry_after_3s(suite, app):
    sc = suite.scenario("ex5_welcome_retry_after")
    run = sc.finished(app, "send-welcome-notification")

    assert run["status"] == "Completed"
    assert run["output"] == {"message": "Welcome to our service!", "to": "+15550100"}

    seen = app.steps(sc.key, "send-notification")
    assert [r["attempt"] for r in seen] == [0, 1]
    gap = seen[1]["t"] - seen[0]["t"]
    # Retry-After replaces the backoff (150-450 ms at this scale) and is never scaled.
    assert 3.0 <= gap < 3.0 + 1.0, gap

    attempts = sc.engine.attempts(run["run_id"])
    assert [(a["attempt"], a["outcome"]) for a in attempts[:2]] == [(0, "retry_after"), (1, "ok")]
    assert attempts[0]["error"]["code"] == "retry_after_error"
    assert attempts[1]["step_name"] == "send-notification"
    assert attempts[1]["started_at_ms"] - attempts[0]["started_at_ms"] >= 3000
    assert attempts[1]["started_at_ms"] >= attempts[0]["next_attempt_at_ms"]


def test_ex6_retries_zero_uncaught_step_error_fails_the_run(suite, app):
    sc = suite.scenario("ex6_retries_zero_uncaught")
    run = sc.finished(app, "retries-zero")

    assert run["status"] == "Failed"
    assert run["output"]["code"] == "step_errored"
    assert run["output"]["message"] == "flaky step failed"
    assert app.attempts_seen(sc.key, "flaky") == [0]
    assert app.steps(sc.key, "after") == []

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "flaky") == [(0, "error")]
    assert step_attempts(attempts, None) == [(0, "non_retriable")]
    assert attempts[0]["next_attempt_at_ms"] is None


def test_ex6_retries_zero_caught_step_error_goes_on(suite, app):
    sc = suite.scenario("ex6_retries_zero_caught")
    run = sc.finished(app, "retries-zero")

    assert run["status"] == "Completed"
    assert run["output"] == {"after": "went on"}
    assert app.attempts_seen(sc.key, "flaky") == [0]
    caught = app.steps(sc.key, "caught")
    assert caught and all(c["message"] == "flaky step failed" and c["name"] == "RuntimeError" for c in caught)
    assert app.attempts_seen(sc.key, "after") == [0]

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "flaky") == [(0, "error")]
    assert step_attempts(attempts, "after") == [(0, "ok")]
    assert step_attempts(attempts, None) == [(0, "ok")]


def test_ex6_retries_zero_retry_after_grants_no_extra_attempt(suite, app):
    sc = suite.scenario("ex6_retries_zero_retry_after")
    run = sc.finished(app, "retries-zero")

    assert run["status"] == "Failed"
    assert run["output"]["code"] == "retry_after_error"
    assert app.attempts_seen(sc.key, "flaky") == [0]

    attempts = sc.engine.attempts(run["run_id"])
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(0, "retry_after")]
    assert attempts[0]["next_attempt_at_ms"] is None
    # It failed at once, without waiting for the 3 s it asked for.
    assert attempts[0]["ended_at_ms"] - attempts[0]["started_at_ms"] < 3000


@pytest.mark.skipif(not RUN_SLOW, reason="COMPAT_SKIP_SLOW set: example 7 (real backoff table) left out")
def test_ex7_default_schedule_real_table(suite):
    """Runs on a second `durin dev` without --backoff-scale, concurrently with everything else."""
    sc = suite.scenario("ex7_default_schedule")
    slow_app = suite.apps["slow"]
    run = sc.finished(slow_app, "sync-systems")

    assert run["status"] == "Completed"
    seen = slow_app.steps(sc.key, "get-data")
    assert [r["attempt"] for r in seen] == [0, 1, 2]
    gap1 = seen[1]["t"] - seen[0]["t"]
    gap2 = seen[2]["t"] - seen[1]["t"]
    assert 15 <= gap1 <= 45 + 0.5, gap1
    assert 30 <= gap2 <= 60 + 0.5, gap2

    attempts = sc.engine.attempts(run["run_id"])
    assert step_attempts(attempts, "get-data") == [(0, "error"), (1, "error"), (2, "ok")]
