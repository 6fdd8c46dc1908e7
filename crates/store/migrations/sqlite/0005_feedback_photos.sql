-- Photos sent with a report. Stored only after they were decoded and
-- re-encoded (`store::photo`), so no EXIF, XMP or ICC data (GPS position,
-- camera, owner) is kept. Written in the transaction of the report.
-- Keep in step with the other backend's 0005_feedback_photos.sql.
CREATE TABLE feedback_photos (
    id          INTEGER PRIMARY KEY,
    feedback_id BIGINT NOT NULL REFERENCES feedback(id),
    mime        TEXT NOT NULL CHECK (mime IN ('image/jpeg', 'image/png')),
    bytes       BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX feedback_photos_feedback ON feedback_photos (feedback_id, id);
