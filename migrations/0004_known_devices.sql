-- doorstep schema 4: browsers the owner has signed in from. A known device
-- is exempt from the global login cap (not from its address's lockout), so
-- a stranger failing logins from everywhere cannot keep the owner out.
-- Only the SHA-256 of the device cookie's secret is stored.

CREATE TABLE known_devices (
    secret_hash  BLOB PRIMARY KEY,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
