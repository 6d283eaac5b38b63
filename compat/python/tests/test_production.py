"""Production mode: the official Python SDK (inngest==0.5.19) with INNGEST_DEV=0 against a real `durin
serve` that has a signing key, a fallback key and an event key.

- The SDK accepts the requests Durin signs, syncs with its bearer token (the bare hash, as Python sends it)
  and sends events with its event key: a run completes, also in an app mid-rotation (old key as its signing
  key, the new one as its fallback).
- The SDK refuses forged, unsigned and tampered call requests with 401 and accepts one signed the way
  Durin signs (computed here with hmac and hashlib).
- Durin refuses a wrong event key and API calls without the token; no secret shows in its log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time

import httpx
import inngest
import pytest

from tests import harness
from tests.harness import Fatal, Process, wait_until

SIGNING_KEY = f"signkey-test-{secrets.token_hex(32)}"
OLD_KEY = f"signkey-test-{secrets.token_hex(32)}"
EVENT_KEY = f"ev-{secrets.token_hex(16)}"


def secret(key: str) -> str:
    return re.sub(r"^signkey-\w+-", "", key)


def bearer(key: str) -> str:
    """The token the Python SDK sends: the SHA-256 of the hex-decoded secret, without the prefix."""
    return hashlib.sha256(bytes.fromhex(secret(key))).hexdigest()


def sign(key: str, body: bytes, t: int) -> str:
    mac = hmac.new(secret(key).encode(), body + str(t).encode(), hashlib.sha256)
    return f"t={t}&s={mac.hexdigest()}"


def canonical(value: object) -> bytes:
    """RFC 8785 for the plain ASCII values used here: sorted keys, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class Stack:
    def __init__(self, tmp) -> None:
        self.processes: list[Process] = []
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(timeout=10, headers={"authorization": f"Bearer {bearer(SIGNING_KEY)}"})
        self.log_dir = tmp
        clean = {k: v for k, v in os.environ.items() if not k.startswith("INNGEST_")}
        self.apps = {}
        for app_id, key, fallback in [
            ("compat-py-prod", SIGNING_KEY, None),
            ("compat-py-prod-rotating", OLD_KEY, SIGNING_KEY),
        ]:
            port = harness.free_port()
            env = {
                **clean,
                "INNGEST_DEV": "0",
                "INNGEST_BASE_URL": self.url,
                "INNGEST_SIGNING_KEY": key,
                "INNGEST_EVENT_KEY": EVENT_KEY,
                "COMPAT_APP_ID": app_id,
                "COMPAT_PORT": str(port),
                "PYTHONPATH": str(harness.SUITE_DIR),
                "PYTHONUNBUFFERED": "1",
            }
            if fallback:
                env["INNGEST_SIGNING_KEY_FALLBACK"] = fallback
            self.processes.append(Process(app_id, [harness.PYTHON, "-m", "apps.production_app"], env, tmp))
            self.apps[app_id] = f"http://127.0.0.1:{port}/api/inngest"
        durin_bin = os.environ.get("DURIN_BIN") or str(harness.REPO_DIR / "target" / "debug" / "durin")
        argv = [
            durin_bin, "serve", "--port", str(self.port), "--data-dir", str(tmp / "store"),
            "--backoff-scale", "0.01", "--poll-interval", "1",
        ]
        for url in self.apps.values():
            argv += ["-u", url]
        env = {
            **clean,
            "INNGEST_SIGNING_KEY": SIGNING_KEY,
            "INNGEST_SIGNING_KEY_FALLBACK": OLD_KEY,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            "DURIN_LOG": "info",
        }
        self.durin = Process("durin-serve", argv, env, tmp)
        self.processes.append(self.durin)

    def get(self, path: str, token: str | None = "default") -> httpx.Response:
        if token == "default":
            return self.http.get(f"{self.url}{path}")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=10)

    def wait_synced(self) -> None:
        def synced() -> bool:
            for proc in self.processes:
                if not proc.alive():
                    raise Fatal(f"{proc.name} exited:\n{proc.log_tail()}")
            apps = self.get("/v1/apps").json()["data"]
            return all(any(a["url"] == u and a["function_count"] == 2 for a in apps) for u in self.apps.values())

        wait_until("both production apps synced", synced, timeout=30, interval=0.2)

    def runs(self, event_id: str, count: int) -> list[dict]:
        def done() -> list[dict] | None:
            runs = self.get(f"/v1/events/{event_id}/runs").json()["data"]
            if len(runs) == count and all(r["status"] != "Running" for r in runs):
                return runs
            return None

        return wait_until(f"{count} runs of {event_id}", done, timeout=30)

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("production"))
    try:
        stack.wait_synced()
        yield stack
    finally:
        stack.stop()


def sender(stack: Stack, event_key: str) -> inngest.Inngest:
    return inngest.Inngest(app_id="compat-py-prod-sender", is_production=True, event_key=event_key,
                           api_base_url=stack.url, event_api_base_url=stack.url)


def test_runs_on_signed_requests_in_both_apps(stack: Stack) -> None:
    ids = sender(stack, EVENT_KEY).send_sync(inngest.Event(name="prod/two-steps", data={"from": "test"}))
    runs = stack.runs(ids[0], 2)
    for run in runs:
        assert run["status"] == "Completed", run
        assert run["output"] == {"sum": 3, "from": "test"}, run


def test_step_send_event_uses_the_event_key(stack: Stack) -> None:
    ids = sender(stack, EVENT_KEY).send_sync(inngest.Event(name="prod/relay", data={}))
    runs = stack.runs(ids[0], 2)
    assert all(r["status"] == "Completed" for r in runs), runs

    def relayed() -> bool:
        events = stack.get("/v1/events?name=prod/two-steps").json()["data"]
        return len([e for e in events if e["data"].get("from") == "relay"]) == 2

    wait_until("the relayed events", relayed, timeout=30)


def test_durin_refuses_a_wrong_event_key_and_calls_without_the_token(stack: Stack) -> None:
    with pytest.raises(Exception, match="401|event key"):
        sender(stack, "not-the-key").send_sync(inngest.Event(name="prod/two-steps", data={}))
    assert stack.get("/v1/runs", token=None).status_code == 401
    assert stack.get("/v1/runs", token=bearer(f"signkey-test-{secrets.token_hex(32)}")).status_code == 401
    assert stack.get("/v1/runs").status_code == 200
    # The TypeScript spelling of the token (with the prefix) is accepted as well.
    assert stack.get("/v1/runs", token=f"signkey-test-{bearer(SIGNING_KEY)}").status_code == 200


def test_the_sdk_refuses_forged_unsigned_and_tampered_requests(stack: Stack) -> None:
    url = f"{stack.apps['compat-py-prod']}?fnId=compat-py-prod-two-steps&stepId=step"
    call = {
        "ctx": {"attempt": 0, "disable_immediate_execution": False, "run_id": "01J00000000000000000000000",
                "stack": {"current": 0, "stack": []}, "step_id": "step", "use_api": False},
        "event": {"data": {"from": "forged"}, "name": "prod/two-steps", "user": {}},
        "events": [{"data": {"from": "forged"}, "name": "prod/two-steps", "user": {}}],
        "steps": {},
        "use_api": False,
        "version": -1,
    }
    body = canonical(call)
    now = int(time.time())

    def post(headers: dict[str, str], content: bytes = body) -> int:
        return httpx.post(url, content=content, headers={"content-type": "application/json", **headers},
                          timeout=10).status_code

    assert post({}) == 401, "unsigned"
    other = f"signkey-test-{secrets.token_hex(32)}"
    assert post({"x-inngest-signature": sign(other, body, now)}) == 401, "another key"
    assert post({"x-inngest-signature": "t=1&s=nothex"}) == 401, "malformed"
    tampered = canonical({**call, "event": {**call["event"], "data": {"from": "tampered"}}})
    assert post({"x-inngest-signature": sign(SIGNING_KEY, body, now)}, tampered) == 401, "tampered"
    status = post({"x-inngest-signature": sign(SIGNING_KEY, body, now)})
    assert status in (200, 206), f"a request signed like Durin signs runs the function: {status}"


def test_no_secret_in_durins_log(stack: Stack) -> None:
    log = stack.durin.log_path.read_text(errors="replace")
    assert log, "durin logged nothing"
    for value in (secret(SIGNING_KEY), secret(OLD_KEY), EVENT_KEY, bearer(SIGNING_KEY)):
        assert value not in log
