-- The retry policy document (issue 8): the JSON of a `--retry-policies` file or of `PUT /v1/policies`, as
-- given, in one row (id 1), with when it was saved (Unix milliseconds). No row: none was ever saved.
CREATE TABLE retry_policy_document (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    document   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
