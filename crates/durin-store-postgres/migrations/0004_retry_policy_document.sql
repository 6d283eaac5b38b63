-- Schema version 4, as SQLite's migration 7: the retry policy document (issue 8), the JSON of a
-- `--retry-policies` file or of `PUT /v1/policies`, as given (text, as every JSON column), in one row
-- (id 1), with when it was saved (Unix milliseconds). No row: none was ever saved.
--
-- Runs take their function's policy when they start, from the document their instance holds: a change is
-- announced on `durin_functions` (migration 2), so that every instance reloads the document at once, as it
-- reloads the functions after a sync.
CREATE TABLE retry_policy_document (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    document   TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TRIGGER retry_policy_document_announce
    AFTER INSERT OR UPDATE OR DELETE ON retry_policy_document
    FOR EACH STATEMENT
    EXECUTE FUNCTION durin_announce_functions();
