-- Schema version 2: wake-ups for the other instances. Instances LISTEN on two channels:
--
-- `durin_jobs`: a job that becomes claimable soon (a new job, a job released for its retry, one made due
-- now, a lease expired at once), so that every scheduler looks at the queue at once instead of at its next
-- planned look. Jobs due later than two seconds from now are not announced: every scheduler looks at the
-- store at least once a second and then sleeps until the earliest due time, so it finds them on time
-- without a wake-up. Claims are never announced (their lease lies in the future).
--
-- `durin_functions`: an app's functions changed (a sync through any instance), so that every instance
-- matches events against them at once rather than at its next poll.
--
-- PostgreSQL folds identical notifications of one transaction into one, sent at commit (never on rollback).

CREATE FUNCTION durin_announce_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('durin_jobs', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_announce
    AFTER INSERT OR UPDATE OF due_at, leased_until ON jobs
    FOR EACH ROW
    WHEN (coalesce(NEW.leased_until, NEW.due_at)
          <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 2000)
    EXECUTE FUNCTION durin_announce_job();

CREATE FUNCTION durin_announce_functions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('durin_functions', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER functions_announce
    AFTER INSERT OR UPDATE OR DELETE ON functions
    FOR EACH STATEMENT
    EXECUTE FUNCTION durin_announce_functions();
