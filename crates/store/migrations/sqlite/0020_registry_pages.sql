-- Issue 14: the registry kept on pages. Keep in step with the other
-- backend's file of the same name.

-- A team or group is closed on a date, not deleted: its history, its
-- members' terms and the audit log still name it.
ALTER TABLE teams ADD COLUMN closed_on TEXT;

-- A one-time code to set an account's password: made when an officer
-- creates the account or resets its password, handed to the person (a
-- link, or by SMS), spent once. Only its SHA-256 is kept; the password is
-- never shown to the officer.
CREATE TABLE password_setups (
    id          INTEGER PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    code_hash   TEXT NOT NULL UNIQUE,
    created_by  BIGINT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX password_setups_account ON password_setups (account_id);
