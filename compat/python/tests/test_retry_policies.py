"""Retry policies configured on Durin's side only (issue 8, features 1 and 2) for an app on the official
Python SDK (inngest==0.5.19) whose code sets nothing: `durin dev --retry-policies FILE` gives step
`call-bank` 1 retry 200 ms apart, step `ledger` an exponential backoff (100, 200, 300 ms: 400 capped), and
function `sync` 0 retries instead of its registered 4. The attempts Durin records show each, exactly."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from tests import harness
from tests.harness import Fatal, Process, wait_until

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


class Stack:
    def __init__(self, tmp) -> None:
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app_port = harness.free_port()
        self.app_url = f"http://127.0.0.1:{app_port}/api/inngest"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("INNGEST_")}
        policy_file = tmp / "policies.json"
        policy_file.write_text(json.dumps(POLICIES))
        durin_bin = os.environ.get("DURIN_BIN") or str(harness.REPO_DIR / "target" / "debug" / "durin")
        self.durin = Process("durin-policies", [
            durin_bin, "dev", "--no-discovery", "--port", str(self.port), "--data-dir", str(tmp / "store"),
            "--retry-policies", str(policy_file), "--poll-interval", "1", "-u", self.app_url,
        ], {**clean, "DURIN_LOG": "info"}, tmp)
        self.app = Process("policy-app", [harness.PYTHON, "-m", "apps.policy_app"], {
            **clean,
            "INNGEST_DEV": "1",
            "INNGEST_BASE_URL": self.url,
            "COMPAT_PORT": str(app_port),
            "PYTHONPATH": str(harness.SUITE_DIR),
            "PYTHONUNBUFFERED": "1",
        }, tmp)

    def get(self, path: str):
        return httpx.get(f"{self.url}{path}", timeout=10).json()["data"]

    def wait_synced(self) -> None:
        def synced() -> bool:
            for proc in (self.durin, self.app):
                if not proc.alive():
                    raise Fatal(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                apps = self.get("/v1/apps")
            except httpx.HTTPError:
                return False
            return any(a["url"] == self.app_url and a["function_count"] == 2 for a in apps)

        wait_until("the app synced", synced, timeout=30, interval=0.2)

    def run_of(self, name: str) -> dict:
        answer = httpx.post(f"{self.url}/e/any-key", json={"name": name, "data": {}}, timeout=10).json()
        event_id = answer["ids"][0]

        def ended() -> dict | None:
            runs = self.get(f"/v1/events/{event_id}/runs")
            return runs[0] if runs and runs[0]["status"] in harness.FINAL_STATUSES else None

        return wait_until(f"the run of {name}", ended, timeout=60)

    def gaps(self, run_id: str, step: str | None) -> list[tuple[int, str, int | None]]:
        """(attempt, outcome, next_attempt_at - ended_at in ms) of the step's attempts (None: the body)."""
        out = []
        for a in self.get(f"/v1/runs/{run_id}/attempts"):
            if a["step_name"] != step:
                continue
            gap = None
            if a["next_attempt_at_ms"] is not None:
                gap = a["next_attempt_at_ms"] - a["ended_at_ms"]
            out.append((a["attempt"], a["outcome"], gap))
        return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("policies"))
    try:
        stack.wait_synced()
        yield stack
    finally:
        stack.app.stop()
        stack.durin.stop()


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
