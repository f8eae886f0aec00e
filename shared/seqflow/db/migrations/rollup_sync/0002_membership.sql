-- rollup-sync's authoritative copy of rollups, contacts and membership, plus the commands it has applied.
CREATE TABLE {schema}.rollups (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE {schema}.contacts (
    id         text PRIMARY KEY,
    data       jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

-- No foreign key to rollups: rollup_created is keyed by rollup and add_member by contact, so they travel
-- on different partitions and may arrive in either order.
CREATE TABLE {schema}.members (
    rollup_id  text NOT NULL,
    contact_id text NOT NULL REFERENCES {schema}.contacts (id),
    position   bigserial NOT NULL,
    added_at   timestamptz NOT NULL,
    PRIMARY KEY (rollup_id, contact_id)
);
CREATE INDEX members_contact_idx ON {schema}.members (contact_id);

-- Envelope ids already applied: a replayed command (at-least-once delivery) changes nothing.
CREATE TABLE {schema}.processed_commands (
    event_id     uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL
);
