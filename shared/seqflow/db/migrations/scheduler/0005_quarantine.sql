-- A sequence that fails to tick is quarantined: `error` holds why, and it is not woken again, so one
-- bad sequence cannot stop the others (issue 11.3). NULL = healthy.
ALTER TABLE {schema}.sequences ADD COLUMN error text;
CREATE INDEX sequences_error ON {schema}.sequences (id) WHERE error IS NOT NULL;
