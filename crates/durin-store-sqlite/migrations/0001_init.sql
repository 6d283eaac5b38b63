-- Durin's embedded store, schema version 1. Times are Unix milliseconds; JSON is text.

CREATE TABLE apps (
    url          TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    sdk          TEXT,
    framework    TEXT,
    synced_at    INTEGER,
    error        TEXT
);

CREATE TABLE functions (
    id           TEXT PRIMARY KEY,
    app_url      TEXT NOT NULL,
    config       TEXT NOT NULL,
    archived     INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE events (
    internal_id  TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE INDEX events_by_name ON events (name, internal_id);

CREATE TABLE runs (
    run_id            TEXT PRIMARY KEY,
    function_id       TEXT NOT NULL,
    event_internal_id TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL,
    status            TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    ended_at          INTEGER,
    output            TEXT,
    request_version   INTEGER NOT NULL DEFAULT -1,
    disable_immediate INTEGER NOT NULL DEFAULT 0,
    UNIQUE (function_id, idempotency_key)
);
CREATE INDEX runs_by_event ON runs (event_internal_id);
CREATE INDEX runs_by_status ON runs (status, run_id);

CREATE TABLE steps (
    run_id     TEXT NOT NULL,
    step_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    memo       TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
);

CREATE TABLE jobs (
    job_id       TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    step_id      TEXT NOT NULL DEFAULT '',
    step_name    TEXT NOT NULL DEFAULT '',
    attempt      INTEGER NOT NULL,
    policy       TEXT NOT NULL,
    due_at       INTEGER NOT NULL,
    leased_until INTEGER,
    UNIQUE (run_id, kind, step_id)
);
-- Claiming looks for the earliest wake time: the due time of a free job, the lease expiry of a leased one.
CREATE INDEX jobs_by_wake ON jobs (coalesce(leased_until, due_at));

CREATE TABLE attempts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    step_id         TEXT,
    step_name       TEXT,
    attempt         INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    error           TEXT,
    next_attempt_at INTEGER
);
CREATE INDEX attempts_by_run ON attempts (run_id, seq);
