-- The tasks service's own tables: users, templates, sequences, and the read models it keeps from events.
CREATE TABLE {schema}.users (
    id text PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL,
    permissions text[] NOT NULL DEFAULT '{}',
    token text NOT NULL UNIQUE
);

CREATE TABLE {schema}.templates (
    id text PRIMARY KEY,
    name text NOT NULL,
    owner text NOT NULL,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE {schema}.rollups (
    id text PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE {schema}.contacts (
    id text PRIMARY KEY,
    data jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE {schema}.members (
    rollup_id text NOT NULL,
    contact_id text NOT NULL,
    active boolean NOT NULL,
    how text,
    at timestamptz NOT NULL,
    PRIMARY KEY (rollup_id, contact_id)
);

-- name is unique for ever: ended and archived sequences keep theirs (SPEC §3).
CREATE TABLE {schema}.sequences (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    rollup_id text NOT NULL,
    template_id text NOT NULL,
    template jsonb NOT NULL,
    activation jsonb NOT NULL,
    primary_user text NOT NULL,
    team text[] NOT NULL DEFAULT '{}',
    timezone text NOT NULL,
    begin_at timestamptz NOT NULL,
    state text NOT NULL CHECK (state IN ('active', 'paused', 'ended')),
    archived boolean NOT NULL DEFAULT false,
    resumed_at timestamptz,
    activated_at timestamptz NOT NULL,
    ended_at timestamptz
);
CREATE INDEX ON {schema}.sequences (rollup_id);

CREATE TABLE {schema}.enrollments (
    sequence_id text NOT NULL,
    contact_id text NOT NULL,
    status text NOT NULL,
    phase text NOT NULL,
    step text,
    next_at timestamptz,
    steps_done integer NOT NULL DEFAULT 0,
    paused boolean NOT NULL DEFAULT false,
    last_step text,
    last_outcome text,
    entered_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (sequence_id, contact_id)
);

CREATE TABLE {schema}.tasks (
    id bigserial PRIMARY KEY,
    sequence_id text NOT NULL,
    contact_id text NOT NULL,
    step text NOT NULL,
    attempt integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('task', 'error')),
    type text NOT NULL,
    priority text NOT NULL,
    branch text NOT NULL,
    step_index integer NOT NULL,
    instructions text,
    script text,
    outcomes jsonb NOT NULL,
    reason text,
    due_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'cancelled')),
    outcome text,
    done_by text,
    done_at timestamptz,
    UNIQUE (sequence_id, contact_id, step, attempt, kind)
);
CREATE INDEX ON {schema}.tasks (state, due_at, id);

CREATE TABLE {schema}.activities (
    id bigserial PRIMARY KEY,
    event_id uuid UNIQUE,
    contact_id text NOT NULL,
    sequence_id text,
    kind text NOT NULL,
    action text,
    step text,
    outcome text,
    text text NOT NULL,
    local_time text,
    user_id text,
    at timestamptz NOT NULL
);
CREATE INDEX ON {schema}.activities (contact_id, at DESC);

CREATE TABLE {schema}.sends (
    idempotency_key text PRIMARY KEY,
    sequence_id text NOT NULL,
    contact_id text NOT NULL,
    step text NOT NULL,
    channel text NOT NULL,
    status text NOT NULL,
    message_id text,
    to_address text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX ON {schema}.sends (message_id);
CREATE INDEX ON {schema}.sends (to_address, at DESC);

CREATE TABLE {schema}.engagements (
    sequence_id text NOT NULL,
    contact_id text NOT NULL,
    step text NOT NULL,
    kind text NOT NULL,
    message_id text,
    at timestamptz NOT NULL,
    PRIMARY KEY (sequence_id, contact_id, step, kind)
);

CREATE TABLE {schema}.processed_events (
    event_id uuid PRIMARY KEY
);
