-- Open311 listings by service: one topic's reports of a time window are
-- one range of this index, newest first, in the listing's order
-- (received_at DESC, id DESC), so LIMIT stops the scan early.
-- Keep in step with the other backend's 0009_feedback_bench.sql.
CREATE INDEX feedback_topic_received ON feedback (topic_id, received_at, id);
-- PostgreSQL has no rowid in its indexes: without id here the listing
-- without a service filter sorts the whole window before its LIMIT.
CREATE INDEX feedback_received_id ON feedback (received_at, id);
