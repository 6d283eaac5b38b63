"""Retry rules per error class, cool-downs and pausing instead of failing (issue 8, features 3-5), configured
on Durin's side only (`durin dev --retry-policies FILE`) for an app on the official Python SDK
(inngest==0.5.19) whose code is ordinary SDK code: `apps/rules_app.py`.

- rules: step `fetch` of `rules` raises, attempt after attempt, the errors its event's `plan` lists. The SDK
  reports an exception's `name` as its class name (`type(err).__name__`, inngest/_internal/step_lib/base.py),
  so the rules match `GatewayTimeout`, `RateLimited`, ... Each rule counts on its own counter with its own
  backoff, an error no rule matches counts on the entry's `retries` (0), `never` fails the step at once.
- cool-down: `RetryAfterError` (1 s) spends no retry while the step's cool-downs add up to at most
  `max_total_ms`; past that it counts as a failure. The Python SDK raises a step's `RetryAfterError` to the
  function level (a 500 with Retry-After, not a step op), so these policies are function entries.
- pause: out of retries, `on_exhausted: "pause"` pauses the run; `POST /v1/runs/{id}/resume` tries the
  step again from attempt 0 with fresh counters, `POST /v1/runs/{id}/fail` fails the run with its error.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests import harness
from tests.harness import wait_until
from tests.policy_stack import PolicyStack, running

APP_ID = "compat-py-rules"
FIXED = lambda ms: {"kind": "fixed", "interval_ms": ms}  # noqa: E731

POLICIES = {
    "policies": [
        {
            "function": f"{APP_ID}-rules",
            "step": "fetch",
            "retries": 0,
            "backoff": FIXED(50),
            "rules": [
                {"error": "GatewayTimeout", "retries": 3, "backoff": FIXED(100)},
                {"error": "RateLimited", "retries": 1, "backoff": FIXED(200)},
                {"error": "RuntimeError", "message_contains": "HTTP 503", "retries": 1},
                {"error": "ValidationError", "never": True},
            ],
        },
        {"function": f"{APP_ID}-cool-wide", "retries": 0, "cool_down": {"max_total_ms": 10_000}},
        {"function": f"{APP_ID}-cool-tight", "retries": 0, "cool_down": {"max_total_ms": 1500}},
        {
            "function": f"{APP_ID}-pause",
            "step": "flaky",
            "retries": 1,
            "backoff": FIXED(50),
            "on_exhausted": "pause",
        },
    ]
}
FUNCTIONS = ["rules", "cool-wide", "cool-tight", "pause"]
# Slack on wall-clock gaps observed by the app (a shared 2-core machine); lower bounds stay strict.
TOL = 1.0

T = ["GatewayTimeout", "upstream timed out"]
R = ["RateLimited", "429 too many requests"]


class Stack(PolicyStack):
    def __init__(self, tmp) -> None:
        super().__init__(tmp, "rules", "apps.rules_app", POLICIES, function_count=len(FUNCTIONS))

    def start(self, name: str, data: dict) -> tuple[str, str]:
        """Sends the event with a fresh key; answers (key, run id) once the run exists."""
        key = f"{name}-{uuid.uuid4()}"
        answer = self.http.post(f"{self.url}/e/any-key", json={"name": name, "data": {"key": key, **data}}).json()
        event_id = answer["ids"][0]
        run = wait_until(f"the run of {name}", lambda: (runs := self.get(f"/v1/events/{event_id}/runs")) and runs[0],
                         timeout=15)
        return key, run["run_id"]

    def wait_status(self, run_id: str, statuses: set[str], timeout: float = 30) -> dict:
        return wait_until(
            f"run {run_id} in {statuses}",
            lambda: (r := self.get(f"/v1/runs/{run_id}"))["status"] in statuses and r,
            timeout,
        )

    def run_of(self, name: str, data: dict, timeout: float = 30) -> tuple[str, dict]:
        key, run_id = self.start(name, data)
        return key, self.wait_status(run_id, harness.FINAL_STATUSES, timeout)

    def records(self, key: str, kind: str = "records") -> list[dict]:
        resp = self.http.get(f"{self.app_base}/compat/{kind}", params={"key": key})
        resp.raise_for_status()
        return resp.json()


def explanations(attempts: list[dict]) -> list[dict]:
    """The `explanation` of each failed attempt (`GET /v1/runs/{id}/attempts`): why Durin retried, cooled
    down, gave up or paused."""
    failed = [a for a in attempts if a["outcome"] != "ok"]
    for a in failed:
        assert a.get("explanation"), f"a failed attempt without an explanation: {a}"
    return [a["explanation"] for a in failed]


def verdicts(attempts: list[dict]) -> list[tuple]:
    """(verdict, rule, failures, retries, delay_ms) of each failed attempt's explanation."""
    return [(e["verdict"], e.get("rule"), e["failures"], e["retries"], e.get("delay_ms"))
            for e in explanations(attempts)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running(Stack(tmp_path_factory.mktemp("rules")))


# ---- rules per error class (feature 3) ------------------------------------------------------------------


def test_each_rule_counts_on_its_own_counter_and_the_step_fails_when_one_is_spent(stack: Stack) -> None:
    # GatewayTimeout allows 3 retries 100 ms apart, RateLimited 1 retry 200 ms apart: T R T T R gives up on
    # the second RateLimited (attempt 4), although only 4 of the 5 failures were that rule's neighbour's.
    key, run = stack.run_of("rules/run", {"plan": [T, R, T, T, R]})
    assert run["status"] == "Completed", run
    assert run["output"] == {"caught": {"name": "RateLimited", "message": "429 too many requests"}}, run
    assert stack.gaps(run["run_id"], "fetch") == [
        (0, "error", 100), (1, "error", 200), (2, "error", 100), (3, "error", 100), (4, "error", None),
    ]
    assert [r["attempt"] for r in stack.records(key)] == [0, 1, 2, 3, 4]
    # The SDK was always told another attempt follows, so it never gave up on its own (StepError, never
    # StepFailed), and Durin decided each failure.
    wire = [w for w in stack.records(key, "wire") if w["ops"] and w["ops"][0][1] == "fetch"]
    assert [(w["attempt"], w["ops"][0][0]) for w in wire] == [(n, "StepError") for n in range(5)], wire
    assert all(w["max_attempts"] >= w["attempt"] + 2 for w in wire), wire
    found = verdicts(stack.attempts(run["run_id"], "fetch"))
    assert found == [
        ("retry", "GatewayTimeout", 1, 3, 100),
        ("retry", "RateLimited", 1, 1, 200),
        ("retry", "GatewayTimeout", 2, 3, 100),
        ("retry", "GatewayTimeout", 3, 3, 100),
        ("give_up", "RateLimited", 2, 1, None),
    ]
    assert all(e["policy"] == "the policy file's entry for the step"
               for e in explanations(stack.attempts(run["run_id"], "fetch"))), found


def test_independent_counters_let_a_step_take_more_attempts_than_any_one_rule(stack: Stack) -> None:
    # T R T T, then success at attempt 4: five attempts, while no rule allows more than 3 retries and the
    # entry's own count is 0.
    key, run = stack.run_of("rules/run", {"plan": [T, R, T, T]})
    assert run["status"] == "Completed", run
    assert run["output"] == {"fetch": {"fetched_at_attempt": 4}}, run
    assert stack.gaps(run["run_id"], "fetch") == [
        (0, "error", 100), (1, "error", 200), (2, "error", 100), (3, "error", 100), (4, "ok", None),
    ]
    assert [r["attempt"] for r in stack.records(key)] == [0, 1, 2, 3, 4]


def test_a_rule_gives_up_after_its_own_retries(stack: Stack) -> None:
    key, run = stack.run_of("rules/run", {"plan": [T, T, T, T, T]})
    assert run["status"] == "Completed", run
    assert run["output"] == {"caught": {"name": "GatewayTimeout", "message": "upstream timed out"}}, run
    assert stack.gaps(run["run_id"], "fetch") == [
        (0, "error", 100), (1, "error", 100), (2, "error", 100), (3, "error", None),
    ]
    assert [r["attempt"] for r in stack.records(key)] == [0, 1, 2, 3]
    found = verdicts(stack.attempts(run["run_id"], "fetch"))
    assert found[-1] == ("give_up", "GatewayTimeout", 4, 3, None), found


def test_a_message_rule_and_an_error_no_rule_matches(stack: Stack) -> None:
    # RuntimeError with "HTTP 503" in its message matches the message rule (1 retry, the entry's 50 ms
    # backoff); a RuntimeError without it matches no rule and counts on the entry's retries, 0: it fails.
    plan = [["RuntimeError", "HTTP 503 from upstream"], ["RuntimeError", "connection reset"]]
    key, run = stack.run_of("rules/run", {"plan": plan})
    assert run["status"] == "Completed", run
    assert run["output"] == {"caught": {"name": "RuntimeError", "message": "connection reset"}}, run
    assert stack.gaps(run["run_id"], "fetch") == [(0, "error", 50), (1, "error", None)]
    found = verdicts(stack.attempts(run["run_id"], "fetch"))
    assert found == [
        ("retry", 'RuntimeError ~ "HTTP 503"', 1, 1, 50),
        ("give_up", None, 1, 0, None),
    ]


def test_a_never_rule_fails_the_step_on_its_first_attempt(stack: Stack) -> None:
    key, run = stack.run_of("rules/run", {"plan": [["ValidationError", "the order has no lines"], T]})
    assert run["status"] == "Completed", run
    assert run["output"] == {"caught": {"name": "ValidationError", "message": "the order has no lines"}}, run
    fetch = stack.attempts(run["run_id"], "fetch")
    assert [(a["attempt"], a["next_attempt_at_ms"]) for a in fetch] == [(0, None)], fetch
    assert fetch[0]["error"]["name"] == "ValidationError", fetch
    assert [r["attempt"] for r in stack.records(key)] == [0]
    found = verdicts(fetch)
    assert found == [("give_up", "ValidationError", 1, 0, None)]


# ---- cool-downs (feature 4) -----------------------------------------------------------------------------


def test_retry_after_within_the_cool_down_spends_no_retry(stack: Stack) -> None:
    # retries 0, and three Retry-After of 1 s: each a cool-down (3 s of the 10 s allowance), the fourth
    # attempt succeeds.
    key, run = stack.run_of("rules/cool-wide", {"times": 3})
    assert run["status"] == "Completed", run
    assert run["output"] == {"done_at_attempt": 3}, run
    seen = stack.records(key)
    assert [r["attempt"] for r in seen] == [0, 1, 2, 3]
    for before, after in zip(seen, seen[1:]):
        gap = after["t"] - before["t"]
        assert 0.9 <= gap <= 1.0 + TOL, f"a cool-down of {gap:.3f} s, expected the 1 s the app asked for"
    attempts = stack.attempts(run["run_id"])
    failed = [a for a in attempts if a["outcome"] != "ok"]
    assert [(a["attempt"], a["outcome"]) for a in failed] == [(0, "retry_after"), (1, "retry_after"),
                                                               (2, "retry_after")], attempts
    for a in failed:
        assert 900 <= a["next_attempt_at_ms"] - a["ended_at_ms"] <= 1000, a
    found = verdicts(attempts)
    assert [(v, rule, failures, retries) for v, rule, failures, retries, _ in found] == [
        ("cool_down", None, 0, 0)] * 3, found


def test_retry_after_past_the_cool_down_allowance_counts_as_a_failure(stack: Stack) -> None:
    # 1500 ms of cool-down: the first 1 s Retry-After fits, the second (about 2 s in all) does not and counts
    # on the retries, 0: the run fails at once on attempt 1.
    key, run = stack.run_of("rules/cool-tight", {"times": 3})
    assert run["status"] == "Failed", run
    assert run["output"]["code"] == "retry_after_error", run
    assert [r["attempt"] for r in stack.records(key)] == [0, 1]
    attempts = stack.attempts(run["run_id"])
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(0, "retry_after"), (1, "retry_after")], attempts
    assert 900 <= attempts[0]["next_attempt_at_ms"] - attempts[0]["ended_at_ms"] <= 1000, attempts
    assert attempts[1]["next_attempt_at_ms"] is None, attempts
    # It failed at once, without waiting for the second second it asked for.
    assert attempts[1]["ended_at_ms"] - attempts[1]["started_at_ms"] < 1000, attempts
    found = explanations(attempts)
    assert [e["verdict"] for e in found] == ["cool_down", "give_up"], found
    assert all(e["policy"] == "the policy file's entry for the function" for e in found), found
    assert "cool-down allowance is spent" in found[1]["reason"], found


# ---- pause instead of failing (feature 5) ---------------------------------------------------------------


def start_paused(stack: Stack) -> tuple[str, str, str]:
    """A run of `pause` whose step has spent its retry (2 attempts, 50 ms apart) and paused the run."""
    flag = str(stack.tmp / f"flag-{uuid.uuid4()}")
    key, run_id = stack.start("rules/pause", {"flag": flag})
    run = stack.wait_status(run_id, {"Paused"} | harness.FINAL_STATUSES)
    assert run["status"] == "Paused", run
    # The run says why: the step, its error, its attempts.
    paused = run["paused"]
    assert (paused["step"], paused["attempts"], paused["error"]["message"]) == ("flaky", 2, "the flag is down"), run
    assert "pauses the run" in paused["reason"], run
    # Its job waits for an operator, with no due time.
    assert [j["paused"] for j in stack.get(f"/v1/runs/{run_id}/jobs")] == [True]
    return key, run_id, flag


def test_out_of_retries_the_run_pauses_and_resume_restarts_the_step_at_attempt_0(stack: Stack) -> None:
    key, run_id, flag = start_paused(stack)
    assert stack.gaps(run_id, "flaky") == [(0, "error", 50), (1, "error", None)]
    found = verdicts(stack.attempts(run_id, "flaky"))
    assert found == [("retry", None, 1, 1, 50), ("pause", None, 2, 1, None)], found
    # Paused: nothing is tried any more.
    time.sleep(1.0)
    assert stack.get(f"/v1/runs/{run_id}")["status"] == "Paused"
    assert [r["attempt"] for r in stack.records(key)] == [0, 1]

    with open(flag, "w") as f:
        f.write("up")
    resp = stack.post(f"/v1/runs/{run_id}/resume")
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.json()["data"]["status"] == "Running", resp.text
    # A second resume finds it running.
    assert stack.post(f"/v1/runs/{run_id}/resume").status_code == 409
    run = stack.wait_status(run_id, harness.FINAL_STATUSES)
    assert run["status"] == "Completed", run
    assert run["output"] == {"flaky": "up"}, run
    # The step was tried again from attempt 0, with a fresh counter.
    assert stack.gaps(run_id, "flaky") == [(0, "error", 50), (1, "error", None), (0, "ok", None)]
    assert [r["attempt"] for r in stack.records(key)] == [0, 1, 0]


def test_resume_restarts_the_counters_so_the_step_may_pause_again(stack: Stack) -> None:
    # Resumed with the flag still down: two fresh attempts (0 and 1), then paused again.
    key, run_id, flag = start_paused(stack)
    resp = stack.post(f"/v1/runs/{run_id}/resume")
    assert resp.status_code == 200, (resp.status_code, resp.text)
    wait_until("the resumed step to fail twice more", lambda: len(stack.attempts(run_id, "flaky")) == 4, 15)
    run = stack.wait_status(run_id, {"Paused"} | harness.FINAL_STATUSES)
    assert run["status"] == "Paused", run
    assert stack.gaps(run_id, "flaky") == [(0, "error", 50), (1, "error", None), (0, "error", 50), (1, "error", None)]
    assert [r["attempt"] for r in stack.records(key)] == [0, 1, 0, 1]
    resp = stack.post(f"/v1/runs/{run_id}/fail")
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert stack.wait_status(run_id, harness.FINAL_STATUSES)["status"] == "Failed"


def test_fail_ends_a_paused_run_with_the_steps_error(stack: Stack) -> None:
    key, run_id, flag = start_paused(stack)
    resp = stack.post(f"/v1/runs/{run_id}/fail")
    assert resp.status_code == 200, (resp.status_code, resp.text)
    run = stack.wait_status(run_id, harness.FINAL_STATUSES)
    assert run["status"] == "Failed", run
    assert (run["output"]["name"], run["output"]["message"]) == ("RuntimeError", "the flag is down"), run
    assert stack.get(f"/v1/runs/{run_id}/jobs") == []
    # Failed by the operator: the step was not tried again.
    time.sleep(0.5)
    assert [r["attempt"] for r in stack.records(key)] == [0, 1]
    assert [(a["attempt"], a["outcome"]) for a in stack.attempts(run_id, "flaky")] == [(0, "error"), (1, "error")]


def test_resume_and_fail_refuse_a_run_that_is_not_paused(stack: Stack) -> None:
    key, run = stack.run_of("rules/run", {"plan": []})
    assert run["status"] == "Completed", run
    for action in ("resume", "fail"):
        resp = stack.post(f"/v1/runs/{run['run_id']}/{action}")
        assert resp.status_code == 409, (action, resp.status_code, resp.text)
        resp = stack.post(f"/v1/runs/no-such-run/{action}")
        assert resp.status_code == 404, (action, resp.status_code, resp.text)
    assert stack.get(f"/v1/runs/{run['run_id']}")["status"] == "Completed"
