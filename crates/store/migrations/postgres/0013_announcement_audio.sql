-- Loudspeaker audio of an announcement (issue 4), made once per voice and
-- format and kept, so a hamlet head's repeated downloads (and every
-- hamlet's head downloading the same announcement) do not synthesize it
-- again. recipe names how the file was made (chime, speech settings): a
-- row made by another recipe is made again and replaced.
-- voice: north, central, south (espeak-ng's Vietnamese voices).
-- format: wav, ogg (Opus).
-- Keep in step with the other backend's 0013_announcement_audio.sql.
CREATE TABLE announcement_audio (
    announcement_id BIGINT NOT NULL REFERENCES announcements(id) ON DELETE CASCADE,
    voice           TEXT NOT NULL CHECK (voice IN ('north', 'central', 'south')),
    format          TEXT NOT NULL CHECK (format IN ('wav', 'ogg')),
    recipe          TEXT NOT NULL,
    bytes           BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (announcement_id, voice, format)
);
