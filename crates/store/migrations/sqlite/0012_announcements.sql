-- Information down (issue 4): announcements, their delivery plan per
-- household, and the outbox grown into a queue several senders share.
-- Keep in step with the other backend's 0012_announcements.sql.

-- An announcement written at a unit (or by a team leader for a team).
-- audience: JSON {"units": [ids], "teams": [ids], "reach": ["no_phone", …]}:
--   households under any of the units or in any of the teams, narrowed to
--   the listed kinds of reach when given.
-- state: pending (waits for the leader's approval) → approved (waits for
--   send_at) → planned (deliveries written) ; cancelled at any point
--   before planned.
CREATE TABLE announcements (
    id               INTEGER PRIMARY KEY,
    unit_id          BIGINT NOT NULL REFERENCES units(id),
    path             TEXT NOT NULL,
    team_id          BIGINT REFERENCES teams(id),
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    topic_id         BIGINT REFERENCES topics(id),
    urgency          TEXT NOT NULL CHECK (urgency IN ('normal', 'urgent', 'emergency')),
    audience         TEXT NOT NULL,
    gsm7             BOOLEAN NOT NULL DEFAULT FALSE,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'planned', 'cancelled')),
    send_at          BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    created_by       BIGINT REFERENCES accounts(id),
    created_at       BIGINT NOT NULL,
    approved_by      BIGINT REFERENCES accounts(id),
    approved_at      BIGINT,
    approval_skipped BOOLEAN NOT NULL DEFAULT FALSE,
    planned_at       BIGINT,
    households       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX announcements_path ON announcements (path, id);
CREATE INDEX announcements_to_plan ON announcements (send_at) WHERE state = 'approved';

-- One row per household and channel: how the announcement reaches it.
-- feed (smartphone), sms (basic phone), visit (no phone, or an SMS that
-- failed or was not acknowledged in time: the fallback adds a visit row).
-- state: planned → sent → delivered → acknowledged, or failed (reason).
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    announcement_id  BIGINT NOT NULL REFERENCES announcements(id),
    -- No foreign key to households (never deleted) or accounts: a plan
    -- writes a province's 500,000 rows, and each key is a trigger a row.
    household_id     BIGINT NOT NULL,
    hamlet_id        BIGINT NOT NULL,
    path             TEXT NOT NULL,
    team_id          BIGINT,
    channel          TEXT NOT NULL CHECK (channel IN ('feed', 'sms', 'visit')),
    state            TEXT NOT NULL CHECK (state IN ('planned', 'sent', 'delivered', 'acknowledged', 'failed')),
    reason           TEXT,
    updated_at       BIGINT NOT NULL,
    acknowledged_at  BIGINT,
    acknowledged_by  BIGINT,
    -- An SMS row whose household was handed to a visit by the fallback.
    fell_back        BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (announcement_id, household_id, channel)
);
CREATE INDEX deliveries_reach ON deliveries (announcement_id, path);
-- SMS rows the fallback still watches.
CREATE INDEX deliveries_fallback ON deliveries (updated_at)
    WHERE channel = 'sms' AND fell_back = FALSE AND state <> 'acknowledged';

-- The outbox becomes a queue: attempts with backoff, a claim that expires
-- (a sender that died releases its messages), the gateway's message state.
-- Announcement messages keep their text in the announcement (body '').
-- state: queued → sending (claimed) → sent (gateway accepted) →
--        delivered | failed.
ALTER TABLE outbox ADD COLUMN announcement_id BIGINT REFERENCES announcements(id);
ALTER TABLE outbox ADD COLUMN delivery_id BIGINT REFERENCES deliveries(id);
ALTER TABLE outbox ADD COLUMN urgency TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE outbox ADD COLUMN gsm7 BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
ALTER TABLE outbox ADD COLUMN error TEXT;
ALTER TABLE outbox ADD COLUMN updated_at BIGINT;
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX outbox_claimed ON outbox (claimed_until) WHERE state = 'sending';
-- An "OK" reply finds the newest message sent to its phone.
CREATE INDEX outbox_recipient ON outbox (recipient, id);
DROP INDEX outbox_queued;

-- A smartphone household's own page of announcements: a link sent once by
-- SMS, no password. Only the token's hash is kept (the link's SMS text
-- leaves the outbox once sent).
CREATE TABLE household_feeds (
    household_id  BIGINT PRIMARY KEY REFERENCES households(id),
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL
);
