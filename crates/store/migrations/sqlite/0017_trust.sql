-- Trust (issue 13): what a security review found closed. Keep in step
-- with the other backend's file of the same name.

-- A reporter proves they own a report by a one-time code sent to the
-- phone the report came with (the tracking code is public, the phone is
-- not). Only the code's SHA-256 is kept; a code lives 30 minutes and
-- takes a few wrong tries before it is spent.
CREATE TABLE reporter_codes (
    id          INTEGER PRIMARY KEY,
    feedback_id BIGINT NOT NULL REFERENCES feedback(id),
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reporter_codes_feedback ON reporter_codes (feedback_id, created_at);

-- Failed logins are counted per account (whatever spelling was typed),
-- and slow the account down (exponential back-off) instead of locking it.
ALTER TABLE accounts ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN login_not_before BIGINT;
-- When an account was disabled (active = FALSE): its sessions and keys end.
ALTER TABLE accounts ADD COLUMN disabled_at BIGINT;
-- Browsers an account has logged in from (a long-lived cookie, only its
-- SHA-256 kept): they skip the account's back-off and the address limit,
-- so an attacker's wrong guesses never lock the owner out of their phone.
CREATE TABLE login_devices (
    token_hash   TEXT PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX login_devices_account ON login_devices (account_id);

-- API keys expire (NULL: never) and are revoked on a password change and
-- when the account is disabled; last_used_at tells a stale key.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;

-- How much of a topic's reports the public sees: 'public' (all),
-- 'no_text' (state, topic and hamlet; no description, photo or place),
-- 'private' (not listed; the status page shows the state only).
-- Confidential topics are never published at all. A province may set its
-- own (topic_publicity); security and epidemic start private.
ALTER TABLE topics ADD COLUMN publicity TEXT NOT NULL DEFAULT 'public'
    CHECK (publicity IN ('public', 'no_text', 'private'));
UPDATE topics SET publicity = 'private' WHERE code IN ('security', 'epidemic');
CREATE TABLE topic_publicity (
    province_path   TEXT NOT NULL,
    topic_id        BIGINT NOT NULL REFERENCES topics(id),
    publicity       TEXT NOT NULL CHECK (publicity IN ('public', 'no_text', 'private')),
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (province_path, topic_id)
);
