-- An unsubscribe names an address, not a contact (SPEC §6): intake finds every contact copy holding it, so the
-- normalised email and phone are indexed (the same expressions as SchedulerDb.contacts_with_address).
CREATE INDEX contacts_email ON {schema}.contacts (lower(btrim(data->>'email')));
CREATE INDEX contacts_phone ON {schema}.contacts (lower(btrim(data->>'phone')));
