-- A sequence the scheduler set aside because it failed to tick (`sequence_quarantined`): the overview shows
-- it as `error`; its own state (active/paused/ended) is kept, so the lifecycle rules still apply.
ALTER TABLE {schema}.sequences ADD COLUMN quarantined_at timestamptz;
-- The overview counts a sequence's sends and joins engagements to them by (sequence, contact, step).
CREATE INDEX ON {schema}.sends (sequence_id, contact_id, step);
