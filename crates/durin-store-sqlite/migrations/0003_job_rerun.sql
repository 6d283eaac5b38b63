-- A discovery requested while the run's discovery job is in flight cannot be a second job (one discovery
-- per run); it marks the in-flight job to run again once it is done, with the state as it is then.
ALTER TABLE jobs ADD COLUMN rerun INTEGER NOT NULL DEFAULT 0;
