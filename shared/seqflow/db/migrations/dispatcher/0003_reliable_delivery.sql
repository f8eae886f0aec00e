-- Reliable, paced delivery (issue 11): a claimed send carries its whole request so a sweeper can finish it
-- after a crash; leases are short and measured on the database's clock (one arbiter for every replica);
-- provider-call times pace sends per sequence and channel; a hard bounce is its own status.
ALTER TABLE {schema}.ledger DROP CONSTRAINT IF EXISTS ledger_status_check;
ALTER TABLE {schema}.ledger ADD CONSTRAINT ledger_status_check
    CHECK (status IN ('pending', 'sent', 'bounced', 'failed', 'suppressed'));
ALTER TABLE {schema}.ledger
    ADD COLUMN sequence_id     text,
    ADD COLUMN request         jsonb,
    -- the dispatcher process holding the claim; only it renews the lease or records the outcome
    ADD COLUMN owner           text,
    ADD COLUMN claims          integer NOT NULL DEFAULT 1,
    -- wall time (database clock) of the first claim: the age of a stuck send
    ADD COLUMN claimed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- the provider call (with its retries) on the service clock: it began no earlier than started and any
    -- arrival at the provider happened no later than ended (NULL: still in flight)
    ADD COLUMN call_started_at timestamptz,
    ADD COLUMN call_ended_at   timestamptz;

-- The result's dispatch.results message was acked by the broker. A dispatcher that dies between recording
-- a result and that ack leaves it false; the sweeper publishes it then. Rows from before: published.
ALTER TABLE {schema}.ledger ADD COLUMN result_published boolean NOT NULL DEFAULT true;
ALTER TABLE {schema}.ledger ALTER COLUMN result_published SET DEFAULT false;
CREATE INDEX ledger_unpublished_idx ON {schema}.ledger (claimed_until) WHERE NOT result_published AND status <> 'pending';

CREATE INDEX ledger_pending_idx ON {schema}.ledger (claimed_until) WHERE status = 'pending';
CREATE INDEX ledger_calls_idx ON {schema}.ledger (sequence_id, channel, call_ended_at)
    WHERE call_started_at IS NOT NULL;

-- One row per (sequence, channel): its row lock makes pacing exact across dispatcher replicas.
CREATE TABLE {schema}.pacing (
    sequence_id text NOT NULL,
    channel     text NOT NULL,
    PRIMARY KEY (sequence_id, channel)
);

-- Each sequence's rate limits, read from sequence.lifecycle (the dispatcher's own read copy). A send that
-- arrives without `limit` (from a scheduler that does not fill it yet) is paced by this copy; a send that
-- carries its limit is paced by that.
CREATE TABLE {schema}.sequence_limits (
    sequence_id text NOT NULL,
    channel     text NOT NULL,
    count       bigint NOT NULL,
    per_seconds bigint NOT NULL,
    PRIMARY KEY (sequence_id, channel)
);
