-- Late items are counted in the rollups (feedback_rollup, state 'late')
-- instead of being counted from the items at every read. Keep in step
-- with the other backend's 0011_feedback_late_rollup.sql.
--
-- late:    the item is counted late in the rollups of its hamlet and the
--          units above it.
-- late_at: when an open item that is not yet counted late becomes late
--          (the acknowledge deadline while received, else the resolve
--          deadline); NULL when it is late already or not open. The sweep
--          marks items whose late_at has passed; until it does, reads add
--          them from the index below, so counts are exact at any moment.
ALTER TABLE feedback ADD COLUMN late BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE feedback ADD COLUMN late_at BIGINT;

-- Every open item starts as "not yet counted": the first sweep after the
-- upgrade counts those already late.
UPDATE feedback SET late_at = CASE WHEN state = 'received' THEN LEAST(ack_due, resolve_due) ELSE resolve_due END
    WHERE state IN ('received', 'acknowledged', 'in_progress', 'reopened');

CREATE INDEX feedback_late_at ON feedback (late_at) WHERE late_at IS NOT NULL;
-- The late list of a subtree, most overdue first, from an index alone:
-- for a small unit its own late items by place; for a large one (where
-- most late items are its own) all late items in deadline order, until 50
-- are its own. The planner picks by the size of the path range.
CREATE INDEX feedback_late ON feedback (path, resolve_due, id, confidential, team_id) WHERE late = TRUE;
CREATE INDEX feedback_late_due ON feedback (resolve_due, id, path, confidential, team_id) WHERE late = TRUE;

-- Read by nothing any more: the late count and list have the two above.
-- One index fewer for every new report to write.
DROP INDEX feedback_open_due;
-- Similar reports are looked up by the hamlet's path, through
-- feedback_path (path, received_at).
DROP INDEX feedback_similar;

-- Here only: 0009's feedback_received_id (received_at, id) serves every
-- read this one did (SQLite's own carries the rowid, so it stays there).
-- An UPDATE that moves an item (escalation) writes every index anew.
DROP INDEX feedback_received;

-- The planner has no statistics of the new columns until autovacuum
-- comes round; without them it scans the table for the late list.
ANALYZE feedback;
