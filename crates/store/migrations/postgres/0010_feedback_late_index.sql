-- The late items of a subtree (the dashboard's count and list) are read
-- from this index alone: it carries every column their condition needs,
-- so counting a province's backlog never fetches the rows themselves.
-- Replaces 0006's index of the same name. Keep in step with the other
-- backend's 0010_feedback_late_index.sql.
DROP INDEX feedback_open_due;
CREATE INDEX feedback_open_due ON feedback (path, resolve_due, state, ack_due, confidential, id)
    WHERE state IN ('received', 'acknowledged', 'in_progress', 'reopened');
