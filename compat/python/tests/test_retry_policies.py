"""Retry policies configured on Durin's side only (issue 8, features 1 and 2) for an app on the official
Python SDK (inngest==0.5.19) whose code sets nothing: `durin dev --retry-policies FILE` gives step
`call-bank` 1 retry 200 ms apart, step `ledger` an exponential backoff (100, 200, 300 ms: 400 capped), and
function `sync` 0 retries instead of its registered 4. The attempts Durin records show each, exactly."""

from __future__ import annotations

import pytest

from tests import harness
from tests.harness import wait_until
from tests.policy_stack import PolicyStack, running

POLICIES = {
    "policies": [
        {"function": "compat-py-policies-charge", "step": "call-bank", "retries": 1,
         "backoff": {"kind": "fixed", "interval_ms": 200}},
        {"function": "compat-py-policies-charge", "step": "ledger",
         "backoff": {"kind": "exponential", "initial_interval_ms": 100, "backoff_coefficient": 2.0,
                     "maximum_interval_ms": 300}},
        {"function": "compat-py-policies-sync", "retries": 0},
    ]
}


class Stack(PolicyStack):
    def __init__(self, tmp) -> None:
        super().__init__(tmp, "policies", "apps.policy_app", POLICIES, function_count=2)

    def run_of(self, name: str) -> dict:
        answer = self.http.post(f"{self.url}/e/any-key", json={"name": name, "data": {}}).json()
        event_id = answer["ids"][0]

        def ended() -> dict | None:
            runs = self.get(f"/v1/events/{event_id}/runs")
            return runs[0] if runs and runs[0]["status"] in harness.FINAL_STATUSES else None

        return wait_until(f"the run of {name}", ended, timeout=60)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from running(Stack(tmp_path_factory.mktemp("policies")))


def test_a_steps_retries_and_backoff_come_from_durins_policy_file(stack: Stack) -> None:
    run = stack.run_of("policy/charge")
    assert run["status"] == "Completed", run
    assert run["output"] == {"caught": True, "ledger": "written"}, run
    # call-bank: 1 retry (the function has 4), 200 ms later; then it failed for good and was caught.
    assert stack.gaps(run["run_id"], "call-bank") == [(0, "error", 200), (1, "error", None)]
    # ledger: the function's 4 retries, with the exponential backoff 100, 200, 300 (400 capped) ms.
    assert stack.gaps(run["run_id"], "ledger") == [
        (0, "error", 100), (1, "error", 200), (2, "error", 300), (3, "ok", None),
    ]


def test_a_function_entry_replaces_the_registered_retries(stack: Stack) -> None:
    run = stack.run_of("policy/sync")
    assert run["status"] == "Failed", run
    attempts = stack.get(f"/v1/runs/{run['run_id']}/attempts")
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(0, "error")], attempts
    functions = stack.get("/v1/functions")
    assert [f["retries"] for f in functions if f["id"] == "compat-py-policies-sync"] == [0], functions
