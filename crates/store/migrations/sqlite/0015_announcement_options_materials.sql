-- Information down (issue 4), the rest: who approves announcements in a
-- province, each hamlet's loudspeaker times, a recorded voice in place of
-- synthesis, and the library of materials from agencies handed out to
-- teams. Keep in step with the other backend's file of the same name.

-- Per province (no row: 'leader'). approval:
--   leader — a leader of the writing unit or of a unit above approves; a
--            leader's own announcement is approved as it is written;
--   above  — only a leader of a unit above the writing unit approves;
--   none   — approved as written.
-- An emergency may always skip approval (the audit log says so).
CREATE TABLE announcement_settings (
    unit_id     BIGINT PRIMARY KEY REFERENCES units(id),
    approval    TEXT NOT NULL CHECK (approval IN ('leader', 'above', 'none')),
    updated_by  BIGINT REFERENCES accounts(id),
    updated_at  BIGINT NOT NULL
);

-- A hamlet's usual loudspeaker times, local "HH:MM" comma-separated
-- (no row: 06:00,17:00).
CREATE TABLE loudspeaker_slots (
    hamlet_id   BIGINT PRIMARY KEY REFERENCES units(id),
    slots       TEXT NOT NULL,
    updated_by  BIGINT REFERENCES accounts(id),
    updated_at  BIGINT NOT NULL
);

-- A voice recorded by a person, played between the chimes instead of the
-- synthesized one: PCM WAV as checked on upload (16-bit, mono, at the rate
-- it was recorded).
CREATE TABLE announcement_recordings (
    announcement_id BIGINT PRIMARY KEY REFERENCES announcements(id) ON DELETE CASCADE,
    bytes           BLOB NOT NULL,
    seconds         DOUBLE PRECISION NOT NULL,
    sha256          TEXT NOT NULL,
    uploaded_by     BIGINT REFERENCES accounts(id),
    uploaded_at     BIGINT NOT NULL
);

-- A leaflet, a document or an audio spot from an agency (the Police, the
-- environment department, health), uploaded at a unit. kind is what the
-- file's bytes say it is (pdf, jpeg, png, docx, …), never the client's word.
CREATE TABLE materials (
    id           INTEGER PRIMARY KEY,
    unit_id      BIGINT NOT NULL REFERENCES units(id),
    path         TEXT NOT NULL,
    topic_id     BIGINT REFERENCES topics(id),
    agency       TEXT NOT NULL,
    title        TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    file_name    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    created_by   BIGINT REFERENCES accounts(id),
    created_at   BIGINT NOT NULL,
    -- Taken out of the library (uploaded by mistake, out of date): kept
    -- for the record and the audit log, shown to nobody.
    removed_at   BIGINT,
    removed_by   BIGINT REFERENCES accounts(id)
);
CREATE INDEX materials_path ON materials (path, id);
CREATE INDEX materials_topic ON materials (topic_id, id);

-- The file apart, so listings never touch it.
CREATE TABLE material_files (
    material_id  BIGINT PRIMARY KEY REFERENCES materials(id),
    bytes        BLOB NOT NULL
);

-- A material handed out to a team: printed copies sent with it, the
-- team's receipt, and the copies the team reports handed to households.
CREATE TABLE material_handouts (
    material_id   BIGINT NOT NULL REFERENCES materials(id),
    team_id       BIGINT NOT NULL REFERENCES teams(id),
    path          TEXT NOT NULL,
    copies        BIGINT NOT NULL DEFAULT 0,
    sent_by       BIGINT REFERENCES accounts(id),
    sent_at       BIGINT NOT NULL,
    received_by   BIGINT REFERENCES accounts(id),
    received_at   BIGINT,
    copies_given  BIGINT NOT NULL DEFAULT 0,
    given_at      BIGINT,
    PRIMARY KEY (material_id, team_id)
);
CREATE INDEX material_handouts_team ON material_handouts (team_id, material_id);
CREATE INDEX material_handouts_path ON material_handouts (material_id, path);
