-- Contacts erased on request (GDPR Art. 17; seqflow_scheduler.erasure). The id stays as a tombstone so a
-- membership event delivered again after the erasure (at-least-once delivery, a rebalance) cannot bring the
-- person's data back: the trigger keeps an erased contact's copy down to its id.
CREATE TABLE {schema}.erased_contacts (
    id text PRIMARY KEY,
    at timestamptz NOT NULL
);

CREATE FUNCTION {schema}.keep_erased_contacts_anonymous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {schema}.erased_contacts e WHERE e.id = NEW.id) THEN
        NEW.data := jsonb_build_object('id', NEW.id);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER contacts_keep_erased_anonymous BEFORE INSERT OR UPDATE ON {schema}.contacts
    FOR EACH ROW EXECUTE FUNCTION {schema}.keep_erased_contacts_anonymous();
