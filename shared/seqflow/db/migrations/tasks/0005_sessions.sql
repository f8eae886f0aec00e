-- Web UI sign-in sessions. Only a hash of the session id is stored, so a leaked table cannot be replayed
-- as cookies; the CSRF token is per session and checked on every POST of the web pages.
CREATE TABLE {schema}.sessions (
    id_hash text PRIMARY KEY,
    user_id text NOT NULL,
    csrf text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ON {schema}.sessions (expires_at);
