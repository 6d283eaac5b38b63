"""Processes and HTTP helpers for the suite: a real `durin dev`, real apps, the REST API, the app recorders."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
import typing
from pathlib import Path

import httpx
import inngest

SUITE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = SUITE_DIR.parent.parent
PYTHON = str(SUITE_DIR / ".venv" / "bin" / "python")

# Default backoff table (retries.md R4), in seconds, and the scale the main engine runs with.
TABLE = [15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200]
JITTER_MAX = 30.0
SCALE = 0.01
# Slack above the scaled window (scheduling on a shared 2-core machine); lower bounds stay strict.
TOL = 1.0

FINAL_STATUSES = {"Completed", "Failed", "Cancelled"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_setup() -> None:
    """In the child: own session (so the whole group can be killed) and die with the test process."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=SUITE_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_child_setup,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self._log.close()

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


class Fatal(Exception):
    """Raised by a `wait_until` check to stop waiting at once."""


def wait_until(what: str, check: typing.Callable[[], typing.Any], timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last_err: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Fatal:
            raise
        except Exception as err:  # noqa: BLE001 - keep polling, report the last error
            last_err = err
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_err!r})")


class App:
    """One app process: its framework, app id and serve URL."""

    def __init__(self, framework: str, app_id: str, port: int, process: Process) -> None:
        self.framework = framework
        self.app_id = app_id
        self.port = port
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.serve_url = f"{self.base}/api/inngest"
        self.http = httpx.Client(timeout=10)

    def fn_id(self, slug: str) -> str:
        return f"{self.app_id}-{slug}"

    def records(self, key: str) -> list[dict]:
        resp = self.http.get(f"{self.base}/compat/records", params={"key": key})
        resp.raise_for_status()
        return resp.json()

    def steps(self, key: str, step: str) -> list[dict]:
        return [r for r in self.records(key) if r["step"] == step]

    def attempts_seen(self, key: str, step: str) -> list[int]:
        return [r["attempt"] for r in self.steps(key, step)]

    def wire(self, key: str, fn_slug: str | None = None) -> list[dict]:
        """Call requests the engine sent for this key, with the SDK's answers, in arrival order."""
        resp = self.http.get(f"{self.base}/compat/wire", params={"key": key})
        resp.raise_for_status()
        items = sorted(resp.json(), key=lambda w: w["t"])
        if fn_slug is not None:
            items = [w for w in items if w["fn_id"] == self.fn_id(fn_slug)]
        return items


class Engine:
    """One `durin dev` process and its REST API."""

    def __init__(self, name: str, port: int, process: Process) -> None:
        self.name = name
        self.port = port
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def get(self, path: str) -> typing.Any:
        resp = self.http.get(path)
        resp.raise_for_status()
        return resp.json()["data"]

    def send(self, events: list[inngest.Event]) -> list[str]:
        """Sends events through the SDK's own client (`POST /e/{key}`); answers their ids."""
        client = inngest.Inngest(
            app_id="compat-py-tests",
            is_production=False,
            api_base_url=self.url,
            event_api_base_url=self.url,
        )
        return client.send_sync(events)

    def events(self, name: str, limit: int = 1000) -> list[dict]:
        resp = self.http.get("/v1/events", params={"name": name, "limit": limit})
        resp.raise_for_status()
        return resp.json()["data"]

    def jobs(self, run_id: str) -> list[dict]:
        return self.get(f"/v1/runs/{run_id}/jobs")

    def event_runs(self, event_id: str) -> list[dict]:
        return self.get(f"/v1/events/{event_id}/runs")

    def run(self, run_id: str) -> dict:
        return self.get(f"/v1/runs/{run_id}")

    def attempts(self, run_id: str) -> list[dict]:
        return self.get(f"/v1/runs/{run_id}/attempts")

    def run_for(self, event_id: str, fn_id: str, timeout: float = 10) -> dict:
        """The run of `fn_id` started by `event_id` (waits for it to exist)."""

        def find() -> dict | None:
            for r in self.event_runs(event_id):
                if r["function_id"] == fn_id:
                    return r
            return None

        return wait_until(f"a run of {fn_id} for event {event_id}", find, timeout)

    def wait_final(self, run_id: str, timeout: float = 30) -> dict:
        return wait_until(
            f"run {run_id} to end",
            lambda: (r := self.run(run_id))["status"] in FINAL_STATUSES and r,
            timeout,
            interval=0.1,
        )

    def finished_run(self, event_id: str, fn_id: str, deadline: float | None = None) -> dict:
        """Waits for the run of `fn_id` for `event_id` to end, until `deadline` (time.time()) at the latest,
        so that a stuck engine fails every test by one shared deadline instead of one timeout each."""
        deadline = deadline if deadline is not None else time.time() + 30
        run = self.run_for(event_id, fn_id, timeout=max(0.5, deadline - time.time()))
        return self.wait_final(run["run_id"], timeout=max(0.5, deadline - time.time()))


def scaled_window(failed_attempt: int, scale: float = SCALE) -> tuple[float, float]:
    """[min, max] seconds between a failed attempt and the next one, per R4 under `scale`."""
    base = TABLE[min(failed_attempt, len(TABLE) - 1)]
    return base * scale, (base + JITTER_MAX) * scale


def assert_backoff_gaps(times: list[float], first_failed: int = 0, scale: float = SCALE, tol: float = TOL) -> None:
    """Consecutive attempts of one job: the gap after failed attempt n lies in R4's window (scaled)."""
    for i in range(1, len(times)):
        n = first_failed + i - 1
        lo, hi = scaled_window(n, scale)
        gap = times[i] - times[i - 1]
        assert lo <= gap <= hi + tol, f"gap after failed attempt {n} was {gap:.3f}s, expected [{lo:.3f}, {hi:.3f}] + {tol}"


def step_attempts(attempts: list[dict], step_name: str | None) -> list[tuple[int, str]]:
    """(attempt, outcome) of the engine's attempt records for one step (None: bare discovery attempts)."""
    return [(a["attempt"], a["outcome"]) for a in attempts if a["step_name"] == step_name]
