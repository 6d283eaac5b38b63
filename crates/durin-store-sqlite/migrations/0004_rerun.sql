-- A rerun remembers the run it repeats.
ALTER TABLE runs ADD COLUMN original_run_id TEXT;
