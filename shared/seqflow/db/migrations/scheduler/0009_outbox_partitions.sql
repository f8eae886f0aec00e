-- No single lane (issue 7.2): the outbox is drained per partition of the enrollment key, so replicas
-- publish different partitions at once while one key's messages keep their order (one drainer per
-- partition at a time, in id order). 16 partitions; the scheduler computes `part` from the key.
ALTER TABLE {schema}.outbox ADD COLUMN part smallint NOT NULL DEFAULT 0;
CREATE INDEX outbox_part ON {schema}.outbox (part, id);
