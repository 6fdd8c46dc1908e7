-- Open311 listings by service: one topic's reports of a time window are
-- one range of this index, newest first (the rowid breaks ties, as the
-- listing's ORDER BY received_at DESC, id DESC asks), instead of reading
-- every topic's reports of the window and keeping one in five.
-- Keep in step with the other backend's 0009_feedback_bench.sql.
CREATE INDEX feedback_topic_received ON feedback (topic_id, received_at, id);
