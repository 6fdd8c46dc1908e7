-- Nothing to change on SQLite; kept so both backends count the same
-- migrations. On PostgreSQL 0014 drops the foreign keys of deliveries and
-- outbox to announcements and deliveries (a trigger fired per row, 12 of a
-- province plan's 19 s there) and gives paths, idempotency keys and
-- recipients byte-wise collation. SQLite checks a foreign key by one
-- look-up in the parent's primary key, inside the statement (a province
-- plan takes 1.8 s with them), dropping one would mean rebuilding the
-- tables, and its text already compares as bytes (BINARY).
-- Keep in step with the other backend's 0014_plan_without_row_triggers.sql.
SELECT 1;
