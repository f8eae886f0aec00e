-- Issue 10: tokens are stored only as SHA-256 hashes (the server generates them; see seqflow_tasks.tokens)
-- and every rollup has an owner, the user who created it (rollups made before this belong to `admin`).
ALTER TABLE {schema}.users ADD COLUMN token_hash text UNIQUE;
UPDATE {schema}.users SET token_hash = encode(sha256(convert_to(token, 'UTF8')), 'hex');
ALTER TABLE {schema}.users DROP COLUMN token;
ALTER TABLE {schema}.users ADD COLUMN token_set_at timestamptz;

ALTER TABLE {schema}.rollups ADD COLUMN owner text NOT NULL DEFAULT 'admin';
ALTER TABLE {schema}.rollups ALTER COLUMN owner DROP DEFAULT;
CREATE INDEX ON {schema}.rollups (owner);
CREATE INDEX ON {schema}.templates (owner);
CREATE INDEX ON {schema}.roster (contact_id);
CREATE INDEX ON {schema}.members (contact_id);
CREATE INDEX ON {schema}.enrollments (contact_id);
CREATE INDEX ON {schema}.tasks (contact_id);
