-- Durin's PostgreSQL store, schema version 1: the SQLite schema (migrations 1-5) in one step, plus the lease
-- owner. Times are Unix milliseconds (BIGINT). JSON is text, exactly as serde_json wrote it (as in SQLite).
-- Ids and names compare bytewise (COLLATE "C"), as in SQLite, whatever the database's default collation:
-- cursors (`id < $cursor`) and "newest first" depend on it.

CREATE TABLE apps (
    url          TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL,
    sdk          TEXT,
    framework    TEXT,
    synced_at    BIGINT,
    error        TEXT
);

CREATE TABLE functions (
    id           TEXT COLLATE "C" PRIMARY KEY,
    app_url      TEXT COLLATE "C" NOT NULL,
    config       TEXT NOT NULL,
    archived     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX functions_by_app ON functions (app_url);

CREATE TABLE events (
    internal_id  TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL,
    payload      TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX events_by_name ON events (name, internal_id);

CREATE TABLE runs (
    run_id            TEXT COLLATE "C" PRIMARY KEY,
    function_id       TEXT COLLATE "C" NOT NULL,
    event_internal_id TEXT COLLATE "C" NOT NULL,
    idempotency_key   TEXT COLLATE "C" NOT NULL,
    status            TEXT COLLATE "C" NOT NULL,
    started_at        BIGINT NOT NULL,
    ended_at          BIGINT,
    output            TEXT,
    request_version   BIGINT NOT NULL DEFAULT -1,
    disable_immediate BOOLEAN NOT NULL DEFAULT FALSE,
    original_run_id   TEXT COLLATE "C",
    -- Run creation is idempotent across instances through this constraint (ON CONFLICT DO NOTHING).
    UNIQUE (function_id, idempotency_key)
);
CREATE INDEX runs_by_event ON runs (event_internal_id);
CREATE INDEX runs_by_status ON runs (status, run_id);

CREATE TABLE steps (
    run_id     TEXT COLLATE "C" NOT NULL,
    step_id    TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    position   BIGINT NOT NULL,
    memo       TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
);
CREATE INDEX steps_by_run_position ON steps (run_id, position);

CREATE TABLE jobs (
    job_id       TEXT COLLATE "C" PRIMARY KEY,
    run_id       TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    step_id      TEXT COLLATE "C" NOT NULL DEFAULT '',
    step_name    TEXT NOT NULL DEFAULT '',
    attempt      BIGINT NOT NULL,
    policy       TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    leased_until BIGINT,
    -- The instance holding the lease: `expire_all_leases` releases only its own.
    leased_by    TEXT COLLATE "C",
    -- A discovery requested while this (discovery) job was in flight: run it again once it is done.
    rerun        BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (run_id, kind, step_id)
);
-- Claiming looks for the earliest wake time: the due time of a free job, the lease expiry of a leased one.
CREATE INDEX jobs_by_wake ON jobs ((coalesce(leased_until, due_at)), job_id);

CREATE TABLE attempts (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          TEXT COLLATE "C" NOT NULL,
    job_id          TEXT COLLATE "C" NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL,
    step_id         TEXT COLLATE "C",
    step_name       TEXT,
    attempt         BIGINT NOT NULL,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT NOT NULL,
    outcome         TEXT COLLATE "C" NOT NULL,
    error           TEXT,
    next_attempt_at BIGINT
);
CREATE INDEX attempts_by_run ON attempts (run_id, seq);

-- Steps waiting for an event: step.waitForEvent, and step.invoke (which waits for the invoked run to end).
CREATE TABLE pauses (
    pause_id      TEXT COLLATE "C" PRIMARY KEY,
    run_id        TEXT COLLATE "C" NOT NULL,
    step_id       TEXT COLLATE "C" NOT NULL,
    step_name     TEXT NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    event_name    TEXT COLLATE "C" NOT NULL,
    expression    TEXT,
    timeout_memo  TEXT NOT NULL,
    policy        TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX pauses_by_event ON pauses (event_name);
CREATE INDEX pauses_by_run ON pauses (run_id);
