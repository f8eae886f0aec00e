-- No roster stall (issue 7.3): a sequence starts at once; the roster members whose membership event has
-- not arrived yet are rows here, so each arrival is one indexed delete, not a re-read of every member.
-- While any is missing the sequence stays at its activation instant (late members still enter then) and
-- a rate-limited channel whose limit cannot take the whole roster grants nothing yet.
CREATE TABLE {schema}.roster_wait (
    sequence_id text NOT NULL,
    contact_id text NOT NULL,
    PRIMARY KEY (sequence_id, contact_id)
);
CREATE INDEX roster_wait_contact ON {schema}.roster_wait (contact_id);
ALTER TABLE {schema}.sequences ADD COLUMN roster_missing integer NOT NULL DEFAULT 0;
ALTER TABLE {schema}.sequences ADD COLUMN roster_size integer NOT NULL DEFAULT 0;
