-- How many inputs each sequence's engine has applied: a progress signal for operators and tests.
ALTER TABLE {schema}.sequences ADD COLUMN inputs_applied bigint NOT NULL DEFAULT 0;
