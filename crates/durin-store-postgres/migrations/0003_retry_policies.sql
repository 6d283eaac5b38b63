-- Schema version 3, retry policies (issue 8), as SQLite's migration 6: a job's counters beyond its attempt
-- number (per error rule, cool-downs; JSON text, NULL when empty), the retries a run's steps have taken
-- (for a run budget), and why each failed attempt led where it did (JSON text).
--
-- A run can now be `Paused`: its paused jobs are due at i64::MAX (`PAUSED_DUE_AT`), so no claim takes
-- them, and the `jobs_announce` trigger of migration 2 never fires for them (their wake time is never
-- within two seconds); `resume_run` makes them due now, which it announces.
ALTER TABLE jobs ADD COLUMN retry_state TEXT;
ALTER TABLE runs ADD COLUMN retries_used BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN explanation TEXT;
