-- Officials' pages for feedback: a unit's dashboard reads its own rows of
-- these rollups (kept in the transaction of every change, for the hamlet
-- and each of its ancestors), so a province reads as fast as a hamlet.
-- Keep in step with the other backend's 0007_feedback_dashboard.sql.

-- Items per unit × topic × state, for every unit above (and at) the hamlet.
CREATE TABLE feedback_rollup (
    unit_id     BIGINT NOT NULL REFERENCES units(id),
    topic_id    BIGINT NOT NULL REFERENCES topics(id),
    state       TEXT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (unit_id, topic_id, state)
);

-- How long items took to be acknowledged (first response) and answered,
-- as a histogram per unit: `bucket` is the duration in minutes rounded down
-- to 5 minutes under 2 hours, to the hour under 2 days, else to the day.
-- `late` says whether the deadline had passed.
CREATE TABLE feedback_durations (
    unit_id         BIGINT NOT NULL REFERENCES units(id),
    confidential    BOOLEAN NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('ack', 'resolve')),
    bucket          BIGINT NOT NULL,
    late            BOOLEAN NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (unit_id, confidential, kind, bucket, late)
);

-- Answers a unit's officers write often; a unit sees its own and those of
-- the units above it.
CREATE TABLE answer_templates (
    id          INTEGER PRIMARY KEY,
    unit_id     BIGINT NOT NULL REFERENCES units(id),
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_by  BIGINT REFERENCES accounts(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX answer_templates_unit ON answer_templates (unit_id);

-- The inbox of a unit: what it must answer, by deadline.
CREATE INDEX feedback_inbox ON feedback (responsible_path, resolve_due);
