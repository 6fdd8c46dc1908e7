-- The registry: unit tree with history, teams, households, residents,
-- accounts, sessions, tokens and the audit log.
-- Keep in step with ../postgres/0001_registry.sql (same tables, same columns).

CREATE TABLE units (
    id          INTEGER PRIMARY KEY,
    parent_id   BIGINT REFERENCES units(id),
    level       TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune', 'hamlet')),
    name        TEXT NOT NULL,
    name_fold   TEXT NOT NULL,
    sort_key    TEXT NOT NULL,
    code        TEXT,
    code_kind   TEXT NOT NULL DEFAULT 'official' CHECK (code_kind IN ('official', 'local')),
    path        TEXT NOT NULL,
    depth       INTEGER NOT NULL,
    valid_from  TEXT,
    valid_to    TEXT,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX units_path ON units (path);
CREATE INDEX units_parent ON units (parent_id);
CREATE INDEX units_name_fold ON units (name_fold);
CREATE INDEX units_code ON units (code);

CREATE TABLE unit_events (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('create', 'rename', 'merge', 'split', 'move')),
    effective_date  TEXT NOT NULL,
    legal_basis     TEXT NOT NULL,
    note            TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    recorded_by     BIGINT
);
CREATE TABLE unit_event_units (
    event_id        BIGINT NOT NULL REFERENCES unit_events(id),
    unit_id         BIGINT NOT NULL REFERENCES units(id),
    part            TEXT NOT NULL CHECK (part IN ('source', 'target')),
    old_name        TEXT,
    old_parent_id   BIGINT REFERENCES units(id),
    new_name        TEXT,
    new_parent_id   BIGINT REFERENCES units(id),
    PRIMARY KEY (event_id, unit_id, part)
);
CREATE INDEX unit_event_units_unit ON unit_event_units (unit_id);

CREATE TABLE topics (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name_vi     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    position    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE teams (
    id              INTEGER PRIMARY KEY,
    hamlet_id       BIGINT NOT NULL REFERENCES units(id),
    path            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('team', 'group')),
    parent_team_id  BIGINT REFERENCES teams(id),
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    sort_key        TEXT NOT NULL,
    target_size     INTEGER NOT NULL DEFAULT 40,
    created_at      BIGINT NOT NULL
);
CREATE INDEX teams_path ON teams (path);
CREATE INDEX teams_hamlet ON teams (hamlet_id);

CREATE TABLE team_members (
    id          INTEGER PRIMARY KEY,
    team_id     BIGINT NOT NULL REFERENCES teams(id),
    family      TEXT NOT NULL,
    middle      TEXT NOT NULL,
    given       TEXT NOT NULL,
    sort_key    TEXT NOT NULL,
    gender      TEXT,
    role        TEXT NOT NULL CHECK (role IN ('leader', 'deputy', 'member')),
    represents  TEXT NOT NULL,
    phone       TEXT,
    term_from   TEXT NOT NULL,
    term_to     TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX team_members_team ON team_members (team_id);

CREATE TABLE households (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    hamlet_id       BIGINT NOT NULL REFERENCES units(id),
    path            TEXT NOT NULL,
    team_id         BIGINT REFERENCES teams(id),
    address         TEXT NOT NULL,
    lat             DOUBLE PRECISION,
    lon             DOUBLE PRECISION,
    reach           TEXT NOT NULL CHECK (reach IN ('smartphone', 'basic_phone', 'no_phone')),
    phone           TEXT,
    head_name       TEXT NOT NULL,
    head_sort_key   TEXT NOT NULL,
    resident_count  INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX households_path ON households (path);
CREATE INDEX households_hamlet ON households (hamlet_id);
CREATE INDEX households_team ON households (team_id, head_sort_key);

CREATE TABLE residents (
    id              INTEGER PRIMARY KEY,
    household_id    BIGINT NOT NULL REFERENCES households(id),
    family          TEXT NOT NULL,
    middle          TEXT NOT NULL,
    given           TEXT NOT NULL,
    name_fold       TEXT NOT NULL,
    given_fold      TEXT NOT NULL,
    sort_key        TEXT NOT NULL,
    birth_year      INTEGER,
    birth_date      TEXT,
    gender          TEXT CHECK (gender IN ('male', 'female', 'other')),
    relation        TEXT NOT NULL,
    is_head         BOOLEAN NOT NULL,
    phone           TEXT,
    phone_digits    TEXT,
    citizen_id      TEXT UNIQUE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX residents_household ON residents (household_id);
CREATE INDEX residents_name_fold ON residents (name_fold);
CREATE INDEX residents_given_fold ON residents (given_fold);
CREATE INDEX residents_phone ON residents (phone_digits);

-- Counts per hamlet, refreshed in the transaction of every change that moves
-- them, so subtree totals are a sum over hamlets instead of a scan of people.
CREATE TABLE hamlet_stats (
    hamlet_id   BIGINT PRIMARY KEY REFERENCES units(id),
    households  BIGINT NOT NULL,
    residents   BIGINT NOT NULL,
    teams       BIGINT NOT NULL,
    groups_     BIGINT NOT NULL,
    unassigned  BIGINT NOT NULL
);

CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    phone               TEXT UNIQUE,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL,
    unit_id             BIGINT REFERENCES units(id),
    team_id             BIGINT REFERENCES teams(id),
    active              BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE login_failures (
    id      INTEGER PRIMARY KEY,
    key     TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          BIGINT NOT NULL,
    account_id  BIGINT REFERENCES accounts(id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    scope_path  TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
CREATE INDEX audit_log_scope ON audit_log (scope_path);

INSERT INTO topics (code, name_vi, name_en, position) VALUES
    ('epidemic', 'Phòng, chống dịch bệnh', 'Epidemic prevention', 1),
    ('security', 'An ninh trật tự', 'Security and public order', 2),
    ('environment', 'Bảo vệ môi trường', 'Environmental protection', 3);

-- Households reassigned one by one when a unit is split.
CREATE TABLE unit_event_households (
    event_id        BIGINT NOT NULL REFERENCES unit_events(id),
    household_id    BIGINT NOT NULL REFERENCES households(id),
    from_hamlet_id  BIGINT NOT NULL REFERENCES units(id),
    to_hamlet_id    BIGINT NOT NULL REFERENCES units(id),
    PRIMARY KEY (event_id, household_id)
);
