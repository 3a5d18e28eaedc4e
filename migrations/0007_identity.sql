-- doorstep schema 7: which doorstep the database belongs to. The issuer and
-- the profile URL (`me`) it was first served under, recorded at the first
-- start, so that a database restored or copied under other addresses is
-- noticed at start-up and by `doorstep doctor` instead of quietly mixing
-- two identities in token answers.

CREATE TABLE identity (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    issuer      TEXT    NOT NULL,
    me          TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
);
