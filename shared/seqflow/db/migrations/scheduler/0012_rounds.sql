-- Replicas share the work of one big sequence (issue 7.2). A sequence without rate limits and with more due
-- work than one slice is worked in a "round": the work due by the round's instant (round_to) is split into 16
-- lanes by a hash of the contact id, and a lane is the unit a replica takes (its round_lanes row locked); the
-- round closes (advanced_to = round_to, inputs_applied counted) once every lane is done. seen_to is the instant an enrollment's engine
-- last ran to, so an input that arrives after its contact ran past it applies at that instant (as it would
-- at the sequence's instant when one replica ticks the whole sequence).
ALTER TABLE {schema}.sequences ADD COLUMN round_to timestamptz;
ALTER TABLE {schema}.enrollments ADD COLUMN seen_to timestamptz;
CREATE TABLE {schema}.round_lanes (
    sequence_id text NOT NULL,
    lane int NOT NULL,
    done boolean NOT NULL DEFAULT false,
    applied bigint NOT NULL DEFAULT 0,  -- inputs its slices applied, added to the sequence's when it closes
    PRIMARY KEY (sequence_id, lane)
);
CREATE INDEX sequences_round ON {schema}.sequences (round_to) WHERE round_to IS NOT NULL;
-- The expressions must stay the same as in seqflow_scheduler/round_db.py (LANE_OF_ENROLLMENT, LANE_OF_INPUT,
-- CONTACT_OF_INPUT).
CREATE INDEX enrollments_lane_due ON {schema}.enrollments (sequence_id, (hashtext(contact_id) & 15), due_at)
 WHERE due_at IS NOT NULL;
CREATE INDEX inbox_lane ON {schema}.inbox (sequence_id, (hashtext(input->>'contact') & 15), (input->>'contact'), at);
