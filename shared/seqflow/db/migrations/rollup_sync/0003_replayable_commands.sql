-- The membership events a command emitted, kept with its id: a command replayed after a crash between
-- the database commit and the broker ack re-emits the same events (same envelope ids) instead of nothing.
-- Cleared once the broker acked them, so a later duplicate of the command emits nothing again.
ALTER TABLE {schema}.processed_commands ADD COLUMN emitted jsonb;
