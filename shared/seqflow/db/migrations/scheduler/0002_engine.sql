-- The scheduler's own copy of what it needs, the engine state per sequence and enrollment,
-- the inbox of inputs waiting for the next tick, and the outbox of messages to publish.
CREATE TABLE {schema}.contacts (
    id text PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE TABLE {schema}.members (
    rollup_id text NOT NULL,
    contact_id text NOT NULL,
    present boolean NOT NULL,
    PRIMARY KEY (rollup_id, contact_id)
);

CREATE TABLE {schema}.sequences (
    id text PRIMARY KEY,
    name text NOT NULL,
    rollup_id text NOT NULL,
    template jsonb NOT NULL,
    activation jsonb NOT NULL,
    primary_user jsonb NOT NULL,
    activated_at timestamptz NOT NULL,
    state jsonb NOT NULL,
    advanced_to timestamptz NOT NULL,
    wake_at timestamptz,
    ended boolean NOT NULL DEFAULT false
);
CREATE INDEX sequences_wake ON {schema}.sequences (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX sequences_rollup ON {schema}.sequences (rollup_id) WHERE NOT ended;

CREATE TABLE {schema}.enrollments (
    sequence_id text NOT NULL,
    contact_id text NOT NULL,
    state jsonb NOT NULL,
    finished boolean NOT NULL DEFAULT false,
    PRIMARY KEY (sequence_id, contact_id)
);
CREATE INDEX enrollments_contact ON {schema}.enrollments (contact_id) WHERE NOT finished;

CREATE TABLE {schema}.inbox (
    id bigserial PRIMARY KEY,
    sequence_id text NOT NULL,
    event_id text NOT NULL,
    input jsonb NOT NULL,
    UNIQUE (sequence_id, event_id)
);

CREATE TABLE {schema}.outbox (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key text NOT NULL,
    value bytea NOT NULL
);

CREATE TABLE {schema}.suppressed (
    address text PRIMARY KEY
);
