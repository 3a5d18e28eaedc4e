-- doorstep schema 6: how the owner signs in (issue 8). The mode, the
-- WebAuthn user handle, a confirmed TOTP secret and the last time step it
-- accepted (a code is never accepted twice), the passkeys, the recovery
-- codes (SHA-256 only), and when each browser session last proved the
-- owner's presence (step-up for sensitive changes).

CREATE TABLE sign_in (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    mode             TEXT    NOT NULL DEFAULT 'password'
                     CHECK (mode IN ('password', 'second_factor', 'passkey_only')),
    webauthn_user_id BLOB,            -- 16 bytes, made with the first passkey
    totp_secret      BLOB,            -- raw RFC 6238 key, set once confirmed
    totp_last_step   INTEGER,         -- the newest time step accepted
    totp_added_at    INTEGER
);

CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    credential_id BLOB    NOT NULL UNIQUE,
    label         TEXT    NOT NULL,
    passkey       TEXT    NOT NULL,   -- webauthn-rs `Passkey` as JSON: key, counter, backup state
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);

CREATE TABLE recovery_codes (
    code_hash  BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE sessions ADD COLUMN verified_at INTEGER;
