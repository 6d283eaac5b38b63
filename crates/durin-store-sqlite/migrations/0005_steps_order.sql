-- Step results are read in completion order and appended after the run's last position: index that order.
CREATE INDEX steps_by_run_position ON steps (run_id, position);
