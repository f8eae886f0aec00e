-- The contacts the API has put on each rollup, recorded when the command is accepted (the membership
-- read copy trails it). An activation carries this roster so the scheduler can wait for all of it.
CREATE TABLE {schema}.roster (
    rollup_id text NOT NULL,
    contact_id text NOT NULL,
    PRIMARY KEY (rollup_id, contact_id)
);
