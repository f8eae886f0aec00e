-- A tick costs what is due (issue 7.1): each enrollment's own timer instant is indexed, and the rate
-- limiter's queue is rows, so a tick loads the enrollments that are due, named by an input, or at the
-- head of a limiter queue, instead of every open enrollment and the whole queue.
ALTER TABLE {schema}.enrollments ADD COLUMN due_at timestamptz;
UPDATE {schema}.enrollments SET due_at = (state->>'at')::timestamptz
 WHERE NOT finished AND state->>'at' IS NOT NULL AND NOT (state->>'held')::boolean
   AND state->>'phase' IN ('enter', 'due', 'move', 'waiting');
CREATE INDEX enrollments_due ON {schema}.enrollments (sequence_id, due_at) WHERE due_at IS NOT NULL;

CREATE TABLE {schema}.limiter_queue (
    sequence_id text NOT NULL,
    channel text NOT NULL,
    due timestamptz NOT NULL,
    contact_id text COLLATE "C" NOT NULL,  -- ids compare as strings (code points), as in the engine
    step text COLLATE "C" NOT NULL,
    PRIMARY KEY (sequence_id, channel, due, contact_id, step)
);
INSERT INTO {schema}.limiter_queue (sequence_id, channel, due, contact_id, step)
SELECT s.id, q.key, (item->>0)::timestamptz, item->>1, item->>2
  FROM {schema}.sequences s, jsonb_each(s.state->'queue') q, jsonb_array_elements(q.value) item
 WHERE s.state ? 'queue'
ON CONFLICT DO NOTHING;
UPDATE {schema}.sequences SET state = state - 'queue' WHERE state ? 'queue';
