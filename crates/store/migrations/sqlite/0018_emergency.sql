-- Trust (issue 13) item 7: an emergency no longer skips approval for any
-- writer. It goes out at once only from a unit's leader, the
-- administrator, or a role the province names here; anyone else's waits
-- for a leader like any announcement, and the leaders who may approve it
-- are told at once by SMS. (The note in 0015 that an emergency may always
-- skip approval no longer holds.) Keep in step with the other backend's
-- file of the same name.

-- The roles (their stored names, comma-separated; '' none) a province
-- lets send emergencies without approval, besides its leaders.
ALTER TABLE announcement_settings ADD COLUMN emergency_roles TEXT NOT NULL DEFAULT '';
