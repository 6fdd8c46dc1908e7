-- Planning an announcement to a province (issue 4) writes 500,000
-- deliveries and 125,000 outbox messages in one transaction. Each foreign
-- key on those rows is a trigger fired for every row, and on these
-- connections (plan_cache_mode = force_custom_plan) every firing plans its
-- lookup anew: the three keys below cost 12 of the plan's 19 seconds.
-- The plan writes them right after its guarded state change of that very
-- announcement, in the same transaction, and announcements, deliveries
-- and outbox messages are never deleted, so the keys checked nothing a
-- plan could get wrong (ARCHITECTURE.md, "An announcement reaches …").
-- Keep in step with the other backend's 0014_plan_without_row_triggers.sql.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_announcement_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_announcement_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_delivery_id_fkey;
-- A database made by an earlier text of 0012 still has these two.
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_household_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_acknowledged_by_fkey;

-- Paths, keys and phones compare as bytes, like every other path column
-- (0001): 0012 left these in the database's collation, which compares
-- through the C library and made each index entry of a plan dearer. Only
-- the indexes are rebuilt (the same type: no table rewrite).
ALTER TABLE announcements ALTER COLUMN path TYPE TEXT COLLATE "C";
ALTER TABLE deliveries ALTER COLUMN path TYPE TEXT COLLATE "C";
ALTER TABLE outbox ALTER COLUMN idempotency_key TYPE TEXT COLLATE "C";
ALTER TABLE outbox ALTER COLUMN recipient TYPE TEXT COLLATE "C";
