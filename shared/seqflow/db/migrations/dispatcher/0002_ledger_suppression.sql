-- The send ledger (one row per idempotency key, written before the provider is called) and the
-- suppression list (unsubscribed addresses, lower-cased).
CREATE TABLE {schema}.ledger (
    idempotency_key text PRIMARY KEY,
    channel         text NOT NULL,
    address         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    -- A pending row is owned by the dispatcher that claimed it until then; after that (a crash mid-send)
    -- a redelivered request may reclaim it, and the provider deduplicates by the same key.
    claimed_until   timestamptz NOT NULL,
    message_id      text,
    error           text,
    result          jsonb,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE {schema}.suppression (
    address     text PRIMARY KEY,
    reason      text NOT NULL,
    sequence_id text,
    contact_id  text,
    at          timestamptz NOT NULL
);
