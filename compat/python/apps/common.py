"""What both apps share: the in-memory recorder the tests read, and the app's identity.

Every function appends what it observed (step, `ctx.attempt`, time) under the scenario `key` carried in
its event's data; the test process reads it back through `GET /compat/records?key=...`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import typing

APP_ID = os.environ.get("COMPAT_APP_ID", "compat-py")
# The name of this app's framework; used in event names a function sends, so that each app's sender
# reaches its own receiver.
FRAMEWORK = os.environ.get("COMPAT_FRAMEWORK", "flask")

# What `waiter` waits for (step.wait_for_event): an approval for its own trigger's key. The event name is
# this app's own, so that an approval sent for one app never resumes the other's wait.
APPROVAL_EVENT = f"compat/wait.approval.{FRAMEWORK}"
APPROVAL_IF = "event.data.key == async.data.key && async.data.approved == true"

logging.basicConfig(level=logging.WARNING)
LOGGER = logging.getLogger(APP_ID)


class UserNotFoundError(Exception):
    """The error `get-user-email` raises in the documentation's `user-weekly-digest`."""


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, list[dict[str, typing.Any]]] = {}

    def add(self, key: str, fn: str, step: str, **fields: typing.Any) -> None:
        entry = {"key": key, "fn": fn, "step": step, "t": time.time(), **fields}
        with self._lock:
            self._by_key.setdefault(key, []).append(entry)

    def get(self, key: str) -> list[dict[str, typing.Any]]:
        with self._lock:
            return list(self._by_key.get(key, []))


RECORDER = Recorder()

# What went over the wire: every call request the engine POSTed to /api/inngest and the SDK's answer
# (status, headers, body), stored under the triggering event's `key`.
WIRE = Recorder()

_WIRE_HEADERS = ("x-inngest-no-retry", "retry-after", "x-inngest-sdk", "x-inngest-req-version")


def record_wire(
    started: float,
    query: typing.Mapping[str, str],
    request_body: bytes,
    status: int,
    headers: typing.Mapping[str, str],
    response_body: bytes,
) -> None:
    try:
        request = json.loads(request_body)
    except ValueError:
        request = None
    try:
        response = json.loads(response_body) if response_body else None
    except ValueError:
        response = response_body.decode(errors="replace")
    try:
        key = request["event"]["data"]["key"]
    except (KeyError, TypeError):
        key = "-"
    lowered = {k.lower(): v for k, v in headers.items()}
    WIRE.add(
        str(key),
        "-",
        "wire",
        t=started,
        fn_id=query.get("fnId"),
        step_id=query.get("stepId"),
        request=request,
        status=status,
        headers={k: lowered[k] for k in _WIRE_HEADERS if k in lowered},
        response=response,
    )


def fails(data: typing.Mapping[str, typing.Any], field: str, attempt: int) -> bool:
    """True while `attempt` is below the failure count the event asked for (`data[field]`)."""
    return attempt < int(data.get(field, 0) or 0)
