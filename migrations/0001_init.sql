-- doorstep schema 1: the owner, browser sessions, pending authorization
-- requests, codes, grants, tokens, and what the dashboard shows.
-- Secrets (codes, tokens, session ids, setup links, resource-server secrets)
-- are stored only as SHA-256 hashes. Times are Unix seconds.

CREATE TABLE owner (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT    NOT NULL,   -- argon2id PHC string
    changed_at    INTEGER NOT NULL
);

CREATE TABLE setup_links (
    token_hash BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
    id_hash       BLOB PRIMARY KEY,
    authenticated INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- A validated authorization request waiting for login and consent (CONS-7).
CREATE TABLE pending_requests (
    id_hash    BLOB PRIMARY KEY,
    request    TEXT    NOT NULL,      -- JSON written by doorstep itself
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One approval by the owner: the code, and the tokens issued from it.
CREATE TABLE grants (
    id              INTEGER PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    client_name     TEXT,
    redirect_uri    TEXT    NOT NULL,
    scope           TEXT    NOT NULL,
    me              TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    access_lifetime INTEGER,          -- seconds; NULL means until revoked
    last_used_at    INTEGER,
    revoked_at      INTEGER
);

CREATE TABLE codes (
    code_hash             BLOB PRIMARY KEY,
    client_id             TEXT    NOT NULL,
    client_name           TEXT,
    redirect_uri          TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    me                    TEXT    NOT NULL,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    access_lifetime       INTEGER,
    issued_at             INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL
) WITHOUT ROWID;

-- Tombstones of redeemed codes, kept until the code would have expired, so
-- that a replay is recognised and its grant revoked (CODE-3).
CREATE TABLE used_codes (
    code_hash  BLOB PRIMARY KEY,
    grant_id   INTEGER,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE access_tokens (
    token_hash BLOB PRIMARY KEY,
    grant_id   INTEGER NOT NULL REFERENCES grants (id),
    client_id  TEXT    NOT NULL,
    me         TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER,               -- NULL means until revoked
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX access_tokens_by_grant ON access_tokens (grant_id);

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    grant_id   INTEGER NOT NULL REFERENCES grants (id),
    scope      TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,               -- used once already (REF-7)
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

-- Clients the owner allowed to sign in without PKCE (PRODUCT "Compatibility").
CREATE TABLE pkce_exemptions (
    client_id  TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE resource_servers (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE client_cache (
    client_id  TEXT PRIMARY KEY,
    info       TEXT    NOT NULL,      -- JSON of what discovery found
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    client_id TEXT,
    detail    TEXT
);
CREATE INDEX events_by_time ON events (at);
