-- An announcement withdrawn (thu hồi): before it went out it is simply
-- cancelled; after, its SMS not yet handed to the gateway are cancelled,
-- it leaves the public pages, feeds and loudspeakers, and an urgent or
-- emergency one is announced to other alerting systems as a CAP Cancel
-- until it would have expired. state becomes 'cancelled'; planned_at
-- tells whether it had gone out. Keep in step with the other backend's
-- file of the same name.
ALTER TABLE announcements ADD COLUMN cancelled_at BIGINT;
ALTER TABLE announcements ADD COLUMN cancelled_by BIGINT REFERENCES accounts(id);
ALTER TABLE announcements ADD COLUMN cancel_reason TEXT;
