-- A tick takes a bounded slice of a big inbox (issue 7: an activation of 100,000 contacts is many short
-- ticks, not one long one), in (instant, arrival) order: the instant is a column, indexed per sequence.
ALTER TABLE {schema}.inbox ADD COLUMN at timestamptz;
UPDATE {schema}.inbox SET at = (input->>'at')::timestamptz;
ALTER TABLE {schema}.inbox ALTER COLUMN at SET NOT NULL;
CREATE INDEX inbox_due ON {schema}.inbox (sequence_id, at, id);
