"""A `durin dev --retry-policies FILE` and one app of `apps/` synced with it: the set-up the retry policy
tests share (issue 8). Each test module subclasses `PolicyStack` with the helpers it needs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from tests import harness
from tests.harness import Fatal, Process, wait_until


class PolicyStack:
    def __init__(self, tmp: Path, name: str, app_module: str, policies: dict, function_count: int) -> None:
        self.tmp = tmp
        self.function_count = function_count
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app_port = harness.free_port()
        self.app_base = f"http://127.0.0.1:{app_port}"
        self.app_url = f"{self.app_base}/api/inngest"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("INNGEST_")}
        policy_file = tmp / "policies.json"
        policy_file.write_text(json.dumps(policies))
        durin_bin = os.environ.get("DURIN_BIN") or str(harness.REPO_DIR / "target" / "debug" / "durin")
        self.durin = Process(f"durin-{name}", [
            durin_bin, "dev", "--no-discovery", "--port", str(self.port), "--data-dir", str(tmp / "store"),
            "--retry-policies", str(policy_file), "--poll-interval", "1", "-u", self.app_url,
        ], {**clean, "DURIN_LOG": "info"}, tmp)
        self.app = Process(f"{name}-app", [harness.PYTHON, "-m", app_module], {
            **clean,
            "INNGEST_DEV": "1",
            "INNGEST_BASE_URL": self.url,
            "COMPAT_PORT": str(app_port),
            "PYTHONPATH": str(harness.SUITE_DIR),
            "PYTHONUNBUFFERED": "1",
        }, tmp)
        self.http = httpx.Client(timeout=10)

    def get(self, path: str):
        resp = self.http.get(f"{self.url}{path}")
        resp.raise_for_status()
        return resp.json()["data"]

    def post(self, path: str) -> httpx.Response:
        return self.http.post(f"{self.url}{path}")

    def wait_synced(self) -> None:
        def synced() -> bool:
            for proc in (self.durin, self.app):
                if not proc.alive():
                    raise Fatal(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                apps = self.get("/v1/apps")
            except httpx.HTTPError:
                return False
            return any(a["url"] == self.app_url and a["function_count"] == self.function_count for a in apps)

        wait_until("the app synced", synced, timeout=30, interval=0.2)

    def attempts(self, run_id: str, step: str | None = "-") -> list[dict]:
        """The run's attempt records, those of `step` only unless "-" (None: the body)."""
        return [a for a in self.get(f"/v1/runs/{run_id}/attempts") if step == "-" or a["step_name"] == step]

    def gaps(self, run_id: str, step: str | None) -> list[tuple[int, str, int | None]]:
        """(attempt, outcome, next_attempt_at - ended_at in ms) of the step's attempts (None: the body)."""
        return [
            (a["attempt"], a["outcome"],
             None if a["next_attempt_at_ms"] is None else a["next_attempt_at_ms"] - a["ended_at_ms"])
            for a in self.attempts(run_id, step)
        ]

    def stop(self) -> None:
        self.http.close()
        self.app.stop()
        self.durin.stop()


def running(stack: PolicyStack):
    """A module fixture's body: the stack synced, stopped afterwards whatever happened."""
    try:
        stack.wait_synced()
        yield stack
    finally:
        stack.stop()
