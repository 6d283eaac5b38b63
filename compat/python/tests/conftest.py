"""Session set-up: one `durin dev` (backoff scaled by 0.01) serving two apps (Flask/sync and FastAPI/async),
plus, for worked example 7 only, a second `durin dev` with the real default backoff table and its own
Flask app. Every scenario's event is sent once everything is synced, so all scenarios run concurrently;
each test then waits for its own runs. Everything started here is stopped at the end (process groups)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
import uuid

import inngest
import pytest

from tests import harness
from tests.harness import App, Engine, Fatal, Process, wait_until
from tests.scenarios import SCENARIOS

FRAMEWORKS = ["flask", "fastapi"]
# Functions each app serves: 19 of its own plus the failure handler the SDK adds for `doomed`.
FUNCTION_SLUGS = [
    "click-recorder",
    "sync-systems",
    "user-weekly-digest",
    "send-welcome-notification",
    "retries-zero",
    "body-errors",
    "sequence",
    "parallel",
    "sleepy",
    "loop",
    "relay",
    "relay-receiver",
    "doomed",
    "doomed-failure",
    "waiter",
    "invoker",
    "invoked-add",
    "invoked-fails",
    "invoked-slow",
    "invoke-fanout",
]
RUN_SLOW = os.environ.get("COMPAT_SKIP_SLOW", "") not in ("1", "true", "yes")


@dataclasses.dataclass
class Scenario:
    name: str
    key: str
    event_id: str
    engine: Engine
    sent_at: float
    budget: float

    @property
    def deadline(self) -> float:
        """Every scenario started at `sent_at`; all of its runs must have ended by this time."""
        return self.sent_at + self.budget

    def finished(self, app: App, fn_slug: str) -> dict:
        """This app's run for this scenario, once it has ended."""
        return self.engine.finished_run(self.event_id, app.fn_id(fn_slug), self.deadline)


class Suite:
    def __init__(self) -> None:
        self.processes: list[Process] = []
        self.apps: dict[str, App] = {}
        self.engines: dict[str, Engine] = {}
        self.scenarios: dict[str, Scenario] = {}

    def scenario(self, name: str) -> Scenario:
        if name not in self.scenarios:
            pytest.skip(f"scenario {name} was not started")
        return self.scenarios[name]

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()


def _durin_bin() -> str:
    path = os.environ.get("DURIN_BIN") or str(harness.REPO_DIR / "target" / "debug" / "durin")
    if not os.path.isfile(path):
        raise RuntimeError(f"durin binary not found at {path}; run `cargo build -p durin` or set DURIN_BIN")
    return path


def _start_app(suite: Suite, framework: str, app_id: str, engine_port: int, log_dir) -> App:
    port = harness.free_port()
    env = {
        **os.environ,
        "INNGEST_DEV": f"http://127.0.0.1:{engine_port}",
        "COMPAT_APP_ID": app_id,
        "COMPAT_FRAMEWORK": framework,
        "COMPAT_PORT": str(port),
        "PYTHONPATH": str(harness.SUITE_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    if framework == "flask":
        argv = [harness.PYTHON, "-m", "apps.flask_app"]
    else:
        argv = [
            harness.PYTHON, "-m", "uvicorn", "apps.fastapi_app:app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]
    proc = Process(app_id, argv, env, log_dir)
    suite.processes.append(proc)
    return App(framework, app_id, port, proc)


def _serving(app: App) -> bool:
    if not app.process.alive():
        raise Fatal(f"{app.app_id} exited:\n{app.process.log_tail()}")
    return app.http.get(app.serve_url).status_code == 200


def _start_engine(suite: Suite, name: str, port: int, apps: list[App], scale: float | None, tmp, log_dir) -> Engine:
    data_dir = tmp / f"durin-{name}"
    argv = [
        _durin_bin(), "dev",
        "--port", str(port),
        "--data-dir", str(data_dir),
        "--no-discovery", "--no-poll",
    ]
    for app in apps:
        argv += ["-u", app.serve_url]
    if scale is not None:
        argv += ["--backoff-scale", str(scale)]
    proc = Process(f"durin-{name}", argv, {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")}, log_dir)
    suite.processes.append(proc)
    return Engine(name, port, proc)


def _wait_synced(engine: Engine, apps: list[App]) -> None:
    def synced() -> bool:
        if not engine.process.alive():
            raise Fatal(f"durin exited:\n{engine.process.log_tail()}")
        listed = {a["name"]: a for a in engine.get("/v1/apps")}
        fns = {f["id"] for f in engine.get("/v1/functions")}
        for app in apps:
            entry = listed.get(app.app_id)
            if not entry or not entry.get("synced_at"):
                return False
            if any(app.fn_id(slug) not in fns for slug in FUNCTION_SLUGS):
                return False
        return True

    wait_until(f"engine {engine.name} to list {[a.app_id for a in apps]}", synced, timeout=30, interval=0.2)


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    log_dir = harness.SUITE_DIR / ".artifacts"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir()
    tmp = tmp_path_factory.mktemp("durin")
    s = Suite()
    try:
        main_port = harness.free_port()
        main_apps = [
            _start_app(s, fw, f"compat-py-{fw}", main_port, log_dir) for fw in FRAMEWORKS
        ]
        slow_port = harness.free_port()
        slow_apps = [_start_app(s, "flask", "compat-py-slow", slow_port, log_dir)] if RUN_SLOW else []
        for app in main_apps + slow_apps:
            wait_until(f"{app.app_id} to serve", lambda app=app: _serving(app), timeout=30)
        main = _start_engine(s, "main", main_port, main_apps, harness.SCALE, tmp, log_dir)
        engines = [(main, main_apps)]
        if RUN_SLOW:
            slow = _start_engine(s, "slow", slow_port, slow_apps, None, tmp, log_dir)
            engines.append((slow, slow_apps))
        for engine, apps in engines:
            _wait_synced(engine, apps)
            s.engines[engine.name] = engine
        for app in main_apps:
            s.apps[app.framework] = app
        if RUN_SLOW:
            s.apps["slow"] = slow_apps[0]

        # Kick every scenario off now, one batch per engine, through the SDK's own client.
        for engine_name, engine in s.engines.items():
            names = [n for n, (e, _, _) in SCENARIOS.items() if e == engine_name]
            keys = {n: f"{n}-{uuid.uuid4().hex[:10]}" for n in names}
            events = [
                inngest.Event(name=SCENARIOS[n][1], data={**SCENARIOS[n][2], "key": keys[n]})
                for n in names
            ]
            sent_at = time.time()
            ids = engine.send(events)
            assert len(ids) == len(names), f"/e/ answered {ids!r} for {len(names)} events"
            for n, event_id in zip(names, ids):
                budget = 130.0 if engine_name == "slow" else 40.0
                s.scenarios[n] = Scenario(n, keys[n], event_id, engine, sent_at, budget)
        yield s
    except BaseException:
        for p in s.processes:
            sys.stderr.write(f"\n--- {p.name} log tail ---\n{p.log_tail()}\n")
        raise
    finally:
        s.stop()


@pytest.fixture(params=FRAMEWORKS)
def app(request, suite) -> App:
    return suite.apps[request.param]


@pytest.fixture
def engine(suite) -> Engine:
    return suite.engines["main"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus != 0:
        terminalreporter.write_line(
            f"engine and app logs: {harness.SUITE_DIR / '.artifacts'}"
        )
