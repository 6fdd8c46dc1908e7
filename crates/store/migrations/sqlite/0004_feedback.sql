-- Feedback up: residents' concerns (phản ánh, kiến nghị), where they are
-- routed, their deadlines in working hours and their append-only history.
-- Keep in step with the other backend's 0004_feedback.sql.

-- Topics are Open311's services. Confidential ones (tip-offs, disease
-- cases) are seen only by the responsible officers, never published.
ALTER TABLE topics ADD COLUMN confidential BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE topics ADD COLUMN anonymous_allowed BOOLEAN NOT NULL DEFAULT TRUE;
-- Words an SMS may use for the topic, folded (no diacritics), comma-separated.
ALTER TABLE topics ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
UPDATE topics SET keywords = 'dich benh,dich,benh,y te,suc khoe' WHERE code = 'epidemic';
UPDATE topics SET keywords = 'an ninh,an ninh trat tu,trat tu,anh ninh,antt' WHERE code = 'security';
UPDATE topics SET keywords = 'moi truong,rac,rac thai,o nhiem,nuoc thai' WHERE code = 'environment';
INSERT INTO topics (code, name_vi, name_en, position, confidential, anonymous_allowed, keywords) VALUES
    ('crime_tip', 'Tố giác tội phạm, ma túy', 'Crime and drug tip-off', 4, TRUE, TRUE, 'to giac,ma tuy,toi pham'),
    ('disease_case', 'Báo ca bệnh truyền nhiễm', 'Infectious disease case', 5, TRUE, FALSE, 'ca benh,benh nhan');

-- The leader of a unit (chủ tịch, phó chủ tịch) approves its answers.
ALTER TABLE accounts ADD COLUMN leads_unit BOOLEAN NOT NULL DEFAULT FALSE;

-- Days off nationwide: public holidays and the compensation days the
-- government sets each year (`danvan holiday add`).
CREATE TABLE holidays (
    day     TEXT PRIMARY KEY,
    name    TEXT NOT NULL
);
INSERT INTO holidays (day, name) VALUES
    ('2025-01-01', 'Tết Dương lịch'),
    ('2025-01-25', 'Tết Nguyên đán'), ('2025-01-26', 'Tết Nguyên đán'),
    ('2025-01-27', 'Tết Nguyên đán'), ('2025-01-28', 'Tết Nguyên đán'),
    ('2025-01-29', 'Tết Nguyên đán'), ('2025-01-30', 'Tết Nguyên đán'),
    ('2025-01-31', 'Tết Nguyên đán'), ('2025-02-01', 'Tết Nguyên đán'),
    ('2025-02-02', 'Tết Nguyên đán'),
    ('2025-04-07', 'Giỗ Tổ Hùng Vương'),
    ('2025-04-30', 'Ngày Giải phóng miền Nam'), ('2025-05-01', 'Quốc tế Lao động'),
    ('2025-05-02', 'Nghỉ bù'),
    ('2025-09-01', 'Quốc khánh'), ('2025-09-02', 'Quốc khánh'),
    ('2026-01-01', 'Tết Dương lịch'),
    ('2026-02-14', 'Tết Nguyên đán'), ('2026-02-15', 'Tết Nguyên đán'),
    ('2026-02-16', 'Tết Nguyên đán'), ('2026-02-17', 'Tết Nguyên đán'),
    ('2026-02-18', 'Tết Nguyên đán'), ('2026-02-19', 'Tết Nguyên đán'),
    ('2026-02-20', 'Tết Nguyên đán'), ('2026-02-21', 'Tết Nguyên đán'),
    ('2026-02-22', 'Tết Nguyên đán'),
    ('2026-04-27', 'Nghỉ bù Giỗ Tổ Hùng Vương'),
    ('2026-04-30', 'Ngày Giải phóng miền Nam'), ('2026-05-01', 'Quốc tế Lao động'),
    ('2026-09-01', 'Quốc khánh'), ('2026-09-02', 'Quốc khánh');

-- Per province: the working calendar and the deadlines (defaults in code
-- when a province has no row).
CREATE TABLE feedback_settings (
    unit_id         BIGINT PRIMARY KEY REFERENCES units(id),
    windows         TEXT NOT NULL,
    workdays        TEXT NOT NULL,
    ack_hours       DOUBLE PRECISION NOT NULL,
    urgent_hours    DOUBLE PRECISION NOT NULL,
    normal_days     DOUBLE PRECISION NOT NULL,
    complex_days    DOUBLE PRECISION NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Per commune: which unit (and officer) answers a topic, optionally for
-- one hamlet. The most specific rule wins; without one, the commune.
CREATE TABLE routing_rules (
    id                      INTEGER PRIMARY KEY,
    commune_id              BIGINT NOT NULL REFERENCES units(id),
    topic_id                BIGINT REFERENCES topics(id),
    hamlet_id               BIGINT REFERENCES units(id),
    responsible_unit_id     BIGINT NOT NULL REFERENCES units(id),
    responsible_account_id  BIGINT REFERENCES accounts(id),
    label                   TEXT NOT NULL,
    created_at              BIGINT NOT NULL
);
CREATE INDEX routing_rules_commune ON routing_rules (commune_id);

CREATE TABLE feedback (
    id                      INTEGER PRIMARY KEY,
    code                    TEXT NOT NULL UNIQUE,
    topic_id                BIGINT NOT NULL REFERENCES topics(id),
    severity                TEXT NOT NULL CHECK (severity IN ('normal', 'urgent', 'complex')),
    state                   TEXT NOT NULL CHECK (state IN ('received', 'acknowledged', 'in_progress', 'answered', 'closed', 'refused', 'reopened')),
    channel                 TEXT NOT NULL CHECK (channel IN ('web', 'member', 'sms', 'api', 'open311')),
    description             TEXT NOT NULL,
    description_fold        TEXT NOT NULL,
    hamlet_id               BIGINT NOT NULL REFERENCES units(id),
    path                    TEXT NOT NULL,
    household_id            BIGINT REFERENCES households(id),
    resident_id             BIGINT REFERENCES residents(id),
    identity_consent        BOOLEAN NOT NULL DEFAULT FALSE,
    relayed_by              BIGINT REFERENCES accounts(id),
    relay_method            TEXT CHECK (relay_method IN ('home_visit', 'phone_call', 'group_chat', 'meeting')),
    reporter_name           TEXT,
    reporter_phone          TEXT,
    anonymous               BOOLEAN NOT NULL,
    lat                     DOUBLE PRECISION,
    lon                     DOUBLE PRECISION,
    confidential            BOOLEAN NOT NULL,
    responsible_unit_id     BIGINT NOT NULL REFERENCES units(id),
    responsible_path        TEXT NOT NULL,
    responsible_label       TEXT NOT NULL,
    responsible_account_id  BIGINT REFERENCES accounts(id),
    team_id                 BIGINT REFERENCES teams(id),
    escalation_level        INTEGER NOT NULL DEFAULT 0,
    received_at             BIGINT NOT NULL,
    ack_due                 BIGINT NOT NULL,
    resolve_due             BIGINT NOT NULL,
    -- When the escalation sweep next looks at it; NULL once nothing is due.
    next_escalation_at      BIGINT,
    acknowledged_at         BIGINT,
    answered_at             BIGINT,
    closed_at               BIGINT,
    answer                  TEXT,
    answer_draft            TEXT,
    answer_drafted_by       BIGINT REFERENCES accounts(id),
    refusal_reason          TEXT,
    refer_to                TEXT,
    rating                  INTEGER CHECK (rating BETWEEN 1 AND 5),
    duplicate_of            BIGINT REFERENCES feedback(id),
    -- The key a form or client sent with the submission: a replay finds
    -- the first item instead of making a second.
    submission_key          TEXT UNIQUE,
    updated_at              BIGINT NOT NULL
);
CREATE INDEX feedback_path ON feedback (path, received_at);
CREATE INDEX feedback_responsible ON feedback (responsible_path, state);
CREATE INDEX feedback_escalation ON feedback (next_escalation_at) WHERE next_escalation_at IS NOT NULL;
CREATE INDEX feedback_similar ON feedback (hamlet_id, topic_id, received_at);
CREATE INDEX feedback_received ON feedback (received_at);

-- Append-only: every state change, assignment, note and message.
CREATE TABLE feedback_events (
    id              INTEGER PRIMARY KEY,
    feedback_id     BIGINT NOT NULL REFERENCES feedback(id),
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    from_state      TEXT,
    to_state        TEXT,
    account_id      BIGINT REFERENCES accounts(id),
    actor           TEXT NOT NULL,
    body            TEXT NOT NULL DEFAULT '',
    public          BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX feedback_events_feedback ON feedback_events (feedback_id, id);

-- Counts per hamlet × topic × state, kept in the transaction of every
-- change, so a province dashboard sums a few thousand rows.
CREATE TABLE feedback_counts (
    hamlet_id   BIGINT NOT NULL REFERENCES units(id),
    topic_id    BIGINT NOT NULL REFERENCES topics(id),
    state       TEXT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (hamlet_id, topic_id, state)
);

-- What a unit's officers are told (escalations, new items).
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    unit_id     BIGINT NOT NULL REFERENCES units(id),
    feedback_id BIGINT REFERENCES feedback(id),
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    read_at     BIGINT
);
CREATE INDEX notifications_unit ON notifications (unit_id, created_at);

-- Messages waiting for a gateway; the key makes a retry send nothing twice.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('sms')),
    recipient       TEXT NOT NULL,
    body            TEXT NOT NULL,
    feedback_id     BIGINT REFERENCES feedback(id),
    idempotency_key TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL DEFAULT 'queued',
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_queued ON outbox (state, id);
