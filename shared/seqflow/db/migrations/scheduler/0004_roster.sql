-- A sequence starts once the scheduler's membership copy holds the roster its activation named, so
-- every contact on the rollup at activation enters in the same instant, in contact-id order.
ALTER TABLE {schema}.sequences ADD COLUMN roster jsonb;
ALTER TABLE {schema}.sequences ADD COLUMN started boolean NOT NULL DEFAULT true;
