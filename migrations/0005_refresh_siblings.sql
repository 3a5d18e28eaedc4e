-- The refresh token each one was rotated from. Successors of one token are
-- siblings: the first to be used wins and the others are spent at that
-- moment, so a replay inside the grace window can never fork a grant into
-- two live chains (REF-7, REF-8).
ALTER TABLE refresh_tokens ADD COLUMN parent_hash BLOB;
CREATE INDEX refresh_tokens_by_parent ON refresh_tokens (parent_hash) WHERE parent_hash IS NOT NULL;
