-- Retry policies (issue 8): a job's counters beyond its attempt number (per error rule, cool-downs), the
-- retries a run's steps have taken (for a run budget), and why each failed attempt led where it did.
ALTER TABLE jobs ADD COLUMN retry_state TEXT;
ALTER TABLE runs ADD COLUMN retries_used INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN explanation TEXT;
