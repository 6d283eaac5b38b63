-- Steps waiting for an event: step.waitForEvent, and step.invoke (which waits for the invoked run to end).
CREATE TABLE pauses (
    pause_id      TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    step_name     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    event_name    TEXT NOT NULL,
    expression    TEXT,
    timeout_memo  TEXT NOT NULL,
    policy        TEXT NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX pauses_by_event ON pauses (event_name);
CREATE INDEX pauses_by_run ON pauses (run_id);
